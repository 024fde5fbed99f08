#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS seconds each (default 20: the bounded CI run; a longer
# run: `scripts/fuzz.sh 3600`). Needs the nightly toolchain (libFuzzer's instrumentation) and
# cargo-fuzz, which it installs from crates.io when missing. Corpora stay in fuzz/corpus between
# runs; a crash leaves its input in fuzz/artifacts/<target>/ and fails the script.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH="${1:-20}"

if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal >/dev/null 2>&1 || {
    echo "fuzz: no nightly toolchain on this machine and none can be installed" >&2
    exit 1
  }
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

TARGET_DIR="${FUZZ_TARGET_DIR:-$HOME/.cache/trace-family/fuzz-target}"
cargo +nightly fuzz build --target-dir "$TARGET_DIR"
for t in $(cargo +nightly fuzz list); do
  echo "fuzz: $t for ${SECONDS_EACH}s"
  cargo +nightly fuzz run --target-dir "$TARGET_DIR" "$t" -- \
    -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=5 -print_final_stats=1 2>&1 \
    | grep -E "^Done|stat::number_of_executed_units|ERROR|panicked" || true
  if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
    echo "fuzz: $t found a failing input: fuzz/artifacts/$t/" >&2
    exit 1
  fi
done
