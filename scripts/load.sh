#!/usr/bin/env bash
# Loopback load runs: wrk against benches/examples/load_server for each variant, bounded in time.
# Usage: scripts/load.sh [seconds]   (installs wrk from Debian if missing)
# DEMO_SHAPE=1 scripts/load.sh: the demo-shaped request (Redis, SQLite, an HTTP call; needs Redis)
# for bare and the traced variants.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need_wrk.sh
secs=${1:-8}
cargo build --release -q -p benches --example load_server
bin=${CARGO_TARGET_DIR:-target}/release/examples/load_server
port=8099
path=/users/42
variants=(bare traced traced-10pct traced-off otel-axum "traced collector-down")
if [ -n "${DEMO_SHAPE:-}" ]; then
  path=/req
  variants=(bare traced traced-10pct traced-off)
fi
for variant in "${variants[@]}"; do
  set -- $variant
  stats=/tmp/load_stats.$$.txt
  rm -f $stats
  LOAD_STATS_FILE=$stats "$bin" $1 $port ${2:-} 2>/dev/null &
  pid=$!
  sleep 1
  rss_start=$(ps -o rss= -p $pid)
  wrk -t1 -c32 -d${secs}s --latency http://127.0.0.1:$port$path > /tmp/wrk.$$.txt
  rss_end=$(ps -o rss= -p $pid)
  sleep 0.5
  # span queue: queued exported dropped failed, then the receiver's requests and bytes (none for
  # the bare server)
  spans=$(cat $stats 2>/dev/null || echo "- - - - - -")
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/wrk.$$.txt)
  p50=$(awk '$1=="50%" {print $2}' /tmp/wrk.$$.txt)
  p99=$(awk '$1=="99%" {print $2}' /tmp/wrk.$$.txt)
  errors=$(grep -c "Non-2xx\|Socket errors" /tmp/wrk.$$.txt || true)
  printf '%-26s %10s req/s  p50 %8s  p99 %8s  rss %6s -> %6s KiB  error lines %s  spans q/e/d/f req bytes %s\n' "$variant" "$rps" "$p50" "$p99" "$rss_start" "$rss_end" "$errors" "$spans"
  kill $pid 2>/dev/null; wait $pid 2>/dev/null || true
  pkill -f "load_server" 2>/dev/null || true
  sleep 0.5
done
rm -f /tmp/wrk.$$.txt /tmp/load_stats.$$.txt
