#!/usr/bin/env bash
# One wrk run against benches/examples/load_server and the CPU time each of its threads spent per
# request (utime + stime from /proc/<pid>/task/*/stat over the run), with the span queue's
# counters: where a traced request's CPU goes (server worker, span queue, gRPC client, collector
# stand-in), and how much of it was user and how much kernel time; and the inter-processor
# interrupts per request over the run (/proc/interrupts: function-call IPIs, which carry the
# kernel's wake-ups of a thread sleeping on the other vCPU, and rescheduling IPIs), since on a KVM
# guest the thread that wakes another pays for the IPI (`machine_costs`: "wake-up").
# Usage: scripts/load_threads.sh <bare|traced|traced-10pct|traced-off|otel-axum> [seconds]
# LOAD_BIN: another build's load_server (copy target/release/examples/load_server aside before a
# change to compare the two, run after run).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need_wrk.sh
. scripts/interrupts.sh
variant=${1:-traced}
secs=${2:-5}
port=8097
cargo build --release -q -p benches --example load_server
bin=${LOAD_BIN:-${CARGO_TARGET_DIR:-target}/release/examples/load_server}
stats=/tmp/load_threads_stats.$$.txt
LOAD_STATS_FILE=$stats "$bin" "$variant" $port 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f $stats /tmp/load_threads.$$.*' EXIT
sleep 1
snapshot() { # thread name, user and kernel ticks, summed by name
  for f in /proc/"$pid"/task/*/stat; do
    s=$(cat "$f" 2>/dev/null) || continue
    name=${s#*(}; name=${name%%)*}
    rest=${s#*) }
    echo "$name $(echo "$rest" | awk '{print $12, $13}')"
  done | awk '{u[$1] += $2; k[$1] += $3} END {for (t in u) print t, u[t], k[t]}' | sort
}
snapshot > /tmp/load_threads.$$.before
read -r cal0 res0 < <(interrupts)
out=$(wrk -t1 -c32 -d"${secs}"s "http://127.0.0.1:$port/users/42")
snapshot > /tmp/load_threads.$$.after
read -r cal1 res1 < <(interrupts)
n=$(echo "$out" | grep -oE "[0-9]+ requests in" | awk '{print $1}')
rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
sleep 0.3
echo "$variant: $rps req/s, $n requests; span queue (queued exported dropped failed; receiver requests bytes): $(cat $stats 2>/dev/null || echo none)"
awk -v n="$n" -v c=$((cal1 - cal0)) -v r=$((res1 - res0)) 'BEGIN {printf "  IPIs per request: %.3f function-call (wake-ups), %.3f rescheduling\n", c / n, r / n}'
join /tmp/load_threads.$$.before /tmp/load_threads.$$.after |
  awk -v n="$n" -v hz="$(getconf CLK_TCK)" '{
    u = ($4 - $2) / hz; k = ($5 - $3) / hz
    if (u + k > 0) printf "  %-18s %7.2f s  %6.2f us per request (user %.2f, kernel %.2f)\n", $1, u + k, (u + k) * 1e6 / n, u * 1e6 / n, k * 1e6 / n
  }'
