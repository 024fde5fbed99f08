#!/usr/bin/env bash
# Alternating load rounds: a bare server and one traced variant run side by side, wrk loads one at a
# time in short rounds (order swapped every round), and the figure is the median of the per-round
# throughput ratios. On this shared 2-core VM throughput drifts by ±10-30 % between runs of a few
# seconds; rounds taken back to back see the same drift, so the ratio of a round is steadier than
# either figure. Each round also reads the server worker thread's CPU time per request; the ratio
# of those (bare over variant) is the throughput the worker thread alone would allow.
# Usage: scripts/load_paired.sh <variant> [rounds] [seconds per round]
#   variant: traced | traced-10pct | traced-off | traced-off-noid | otel-axum | pass-through | propagate | spin-<ns>
#   | "traced collector-down" (exporting to a port nothing listens on)
#   (traced-off-noid: sampling off without the `x-trace-id` header; pass-through: a layer that
#   only passes the request on; propagate: one that only makes the caller's context current;
#   spin-<ns>: one that only keeps the worker busy for <ns> nanoseconds, the calibration of what
#   an in-process cost becomes under load; installs wrk from Debian if missing)
# Two builds side by side: LOAD_BASE_BIN / LOAD_BASE_VARIANT set the first server's binary and
# variant (default: this build, bare), LOAD_BIN the second's binary, e.g.
#   LOAD_BASE_BIN=/tmp/load_server.before LOAD_BASE_VARIANT=traced scripts/load_paired.sh traced 12 2
# (copy target/release/examples/load_server aside before and after a change).
# Each round also reads wrk's p99 latency: the third median is the second server's p99 over the
# first's, e.g. the collector-down target of #7, against the same server with its collector up:
#   LOAD_BASE_VARIANT=traced scripts/load_paired.sh "traced collector-down" 10 2
# and the second server's resident memory is read after the warm-up, after half the rounds and at
# the end. And the function-call interrupts per request during each round (/proc/interrupts, all
# CPUs): mostly the servers' wake-ups of wrk asleep on the other vCPU, which the waking vCPU pays
# for on a virtual machine (`machine_costs` "wake-up"); a slower server finds wrk asleep more often.
# LOAD_GEN=spin: the rounds use `spin_load` (benches/examples/spin_load.rs) instead of wrk: the
# same one thread and 32 connections, polling its sockets without ever sleeping, so no response
# has to wake it and each server is charged only its own work (a load generator on another
# machine wakes nothing on the server's either); it keeps the other vCPU busy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/need_wrk.sh
. scripts/interrupts.sh
variant=${1:-traced-off}
rounds=${2:-10}
secs=${3:-2}
load_gen=${LOAD_GEN:-wrk}
case $load_gen in
  wrk) ;;
  spin) cargo build --release -q -p benches --example spin_load ;;
  *) echo "LOAD_GEN must be wrk or spin" >&2; exit 2 ;;
esac
spin_bin=${CARGO_TARGET_DIR:-target}/release/examples/spin_load
cargo build --release -q -p benches --example load_server
bin=${LOAD_BIN:-${CARGO_TARGET_DIR:-target}/release/examples/load_server}
base_bin=${LOAD_BASE_BIN:-$bin}
base_variant=${LOAD_BASE_VARIANT:-bare}
path=/users/42
# a variant is the server's variant and its optional third argument ("traced collector-down")
read -r base_name base_arg <<<"$base_variant"
"$base_bin" "$base_name" 8101 ${base_arg:+"$base_arg"} 2>/dev/null &
bare_pid=$!
stats=/tmp/load_paired_stats.$$.txt
read -r var_name var_arg <<<"$variant"
LOAD_STATS_FILE=$stats "$bin" "$var_name" 8102 ${var_arg:+"$var_arg"} 2>/dev/null &
var_pid=$!
trap 'kill $bare_pid $var_pid 2>/dev/null || true; rm -f $stats' EXIT
sleep 1.5
# One round against port $1: prints "<req/s> <worker CPU us per request> <p99 us>". The CPU figure is the
# server's tokio worker thread (utime + stime, in clock ticks, over the round) divided by the
# requests served: at saturation throughput is bound by that thread, and its CPU per request
# moves far less with the VM's scheduling than requests per second do.
worker_ticks() {
  local pid=$1 total=0 f rest
  for f in /proc/"$pid"/task/*/stat; do
    rest=$(cat "$f" 2>/dev/null) || continue
    case "$rest" in
      *"(tokio-rt-worker)"*)
        rest=${rest#*) }
        total=$((total + $(echo "$rest" | awk '{print $12 + $13}')))
        ;;
    esac
  done
  echo "$total"
}
round() {
  local port=$1 pid=$2 before after out cal0 cal1
  before=$(worker_ticks "$pid")
  read -r cal0 _ < <(interrupts)
  if [[ $load_gen == spin ]]; then
    out=$("$spin_bin" "127.0.0.1:$port" "$path" 32 "$secs")
  else
    out=$(wrk -t1 -c32 -d"${secs}"s --latency "http://127.0.0.1:$port$path")
  fi
  read -r cal1 _ < <(interrupts)
  after=$(worker_ticks "$pid")
  python3 - "$before" "$after" "$(getconf CLK_TCK)" "$((cal1 - cal0))" <<PY
import re, sys
out = """$out"""
before, after, hz, ipis = (int(x) for x in sys.argv[1:])
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
n = int(re.search(r"(\d+) requests in", out).group(1))
value, unit = re.search(r"^\s*99%\s+([0-9.]+)(us|ms|s)\b", out, re.M).groups()
p99 = float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]
print(f"{rps:.0f} {(after - before) / hz * 1e6 / n:.2f} {p99:.0f} {ipis / n:.3f}")
PY
}
# warm-up
round 8101 $bare_pid >/dev/null
round 8102 $var_pid >/dev/null
rss_start=$(ps -o rss= -p $var_pid)
ratios=()
cpu_ratios=()
p99_ratios=()
b_ipis=()
v_ipis=()
for ((r = 0; r < rounds; r++)); do
  if ((r % 2 == 0)); then
    b=$(round 8101 $bare_pid); sleep 0.3; v=$(round 8102 $var_pid)
  else
    v=$(round 8102 $var_pid); sleep 0.3; b=$(round 8101 $bare_pid)
  fi
  read -r b_rps b_cpu b_p99 b_ipi <<<"$b"
  read -r v_rps v_cpu v_p99 v_ipi <<<"$v"
  b_ipis+=("$b_ipi")
  v_ipis+=("$v_ipi")
  ratio=$(python3 -c "print(f'{$v_rps / $b_rps:.4f}')")
  cpu_ratio=$(python3 -c "print(f'{$b_cpu / $v_cpu:.4f}')")
  p99_ratio=$(python3 -c "print(f'{$v_p99 / $b_p99:.4f}')")
  ratios+=("$ratio")
  cpu_ratios+=("$cpu_ratio")
  p99_ratios+=("$p99_ratio")
  printf 'round %2d: %s %7s req/s %6s us p99 %5s us %s wake-ups  %s %7s req/s %6s us p99 %5s us %s wake-ups  ratio %s  cpu ratio %s  p99 ratio %s\n' \
    "$r" "$base_variant" "$b_rps" "$b_cpu" "$b_p99" "$b_ipi" "$variant" "$v_rps" "$v_cpu" "$v_p99" "$v_ipi" "$ratio" "$cpu_ratio" "$p99_ratio"
  sleep 0.3
  if ((r == rounds / 2 - 1)); then rss_mid=$(ps -o rss= -p $var_pid); fi
done
sleep 0.5
echo "variant's resident memory after the warm-up, half the rounds and at the end: $rss_start -> ${rss_mid:-$rss_start} -> $(ps -o rss= -p $var_pid) KiB"
echo "variant's span queue (queued exported dropped failed; receiver requests bytes): $(cat $stats 2>/dev/null || echo none)"
python3 - "${b_ipis[*]}" "${v_ipis[*]}" <<'PY'
import statistics, sys
b, v = (statistics.median(float(x) for x in arg.split()) for arg in sys.argv[1:])
print(f"wake-up interrupts per request (median of the rounds): first server {b:.3f}, second {v:.3f}")
PY
python3 - "${ratios[*]}" "${cpu_ratios[*]}" "${p99_ratios[*]}" <<'PY'
import math, statistics, sys
def interval(r):
    # the median's 95 % confidence interval from order statistics (as benches::median_interval)
    n, k, cdf, ln_pmf = len(r), 0, 0.0, -len(r) * math.log(2)
    for j in range(n):
        cdf += math.exp(ln_pmf)
        if cdf > 0.025:
            break
        k, ln_pmf = j + 1, ln_pmf + math.log((n - j) / (j + 1))
    return (r[0], r[-1]) if k == 0 else (r[k - 1], r[n - k])
for label, arg in (("throughput", sys.argv[1]), ("worker CPU per request, first server / second", sys.argv[2]),
                   ("p99 latency, second server / first", sys.argv[3])):
    r = sorted(float(x) for x in arg.split())
    lo, hi = interval(r)
    print(f"median ratio {statistics.median(r):.4f} (min {r[0]:.4f}, max {r[-1]:.4f}, {len(r)} rounds; "
          f"95 % CI {lo:.4f} to {hi:.4f}): {label}")
PY
