#!/usr/bin/env bash
# Runs every test: the Rust unit tests, then the integration suite, which starts the built
# gateway and the mock provider on 127.0.0.1 and drives them with the official OpenAI SDK
# (installed into .venv on first run).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${TEST_THREADS:-2}"
cargo build --bins
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --lib --bins --test-threads "$jobs"
else
  cargo test --lib --bins -- --test-threads "$jobs"
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import openai, httpx, pytest, opentelemetry.proto, grpc' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/integration/requirements.txt
fi
.venv/bin/python -m pytest tests/integration -q -p no:cacheprovider "$@"
