# Sourced by loadtest/run.sh once every target is measured: renders the tables and the dated
# section (into $TMP/section.md) from the results run.sh gathered in R[], RSS_* and the like.
# shellcheck shell=bash disable=SC2154

# ----------------------------------------------------------------- table --

added() { # target run field -> "+x.xxx"
  signed_ms $((R[$1.$2.$3] - R[direct.$2.$3]))
}

{
  echo "| target | req/s @64 conns | p50 / p99 @64 (ms) | p50 / p99 @1 conn (ms) | added p50 / p99 @1 conn vs direct (ms) | stream req/s @8 | stream TTFB median (ms) | stream total median (ms) | RSS idle / after (MiB) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for t in "${TARGETS[@]}"; do
    if [[ $t == direct ]]; then
      add="—" rss="—"
    else
      add="$(added "$t" c1 p50_us) / $(added "$t" c1 p99_us)"
      rss="$(mib "${RSS_IDLE[$t]}") / $(mib "${RSS_AFTER[$t]}")"
    fi
    printf '| %s | %.0f | %s / %s | %s / %s | %s | %.0f | %s | %s | %s |\n' "$t" \
      "${R[$t.c64.rps]}" "$(ms "${R[$t.c64.p50_us]}")" "$(ms "${R[$t.c64.p99_us]}")" \
      "$(ms "${R[$t.c1.p50_us]}")" "$(ms "${R[$t.c1.p99_us]}")" "$add" \
      "${R[$t.stream.rps]}" "$(ms "${R[$t.curl.ttfb_p50_us]}")" "$(ms "${R[$t.curl.total_p50_us]}")" "$rss"
  done
} >"$TMP/table.md"

{
  echo "| target | core $PROXY_CORE / core $LOAD_CORE busy @64 (%) | core $PROXY_CORE / core $LOAD_CORE busy stream @8 (%) | stream p50 / p99 @8 (ms, wrk) | TTFB median / p99 (ms, curl) | total median / p99 (ms, curl) | added TTFB / total median vs direct (ms) | paced stream total median / p99 (ms) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for t in "${TARGETS[@]}"; do
    if [[ $t == direct ]]; then
      add="—"
    else
      add="$(added "$t" curl ttfb_p50_us) / $(added "$t" curl total_p50_us)"
    fi
    printf '| %s | %s / %s | %s / %s | %s / %s | %s / %s | %s / %s | %s | %s / %s |\n' "$t" \
      "${R[$t.c64.busy_proxy]}" "${R[$t.c64.busy_load]}" "${R[$t.stream.busy_proxy]}" "${R[$t.stream.busy_load]}" \
      "$(ms "${R[$t.stream.p50_us]}")" "$(ms "${R[$t.stream.p99_us]}")" \
      "$(ms "${R[$t.curl.ttfb_p50_us]}")" "$(ms "${R[$t.curl.ttfb_p99_us]}")" \
      "$(ms "${R[$t.curl.total_p50_us]}")" "$(ms "${R[$t.curl.total_p99_us]}")" "$add" \
      "$(ms "${R[$t.paced.total_p50_us]}")" "$(ms "${R[$t.paced.total_p99_us]}")"
  done
} >"$TMP/stream-table.md"

# Server CPU per request over the bare Pingora proxy's, in µs ("—" for direct and the proxy itself).
cpu_over_bare() { # target run
  [[ $1 == direct || $1 == bare-pingora ]] && { echo "—"; return; }
  awk -v a="$(cpu_us_per_req "$1" "$2")" -v b="$(cpu_us_per_req bare-pingora "$2")" 'BEGIN { printf "%+.1f", a - b }'
}

{
  echo "| target | chat req/s | server CPU µs/req | over bare Pingora (µs/req) | p50 / p99 (ms) | stream req/s | server CPU µs/stream | over bare Pingora (µs/stream) | stream p50 / p99 (ms) | core $PROXY_CORE busy chat / stream (%) | server CPU µs/req @64 conns (saturated) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for t in "${TARGETS[@]}"; do
    label=$t
    [[ $t == direct ]] && label="direct (the mock's own CPU)"
    printf '| %s | %.0f | %s | %s | %s / %s | %.0f | %s | %s | %s / %s | %s / %s | %s |\n' "$label" \
      "${R[$t.rate_chat.rps]}" "$(cpu_us_per_req "$t" rate_chat)" "$(cpu_over_bare "$t" rate_chat)" \
      "$(ms "${R[$t.rate_chat.p50_us]}")" "$(ms "${R[$t.rate_chat.p99_us]}")" \
      "${R[$t.rate_stream.rps]}" "$(cpu_us_per_req "$t" rate_stream)" "$(cpu_over_bare "$t" rate_stream)" \
      "$(ms "${R[$t.rate_stream.p50_us]}")" "$(ms "${R[$t.rate_stream.p99_us]}")" \
      "${R[$t.rate_chat.busy_proxy]}" "${R[$t.rate_stream.busy_proxy]}" "$(cpu_us_per_req "$t" c64)"
  done
} >"$TMP/rate-table.md"

NGINX_VERSION=$({ "$NGINX" -v 2>&1 || true; } | head -n1)
WRK_VERSION=$({ wrk -v 2>&1 || true; } | head -n1 | sed 's/ *Copyright.*//')
RUSTC_VERSION=$(rustc --version 2>/dev/null || echo "rustc: unknown")
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock loadtest/mock 2>/dev/null) ]]; then
  REV="$REV (with uncommitted changes in src/, Cargo.* or loadtest/mock/)"
fi
PACED_EXPECTED=$(((STREAM_CHUNKS + 2) * PACED_DELAY_MS))

{
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — $REV"
  echo
  echo "- command: \`$COMMAND\`"
  echo "- commit: \`$REV\`, nproc: $(nproc), $(uname -sr)"
  echo "- versions: $NGINX_VERSION; $WRK_VERSION; $RUSTC_VERSION"
  echo "- pinning: Tollgate (Pingora \`threads: 1\`; $TOLLGATE_THREADS OS threads in all, cpu $TOLLGATE_AFFINITY), the bare Pingora proxy (\`threads: 1\`; $BARE_THREADS OS threads, cpu $BARE_AFFINITY) and nginx (1 worker, cpu $NGINX_AFFINITY) on core $PROXY_CORE; mock (1 thread) and wrk/curl on core $LOAD_CORE"
  other_line="" steal_line=""
  for t in "${TARGETS[@]}"; do
    other_line+="${other_line:+, }$t ${OTHER_PCT[$t]}"
    steal_line+="${steal_line:+ / }${STEAL_PCT[$t]}"
  done
  echo "- CPU used by other processes during each target's runs (% of one core): $other_line; steal: $steal_line"
  [[ -z $BUSY_NOTE ]] || echo "- **WARNING: the machine was busy with other work during:${BUSY_NOTE%;}; those rows are not comparable**"
  echo "- request: $BODY_BYTES-byte non-stream chat body; stream: same body with \`\"stream\": true, \"mock\": {\"chunks\": $STREAM_CHUNKS}\` ($((STREAM_CHUNKS + 2)) events + \`[DONE]\`); wrk runs of ${DURATION} s after a ${WARMUP} s warm-up at $CONNS conns; curl: $CURL_N sequential requests, new connection each (p99 of $CURL_N is nearest rank)"
  echo
  cat "$TMP/table.md"
  echo
  echo "Detail. Core busy: share of each core not idle during the wrk run (the proxy's core $PROXY_CORE at ~100% means the proxy is the bottleneck; core $LOAD_CORE holds the mock and wrk). Paced stream: $PACED_N sequential curl requests with \`chunk_delay_ms: $PACED_DELAY_MS\`; $((STREAM_CHUNKS + 2)) gaps of $PACED_DELAY_MS ms = $PACED_EXPECTED ms plus the mock's timer rounding, about 1 ms a gap; what matters is the difference to direct: a per-chunk stall such as Nagle/delayed ACK would add up to tens of ms per event."
  echo
  cat "$TMP/stream-table.md"
  echo
  echo "Fixed offered rate: the same load for every target, well below each one's saturation: $RATE_CONNS connections, each waiting $RATE_DELAY_MS ms before every request (wrk's \`delay()\`), about $((RATE_CONNS * 1000 / RATE_DELAY_MS)) req/s offered, ${DURATION} s per run, non-stream chat and the $((STREAM_CHUNKS + 2))-event stream. Server CPU: utime+stime of all threads of the server process(es) (nginx master + worker; for direct, the mock) from \`/proc/PID/task/*/schedstat\` over the run, divided by the requests completed. Latency excludes the delay. Last column: the same from the 64-connection run, for reference."
  echo
  cat "$TMP/rate-table.md"
  echo
} >"$TMP/section.md"

