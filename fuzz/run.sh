#!/usr/bin/env bash
# Builds and runs one fuzz target (or all of them, one after another) for SECONDS each.
#   fuzz/run.sh TARGET SECONDS      fuzz/run.sh all SECONDS
# Corpora grow in fuzz/corpus/TARGET (gitignored), starting from fuzz/seeds/TARGET; a crash
# lands in fuzz/artifacts/TARGET and makes this exit non-zero. Logs go to fuzz/logs/.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); RUSTC_BOOTSTRAP lets its -Z flags run on stable.
# No sanitizer: the code is safe Rust, and panics, overflow checks (on in fuzz builds),
# -rss_limit_mb and -timeout catch what matters here, at twice the speed of ASan.
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1

TARGETS=(sse_splitter json_scan bedrock_eventstream stream_translators config_loader whole_responses)

max_len() {
  case "$1" in
    sse_splitter | bedrock_eventstream) echo 65536 ;;
    stream_translators) echo 32768 ;;
    json_scan | whole_responses) echo 16384 ;;
    config_loader) echo 8192 ;;
    *) echo "unknown target $1" >&2; exit 2 ;;
  esac
}

run_one() {
  local target=$1 seconds=$2
  max_len "$target" >/dev/null
  mkdir -p "corpus/$target" "logs"
  local log="logs/$target-$(date -u +%Y%m%dT%H%M%SZ).log"
  echo "== $target for ${seconds}s (log: fuzz/$log)"
  cargo fuzz build -s none "$target"
  local status=0
  cargo fuzz run -s none "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$target")" \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "INFO: seed corpus|INITED|DONE|panicked|deadly signal|Test unit written|out-of-memory|timeout after|stat::(number_of_executed_units|peak_rss_mb|new_units_added)" "$log" | tail -n 20 || true
  [ "$status" -eq 0 ] && echo "== $target: no crash" || echo "== $target: FAILED (exit $status), see fuzz/$log"
  return "$status"
}

[ $# -eq 2 ] || { echo "usage: $0 TARGET|all SECONDS" >&2; exit 2; }
if [ "$1" = all ]; then
  failed=()
  for t in "${TARGETS[@]}"; do run_one "$t" "$2" || failed+=("$t"); done
  [ ${#failed[@]} -eq 0 ] || { echo "crashed: ${failed[*]}" >&2; exit 1; }
else
  run_one "$1" "$2"
fi
