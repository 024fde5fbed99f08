#!/usr/bin/env bash
# Alternating load rounds: a bare server and one traced variant run side by side, wrk loads one at a
# time in short rounds (order swapped every round), and the figure is the median of the per-round
# throughput ratios. On this shared 2-core VM throughput drifts by ±10-30 % between runs of a few
# seconds; rounds taken back to back see the same drift, so the ratio of a round is steadier than
# either figure.
# Usage: scripts/load_paired.sh <variant> [rounds] [seconds per round]
#   variant: traced | traced-10pct | traced-off | otel-axum   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
variant=${1:-traced-off}
rounds=${2:-10}
secs=${3:-2}
cargo build --release -q -p benches --example load_server
bin=${CARGO_TARGET_DIR:-target}/release/examples/load_server
path=/users/42
"$bin" bare 8101 2>/dev/null &
bare_pid=$!
"$bin" "$variant" 8102 2>/dev/null &
var_pid=$!
trap 'kill $bare_pid $var_pid 2>/dev/null || true' EXIT
sleep 1.5
rps() {
  wrk -t1 -c32 -d"${secs}"s "http://127.0.0.1:$1$path" | awk '/Requests\/sec/ {print $2}'
}
# warm-up
rps 8101 >/dev/null
rps 8102 >/dev/null
ratios=()
for ((r = 0; r < rounds; r++)); do
  if ((r % 2 == 0)); then
    b=$(rps 8101); sleep 0.3; v=$(rps 8102)
  else
    v=$(rps 8102); sleep 0.3; b=$(rps 8101)
  fi
  ratio=$(python3 -c "print(f'{$v / $b:.4f}')")
  ratios+=("$ratio")
  printf 'round %2d: bare %10s req/s  %s %10s req/s  ratio %s\n' "$r" "$b" "$variant" "$v" "$ratio"
  sleep 0.3
done
python3 - "${ratios[@]}" <<'PY'
import statistics, sys
r = sorted(float(x) for x in sys.argv[1:])
print(f"median ratio {statistics.median(r):.4f} (min {r[0]:.4f}, max {r[-1]:.4f}, {len(r)} rounds)")
PY
