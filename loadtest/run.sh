#!/usr/bin/env bash
# Load test: Tollgate vs. a plain nginx proxy_pass hop vs. a bare Pingora proxy
# vs. the mock provider called directly, all on loopback, every run of fixed
# duration. Besides req/s at saturation it measures each server's CPU time per
# request at a fixed offered rate (the figure that does not flatter a heavy
# proxy when the load generator saturates first).
#
#   loadtest/run.sh                 # DURATION=10 s per wrk run (~4 min in all)
#   DURATION=5 loadtest/run.sh      # shorter runs
#
# Environment:
#   DURATION     seconds of each measured wrk run (default 10)
#   WARMUP       seconds of the unrecorded warm-up run per target (default 2)
#   CURL_N       sequential curl requests for stream TTFB/total (default 50)
#   PACED_N      sequential curl requests of the paced stream (default 20)
#   RATE_CONNS, RATE_DELAY_MS  the fixed-rate runs: RATE_CONNS connections, each
#                waiting RATE_DELAY_MS before every request (default 20 x 10 ms,
#                about 2000 req/s offered)
#   QUIET_WAIT   seconds, in all, to wait for other work on the machine (a
#                cargo build...) to stop before a target is measured (default 120)
#   RETRIES      targets measured again, in all, when other processes used more
#                than 10% of a core during their runs (default 1)
#   SKIP_BUILD=1 use the binaries already in target/release
#   NO_RESULTS=1 print the table but do not append it to loadtest/RESULTS.md
#   NGINX_PORT, TOLLGATE_PORT, BARE_PORT  first ports to try (default 18480,
#                18481, 18482); the mock picks a free port itself
#
# Pinning (2 cores): Tollgate, the bare Pingora proxy and nginx on core 0 (the
# proxy under test has a core to itself), the mock and wrk/curl on core 1. See
# loadtest/README.md.
#
# Traffic goes only to 127.0.0.1. Everything started here is stopped on exit.

set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CURL_N=${CURL_N:-50}
PACED_N=${PACED_N:-20}
PACED_DELAY_MS=5
RATE_CONNS=${RATE_CONNS:-20}
RATE_DELAY_MS=${RATE_DELAY_MS:-10}
STREAM_CHUNKS=20
CONNS=64
STREAM_CONNS=8
MASTER_KEY=sk-load

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release
COMMAND="DURATION=$DURATION WARMUP=$WARMUP CURL_N=$CURL_N PACED_N=$PACED_N RATE_CONNS=$RATE_CONNS RATE_DELAY_MS=$RATE_DELAY_MS loadtest/run.sh"

log() { printf '[loadtest] %s\n' "$*" >&2; }
die() { printf '[loadtest] FAILED: %s\n' "$*" >&2; exit 1; }

for v in DURATION WARMUP CURL_N PACED_N RATE_CONNS RATE_DELAY_MS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((DURATION >= 1)) || die "DURATION must be at least 1"
((CURL_N >= 1 && PACED_N >= 1)) || die "CURL_N and PACED_N must be at least 1"
((RATE_CONNS >= 1 && RATE_DELAY_MS >= 1)) || die "RATE_CONNS and RATE_DELAY_MS must be at least 1"

# ---------------------------------------------------------------- processes --

TMP=$(mktemp -d /tmp/tollgate-loadtest.XXXXXX)
PIDS=()   # everything started in the background, stopped by cleanup

stop_pid() { # pid signal
  local pid=$1 sig=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for i in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local entry
  for entry in "${PIDS[@]}"; do
    stop_pid "${entry%%:*}" "${entry##*:}"
  done
  wait 2>/dev/null || true
  if ((rc != 0)) && [[ -d $TMP ]]; then
    local f
    for f in "$TMP"/*.log; do
      [[ -s $f ]] || continue
      log "--- last lines of $(basename "$f") ---"
      tail -n 15 "$f" >&2 || true
    done
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------- tools --

need_install=()
command -v wrk >/dev/null || need_install+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need_install+=(nginx)
command -v taskset >/dev/null || need_install+=(util-linux)
command -v curl >/dev/null || need_install+=(curl)
command -v pgrep >/dev/null || need_install+=(procps)
command -v redis-server >/dev/null || need_install+=(redis-server)
if ((${#need_install[@]})); then
  ((EUID == 0)) || die "missing tools (${need_install[*]}); install them: apt-get install -y wrk nginx-light util-linux curl procps"
  log "installing ${need_install[*]}"
  apt-get update -qq
  pkgs=("${need_install[@]/#nginx/nginx-light}")
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_install[@]}"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if (($(nproc) >= 2)); then
  PROXY_CORE=0 LOAD_CORE=1
else
  log "WARNING: one core only: everything shares core 0, numbers are not comparable"
  PROXY_CORE=0 LOAD_CORE=0
fi
# Servers are started with a plain `taskset ... &` (not through a function), so
# that $! is the server's own pid (taskset execs it) and RSS/kill hit it.
on_load_core() { taskset -c "$LOAD_CORE" "$@"; }

# ------------------------------------------------------------------- build --

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  log "cargo build --release --bins"
  (cd "$ROOT" && cargo build --release --bins) || die "release build failed"
fi
[[ -x $BIN/tollgate ]] || die "$BIN/tollgate not built"
[[ -x $BIN/tollgate-mock ]] || die "$BIN/tollgate-mock not built"
[[ -x $BIN/tollgate-bare-proxy ]] || die "$BIN/tollgate-bare-proxy not built"

# ------------------------------------------------------------ request bodies --

# ~1 KB chat request; the same bytes go to every target.
filler="You are a careful assistant. Answer briefly and cite the source of every claim."
user_text="Summarise the following notes in three bullet points."
for _ in 1 2 3 4 5 6 7 8 9 10; do
  user_text+=" The quarterly report shows steady growth in every region."
done
chat_body() { # extra top-level fields (JSON fragment, may be empty)
  printf '{"model":"bench","messages":[{"role":"system","content":"%s"},{"role":"user","content":"%s"}],"temperature":0.2,"max_tokens":256,"user":"loadtest"%s}' \
    "$filler" "$user_text" "$1"
}
chat_body "" >"$TMP/chat.json"
chat_body ",\"stream\":true,\"mock\":{\"chunks\":$STREAM_CHUNKS}" >"$TMP/stream.json"
chat_body ",\"stream\":true,\"mock\":{\"chunks\":$STREAM_CHUNKS,\"chunk_delay_ms\":$PACED_DELAY_MS}" >"$TMP/paced.json"
BODY_BYTES=$(wc -c <"$TMP/chat.json")

# --------------------------------------------------------------- servers --

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # first free loopback port from $1 up
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

wait_http() { # url name pid: until 200, 15 s at most
  local url=$1 name=$2 pid=$3 i
  for i in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || die "$name exited during start-up"
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true) == 200 ]]; then
      return 0
    fi
    sleep 0.1
  done
  die "$name did not answer 200 on $url within 15 s"
}

render() { # template -> output, replacing @TMP@ @MOCK_PORT@ @NGINX_PORT@ @USER_LINE@ @EXTRA_TEMP_PATHS@
  sed -e "s|@TMP@|$TMP|g" -e "s|@MOCK_PORT@|$MOCK_PORT|g" -e "s|@NGINX_PORT@|$NGINX_PORT|g" \
    -e "s|@USER_LINE@|$USER_LINE|g" -e "s|@EXTRA_TEMP_PATHS@|$EXTRA_TEMP_PATHS|g" "$1" >"$2"
}

# The mock: core 1, one thread, no recording; it picks its own port.
taskset -c "$LOAD_CORE" "$BIN/tollgate-mock" --host 127.0.0.1 --port 0 --threads 1 --no-record \
  >"$TMP/mock.log" 2>&1 &
MOCK_PID=$!
PIDS+=("$MOCK_PID:TERM")
for _ in $(seq 100); do
  grep -q '^listening on ' "$TMP/mock.log" 2>/dev/null && break
  kill -0 "$MOCK_PID" 2>/dev/null || die "the mock exited during start-up"
  sleep 0.1
done
MOCK_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$TMP/mock.log" | head -n1)
[[ -n $MOCK_PORT ]] || die "the mock did not print its port"
wait_http "http://127.0.0.1:$MOCK_PORT/__mock/health" mock "$MOCK_PID"

NGINX_PORT=$(free_port "${NGINX_PORT:-18480}")
TOLLGATE_PORT=$(free_port "${TOLLGATE_PORT:-$((NGINX_PORT + 1))}")
((TOLLGATE_PORT != NGINX_PORT)) || TOLLGATE_PORT=$(free_port $((NGINX_PORT + 1)))
BARE_PORT=$(free_port "${BARE_PORT:-$((TOLLGATE_PORT + 1))}")
while ((BARE_PORT == NGINX_PORT || BARE_PORT == TOLLGATE_PORT)); do
  BARE_PORT=$(free_port $((BARE_PORT + 1)))
done

# nginx: core 0, one worker, foreground master.
USER_LINE=""
((EUID == 0)) && USER_LINE="user root;"
EXTRA_TEMP_PATHS=""
nginx_build=$("$NGINX" -V 2>&1)
for m in fastcgi uwsgi scgi; do
  [[ $nginx_build == *"--without-http_${m}_module"* ]] ||
    EXTRA_TEMP_PATHS+="    ${m}_temp_path $TMP/nginx-$m;\\n"
done
render "$HERE/configs/nginx.conf.in" "$TMP/nginx.conf"
"$NGINX" -t -q -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" >"$TMP/nginx-test.log" 2>&1 ||
  { cat "$TMP/nginx-test.log" >&2; die "nginx -t rejected the config"; }
taskset -c "$PROXY_CORE" "$NGINX" -p "$TMP" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" \
  >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID:TERM")
wait_http "http://127.0.0.1:$NGINX_PORT/__mock/health" nginx "$NGINX_PID"

# Tollgate: core 0, one Pingora worker thread.
render "$HERE/configs/tollgate.yaml.in" "$TMP/tollgate.yaml"
render "$HERE/configs/pingora.yaml.in" "$TMP/pingora.yaml"
TOLLGATE_DB_PATH="$TMP/tollgate.db" RUST_LOG=${RUST_LOG:-warn} taskset -c "$PROXY_CORE" "$BIN/tollgate" --config "$TMP/tollgate.yaml" \
  --port "$TOLLGATE_PORT" --host 127.0.0.1 -c "$TMP/pingora.yaml" >"$TMP/tollgate.log" 2>&1 &
TOLLGATE_PID=$!
PIDS+=("$TOLLGATE_PID:INT") # SIGTERM is Pingora's graceful shutdown; SIGINT is the fast one
wait_http "http://127.0.0.1:$TOLLGATE_PORT/health/liveliness" tollgate "$TOLLGATE_PID"

# The bare Pingora proxy: core 0, one worker thread, every request to the mock.
render "$HERE/configs/bare-pingora.yaml.in" "$TMP/bare-pingora.yaml"
RUST_LOG=${RUST_LOG:-warn} taskset -c "$PROXY_CORE" "$BIN/tollgate-bare-proxy" \
  --listen "127.0.0.1:$BARE_PORT" --upstream "127.0.0.1:$MOCK_PORT" -c "$TMP/bare-pingora.yaml" \
  >"$TMP/bare-pingora.log" 2>&1 &
BARE_PID=$!
PIDS+=("$BARE_PID:INT")
wait_http "http://127.0.0.1:$BARE_PORT/__mock/health" bare-pingora "$BARE_PID"

# Redis for the shared limits (core 1, beside the mock), and two more gateways on core 0: one
# counting its limits on that Redis, one answering from its response cache; and one exporting
# OpenTelemetry traces to a collector that is down (a closed port, nothing listens there).
REDIS_PORT=$(free_port $((BARE_PORT + 1)))
taskset -c "$LOAD_CORE" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
  --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=("$REDIS_PID:TERM")
start_extra_gateway() { # name config_template -> sets EXTRA_PORT, EXTRA_PID
  EXTRA_PORT=$(free_port $((REDIS_PORT + 1 + ${#PIDS[@]})))
  sed -e "s|@MOCK_PORT@|$MOCK_PORT|g" -e "s|@REDIS_PORT@|$REDIS_PORT|g" \
    -e "s|@CLOSED_PORT@|${CLOSED_PORT:-9}|g" "$2" >"$TMP/$1.yaml"
  TOLLGATE_DB_PATH="$TMP/$1.db" RUST_LOG=${RUST_LOG:-warn} taskset -c "$PROXY_CORE" "$BIN/tollgate" \
    --config "$TMP/$1.yaml" --port "$EXTRA_PORT" --host 127.0.0.1 -c "$TMP/pingora.yaml" \
    >"$TMP/$1.log" 2>&1 &
  EXTRA_PID=$!
  PIDS+=("$EXTRA_PID:INT")
  wait_http "http://127.0.0.1:$EXTRA_PORT/health/liveliness" "$1" "$EXTRA_PID"
}
start_extra_gateway tollgate-redis "$HERE/configs/tollgate-redis.yaml.in"
REDIS_GW_PORT=$EXTRA_PORT REDIS_GW_PID=$EXTRA_PID
start_extra_gateway tollgate-cache "$HERE/configs/tollgate-cache.yaml.in"
CACHE_GW_PORT=$EXTRA_PORT CACHE_GW_PID=$EXTRA_PID
CLOSED_PORT=$(free_port $((REDIS_PORT + 100)))
start_extra_gateway tollgate-otel-down "$HERE/configs/tollgate-otel-down.yaml.in"
OTEL_GW_PORT=$EXTRA_PORT OTEL_GW_PID=$EXTRA_PID

# $! must be the server itself (RSS is read from it, and it is what gets stopped).
for entry in "mock:$MOCK_PID:tollgate-mock" "nginx:$NGINX_PID:nginx" "tollgate:$TOLLGATE_PID:tollgate" \
  "bare-pingora:$BARE_PID:tollgate-bare-proxy" "tollgate-redis:$REDIS_GW_PID:tollgate" \
  "tollgate-cache:$CACHE_GW_PID:tollgate" "tollgate-otel-down:$OTEL_GW_PID:tollgate"; do
  IFS=: read -r name pid exe <<<"$entry"
  [[ $(readlink "/proc/$pid/exe" || true) == */"$exe" ]] ||
    die "pid $pid is not $name ($(readlink "/proc/$pid/exe" || true))"
done
TOLLGATE_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$TOLLGATE_PID/status")
TOLLGATE_AFFINITY=$(taskset -pc "$TOLLGATE_PID" | sed 's/.*: //')
NGINX_AFFINITY=$(taskset -pc "$(pgrep -P "$NGINX_PID" | head -n1)" | sed 's/.*: //')
BARE_THREADS=$(awk '/^Threads:/ {print $2}' "/proc/$BARE_PID/status")
BARE_AFFINITY=$(taskset -pc "$BARE_PID" | sed 's/.*: //')
log "tollgate pid $TOLLGATE_PID: $TOLLGATE_THREADS OS threads on cpu $TOLLGATE_AFFINITY; bare pingora pid $BARE_PID: $BARE_THREADS OS threads on cpu $BARE_AFFINITY; nginx worker on cpu $NGINX_AFFINITY"

# tollgate-key: the same gateway called with a virtual key (auth from the in-memory directory,
# a budget hold and settlement, a spend row queued and flushed) instead of the master key.
# tollgate-limits: a virtual key with rpm, tpm and max_parallel_requests limits (too high to
# refuse), counted in the gateway's memory; tollgate-redis: the same on the gateway that counts
# them on Redis (one script per call; Redis's own CPU is not in the server column);
# tollgate-cache: the master key on a gateway with the local response cache, every request a hit;
# tollgate-otel-down: the master key on a gateway with the otel callback and its collector down.
TARGETS=(direct nginx bare-pingora tollgate tollgate-key tollgate-limits tollgate-redis tollgate-cache tollgate-otel-down)
declare -A URL AUTH
URL[direct]="http://127.0.0.1:$MOCK_PORT/v1/chat/completions"
URL[nginx]="http://127.0.0.1:$NGINX_PORT/v1/chat/completions"
URL[bare-pingora]="http://127.0.0.1:$BARE_PORT/v1/chat/completions"
URL[tollgate]="http://127.0.0.1:$TOLLGATE_PORT/v1/chat/completions"
URL[tollgate-key]=${URL[tollgate]}
URL[tollgate-limits]=${URL[tollgate]}
URL[tollgate-redis]="http://127.0.0.1:$REDIS_GW_PORT/v1/chat/completions"
URL[tollgate-cache]="http://127.0.0.1:$CACHE_GW_PORT/v1/chat/completions"
URL[tollgate-otel-down]="http://127.0.0.1:$OTEL_GW_PORT/v1/chat/completions"
# The same header everywhere (the mock, nginx and the bare proxy ignore it), so
# every target gets byte-identical requests; only Tollgate checks it.
for t in "${TARGETS[@]}"; do AUTH[$t]=$MASTER_KEY; done
new_key() { # port key-fields-json
  curl -sS --max-time 10 -H "Authorization: Bearer $MASTER_KEY" -H 'Content-Type: application/json' \
    -d "$2" "http://127.0.0.1:$1/key/generate" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' || die "could not generate a virtual key"
}
LIMITED='{"models": ["bench"], "max_budget": 1000000000, "rpm_limit": 100000000, "tpm_limit": 100000000000, "max_parallel_requests": 100000}'
AUTH[tollgate-key]=$(new_key "$TOLLGATE_PORT" '{"models": ["bench"], "max_budget": 1000000000}')
AUTH[tollgate-limits]=$(new_key "$TOLLGATE_PORT" "$LIMITED")
AUTH[tollgate-redis]=$(new_key "$REDIS_GW_PORT" "$LIMITED")

# ------------------------------------------------------------------- RSS --

rss_kb() { # pid...: summed VmRSS in kB
  local total=0 pid kb
  for pid in "$@"; do
    kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}
nginx_pids() { echo "$NGINX_PID" $(pgrep -P "$NGINX_PID" || true); }
(($(pgrep -P "$NGINX_PID" | wc -l) == 1)) || die "expected exactly one nginx worker"

declare -A RSS_IDLE RSS_AFTER
RSS_IDLE[tollgate]=$(rss_kb "$TOLLGATE_PID")
RSS_IDLE[tollgate-key]=${RSS_IDLE[tollgate]}
RSS_IDLE[tollgate-limits]=${RSS_IDLE[tollgate]}
RSS_IDLE[tollgate-redis]=$(rss_kb "$REDIS_GW_PID")
RSS_IDLE[tollgate-cache]=$(rss_kb "$CACHE_GW_PID")
RSS_IDLE[tollgate-otel-down]=$(rss_kb "$OTEL_GW_PID")
RSS_IDLE[nginx]=$(rss_kb $(nginx_pids))
RSS_IDLE[bare-pingora]=$(rss_kb "$BARE_PID")

# ---------------------------------------------------------- sanity checks --

curl_post() { # url auth body_file [curl args...]
  local url=$1 auth=$2 body=$3
  shift 3
  curl -sS --max-time 10 -H 'Content-Type: application/json' -H "Authorization: Bearer $auth" \
    --data-binary "@$body" "$@" "$url"
}

for t in "${TARGETS[@]}"; do
  out=$(curl_post "${URL[$t]}" "${AUTH[$t]}" "$TMP/chat.json" -w '\n%{http_code}') ||
    die "$t: chat request failed"
  code=${out##*$'\n'}
  [[ $code == 200 && $out == *'"chat.completion"'* ]] ||
    die "$t: chat request answered $code: ${out:0:300}"
  out=$(curl_post "${URL[$t]}" "${AUTH[$t]}" "$TMP/stream.json" -N -w '\n%{http_code}') ||
    die "$t: stream request failed"
  code=${out##*$'\n'}
  events=$(grep -c '^data: {' <<<"$out" || true)
  # role event + STREAM_CHUNKS content events + the finish event, then [DONE]
  [[ $code == 200 && $events == $((STREAM_CHUNKS + 2)) && $out == *'data: [DONE]'* ]] ||
    die "$t: stream answered $code with $events events (want $((STREAM_CHUNKS + 2)) and [DONE]): ${out:0:300}"
done
log "sanity checks passed (chat body $BODY_BYTES bytes)"

# ------------------------------------------------------------------- wrk --

declare -A R # R[target.run.field]

# "busy idle" jiffies of each core, one line per core
core_times() { awk '/^cpu[0-9]/ { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
core_busy_pct() { # before after core -> busy % of that core between the two samples
  paste -d' ' <(printf '%s\n' "$1") <(printf '%s\n' "$2") |
    awk -v c="$3" 'NR == c + 1 { b = $3 - $1; i = $4 - $2; printf "%d", (b + i > 0) ? 100 * b / (b + i) : 0 }'
}

# The processes that serve a target's requests: the mock for direct, the proxy otherwise.
server_pids() { # target
  case $1 in
    direct) echo "$MOCK_PID" ;;
    nginx) nginx_pids ;;
    bare-pingora) echo "$BARE_PID" ;;
    tollgate | tollgate-key | tollgate-limits) echo "$TOLLGATE_PID" ;;
    tollgate-redis) echo "$REDIS_GW_PID" ;;
    tollgate-cache) echo "$CACHE_GW_PID" ;;
    tollgate-otel-down) echo "$OTEL_GW_PID" ;;
    *) die "unknown target $1" ;;
  esac
}
# CPU time (ns) that all threads of a target's server processes have run so far:
# the first field of /proc/PID/task/TID/schedstat (ns resolution, unlike the
# clock ticks of /proc/PID/stat). The servers' threads live as long as they do.
server_cpu_ns() { # target
  local pid files=()
  for pid in $(server_pids "$1"); do
    files+=(/proc/"$pid"/task/*/schedstat)
  done
  awk '{ s += $1 } END { printf "%.0f", s }' "${files[@]}"
}
# CPU µs per request from a run's server CPU time and its completed requests.
cpu_us_per_req() { # target run
  awk -v ns="${R[$1.$2.cpu_ns]}" -v n="${R[$1.$2.requests]}" 'BEGIN { printf "%.1f", ns / n / 1000 }'
}

run_wrk() { # target run conns body_file duration [delay_ms before each request]
  local t=$1 run=$2 conns=$3 body=$4 dur=$5 delay_ms=${6:-0} out line kv errs c0 c1 cpu0 cpu1
  c0=$(core_times) cpu0=$(server_cpu_ns "$t")
  out=$(LT_BODY_FILE=$body LT_AUTH=${AUTH[$t]} LT_DELAY_MS=$delay_ms on_load_core wrk -t1 "-c$conns" \
    "-d${dur}s" --timeout 5s --latency -s "$HERE/request.lua" "${URL[$t]}" 2>&1) ||
    { printf '%s\n' "$out" >&2; die "$t/$run: wrk failed"; }
  cpu1=$(server_cpu_ns "$t") c1=$(core_times)
  R[$t.$run.cpu_ns]=$((cpu1 - cpu0))
  R[$t.$run.busy_proxy]=$(core_busy_pct "$c0" "$c1" "$PROXY_CORE")
  R[$t.$run.busy_load]=$(core_busy_pct "$c0" "$c1" "$LOAD_CORE")
  line=$(grep '^LT_RESULT ' <<<"$out" || true)
  [[ -n $line ]] || { printf '%s\n' "$out" >&2; die "$t/$run: no result line from wrk"; }
  for kv in ${line#LT_RESULT }; do
    R[$t.$run.${kv%%=*}]=${kv#*=}
  done
  errs=$((R[$t.$run.err_connect] + R[$t.$run.err_read] + R[$t.$run.err_write] +
    R[$t.$run.err_status] + R[$t.$run.err_timeout]))
  if ((errs > 0 || R[$t.$run.requests] == 0)); then
    printf '%s\n' "$out" >&2
    die "$t/$run: ${R[$t.$run.requests]} requests, $errs failed (non-2xx/3xx ${R[$t.$run.err_status]}, connect ${R[$t.$run.err_connect]}, read ${R[$t.$run.err_read]}, write ${R[$t.$run.err_write]}, timeout ${R[$t.$run.err_timeout]})"
  fi
  log "$(printf '%-12s %-11s %9s req/s  p50 %6s ms  p99 %6s ms  server CPU %6s µs/req  (%s requests; busy: core %s %s%%, core %s %s%%)' \
    "$t" "$run" "${R[$t.$run.rps]}" "$(ms "${R[$t.$run.p50_us]}")" "$(ms "${R[$t.$run.p99_us]}")" \
    "$(cpu_us_per_req "$t" "$run")" "${R[$t.$run.requests]}" \
    "$PROXY_CORE" "${R[$t.$run.busy_proxy]}" "$LOAD_CORE" "${R[$t.$run.busy_load]}")"
}

ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
signed_ms() { awk -v us="$1" 'BEGIN { printf "%+.3f", us / 1000 }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

# curl over CURL_N sequential requests (a new connection each, like a fresh
# client): median and p99 (nearest rank) of TTFB and total, in µs.
run_curl() { # target run body_file n
  local t=$1 run=$2 body=$3 n=$4 i line code
  : >"$TMP/curl.$t.$run"
  for ((i = 0; i < n; i++)); do
    line=$(on_load_core curl -sS -N -o /dev/null --max-time 10 -H 'Content-Type: application/json' \
      -H "Authorization: Bearer ${AUTH[$t]}" --data-binary "@$body" \
      -w '%{http_code} %{time_starttransfer} %{time_total}' "${URL[$t]}") ||
      die "$t/$run: curl request $i failed"
    code=${line%% *}
    [[ $code == 200 ]] || die "$t/$run: curl request $i answered $code"
    printf '%s\n' "${line#* }" >>"$TMP/curl.$t.$run"
  done
  local col name
  for col in 1 2; do
    name=$([[ $col == 1 ]] && echo ttfb || echo total)
    read -r "R[$t.$run.${name}_p50_us]" "R[$t.$run.${name}_p99_us]" < <(
      awk -v c="$col" '{ print int($c * 1e6 + 0.5) }' "$TMP/curl.$t.$run" | sort -n |
        awk '{ v[NR] = $1 } END {
          i50 = int((NR * 50 + 99) / 100); i99 = int((NR * 99 + 99) / 100)
          print v[i50 < 1 ? 1 : i50], v[i99 < 1 ? 1 : i99] }')
  done
  log "$(printf '%-12s %-11s TTFB median %s ms p99 %s ms, total median %s ms p99 %s ms (%d requests)' "$t" "$run" \
    "$(ms "${R[$t.$run.ttfb_p50_us]}")" "$(ms "${R[$t.$run.ttfb_p99_us]}")" \
    "$(ms "${R[$t.$run.total_p50_us]}")" "$(ms "${R[$t.$run.total_p99_us]}")" "$n")"
}

# ------------------------------------------------------------ other load --
# The machine may be shared (e.g. a cargo build): on 2 cores that would skew
# everything. Wait a while for it to be quiet, and measure during the runs how
# much CPU went to processes other than the ones this script runs.

cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; } # user nice system irq softirq
cpu_steal() { awk '/^cpu / { print $9 }' /proc/stat; }
proc_ticks() { # pid [children]: utime+stime (+cutime+cstime), in clock ticks
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  read -r -a f <<<"${s##*) }" # f[0] is field 3 (state)
  if [[ ${2:-} == children ]]; then
    echo $((f[11] + f[12] + f[13] + f[14]))
  else
    echo $((f[11] + f[12]))
  fi
}
our_ticks() {
  local total=0 pid
  for pid in "$MOCK_PID" $(nginx_pids) "$TOLLGATE_PID" "$BARE_PID" "$REDIS_PID" "$REDIS_GW_PID" "$CACHE_GW_PID" "$OTEL_GW_PID"; do
    total=$((total + $(proc_ticks "$pid")))
  done
  echo $((total + $(proc_ticks $$ children)))
}
HZ=$(getconf CLK_TCK)

QUIET_WAIT=${QUIET_WAIT:-120} # seconds, in all, to wait for other work to stop
RETRIES=${RETRIES:-1}         # targets measured again, in all, if other work disturbed them
quiet_left=$QUIET_WAIT
wait_quiet() {
  local other b0 o0 first=1
  while :; do
    b0=$(cpu_busy) o0=$(our_ticks)
    sleep 1
    other=$(($(cpu_busy) - b0 - ($(our_ticks) - o0)))
    # at most 10% of one core busy elsewhere
    ((other * 100 <= HZ * 10)) && return 0
    if ((quiet_left <= 0)); then
      log "WARNING: the machine is busy ($((other * 100 / HZ))% of a core in other processes); measuring anyway"
      return 0
    fi
    ((first)) && log "the machine is busy ($((other * 100 / HZ))% of a core in other processes); waiting up to ${quiet_left} s for it to settle"
    first=0
    quiet_left=$((quiet_left - 1))
  done
}

declare -A OTHER_PCT STEAL_PCT
started=$SECONDS
for t in "${TARGETS[@]}"; do
  while :; do
    wait_quiet
    log "== $t: ${URL[$t]}"
    b0=$(cpu_busy) o0=$(our_ticks) s0=$(cpu_steal) w0=$(date +%s%N)
    run_wrk "$t" warmup "$CONNS" "$TMP/chat.json" "$WARMUP"
    run_wrk "$t" c64 "$CONNS" "$TMP/chat.json" "$DURATION"
    run_wrk "$t" c1 1 "$TMP/chat.json" "$DURATION"
    run_wrk "$t" stream "$STREAM_CONNS" "$TMP/stream.json" "$DURATION"
    run_curl "$t" curl "$TMP/stream.json" "$CURL_N"
    run_curl "$t" paced "$TMP/paced.json" "$PACED_N"
    run_wrk "$t" rate_chat "$RATE_CONNS" "$TMP/chat.json" "$DURATION" "$RATE_DELAY_MS"
    run_wrk "$t" rate_stream "$RATE_CONNS" "$TMP/stream.json" "$DURATION" "$RATE_DELAY_MS"
    wall_ticks=$((($(date +%s%N) - w0) * HZ / 1000000000))
    ((wall_ticks > 0)) || wall_ticks=1
    other=$(($(cpu_busy) - b0 - ($(our_ticks) - o0)))
    ((other > 0)) || { ((other > -wall_ticks / 20)) || log "note: CPU accounting is off by $((-other)) ticks"; other=0; }
    OTHER_PCT[$t]=$((other * 100 / wall_ticks))
    STEAL_PCT[$t]=$((($(cpu_steal) - s0) * 100 / wall_ticks))
    log "$t: other processes used ${OTHER_PCT[$t]}% of one core meanwhile, steal ${STEAL_PCT[$t]}%"
    ((OTHER_PCT[$t] > 10 && RETRIES > 0)) || break
    RETRIES=$((RETRIES - 1))
    log "$t: disturbed by other work; measuring it again"
  done
done
log "load runs took $((SECONDS - started)) s"
BUSY_NOTE=""
for t in "${TARGETS[@]}"; do
  ((OTHER_PCT[$t] <= 10)) || BUSY_NOTE+=" $t: ${OTHER_PCT[$t]}%;"
done

kill -0 "$TOLLGATE_PID" 2>/dev/null || die "tollgate died during the run"
kill -0 "$REDIS_GW_PID" 2>/dev/null || die "tollgate-redis died during the run"
kill -0 "$CACHE_GW_PID" 2>/dev/null || die "tollgate-cache died during the run"
kill -0 "$OTEL_GW_PID" 2>/dev/null || die "tollgate-otel-down died during the run"
kill -0 "$NGINX_PID" 2>/dev/null || die "nginx died during the run"
kill -0 "$BARE_PID" 2>/dev/null || die "the bare pingora proxy died during the run"
RSS_AFTER[tollgate]=$(rss_kb "$TOLLGATE_PID")
RSS_AFTER[tollgate-key]=${RSS_AFTER[tollgate]}
RSS_AFTER[tollgate-limits]=${RSS_AFTER[tollgate]}
RSS_AFTER[tollgate-redis]=$(rss_kb "$REDIS_GW_PID")
RSS_AFTER[tollgate-cache]=$(rss_kb "$CACHE_GW_PID")
RSS_AFTER[tollgate-otel-down]=$(rss_kb "$OTEL_GW_PID")
RSS_AFTER[nginx]=$(rss_kb $(nginx_pids))
RSS_AFTER[bare-pingora]=$(rss_kb "$BARE_PID")

# ----------------------------------------------------------------- report --

source "$HERE/report.sh"

echo
cat "$TMP/section.md"

if [[ ${NO_RESULTS:-0} != 1 ]]; then
  RESULTS=$HERE/RESULTS.md
  if [[ ! -s $RESULTS ]]; then
    {
      echo "# Load-test results"
      echo
      echo "Appended by \`loadtest/run.sh\`; see \`loadtest/README.md\` for what each column means."
      echo
    } >"$RESULTS"
  fi
  cat "$TMP/section.md" >>"$RESULTS"
  log "appended to loadtest/RESULTS.md"
fi
