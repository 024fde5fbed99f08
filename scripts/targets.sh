#!/usr/bin/env bash
# Every timed target of the issues, measured on the machine at hand in one go, with the verdict:
# the server layer against `OtelAxumLayer` and bare axum, the Redis, PostgreSQL and HTTP client
# round trips, the load ratios, and the collector-down target (p99 latency against the same
# server with its collector up, memory, drops). Each session so far has run on another VM, and the targets
# come out differently on each (BENCHMARKS.md): this is the first thing to run on a new one.
# Beside the Redis figure, the cheapest sampled span around the same GET (`paired redis-floor`):
# what any span costs on this machine. Beside each load ratio, how often per request each server woke
# the load generator from sleep (a slower server wakes it more often, and on a virtual machine the
# waking vCPU pays for it: BENCHMARKS.md, "Load"). It takes about nine minutes. Needs PostgreSQL and Redis on
# loopback (scripts/services.sh) and installs wrk from Debian if missing. Each figure is a median
# over interleaved rounds, printed with its 95 % confidence interval in brackets; the verdict
# follows the interval: "met" or "missed" where all of it is on one side of the target,
# "unclear" where it straddles the target (the run cannot tell; run it again or with more rounds).
# Usage: scripts/targets.sh [quick]   (quick: fewer rounds, about half the rounds and time, noisier)
# TARGETS_LOAD_ROUNDS=<n>: n rounds per load ratio instead of 10 (6 with quick), for a load verdict
# that came out "unclear" (each round two seconds per server: 30 rounds add about six minutes).
# LOAD_GEN=spin: the load rounds driven by `spin_load`, a load generator that never sleeps, instead
# of wrk (scripts/load_paired.sh): no server pays for waking it; the load lines then say so.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
quick=${1:-}
if [[ $quick == quick ]]; then
  server_rounds=500 adapter_rounds=100 load_rounds=6 down_rounds=8
else
  server_rounds=2000 adapter_rounds=300 load_rounds=10 down_rounds=16
fi
load_rounds=${TARGETS_LOAD_ROUNDS:-$load_rounds}
cargo build --release -q -p benches --example paired --example load_server
paired="$CARGO_TARGET_DIR/release/examples/paired"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$paired" server "$server_rounds" >"$out/server" 2>/dev/null
for case in redis redis-floor postgres client-remote; do
  "$paired" "$case" "$adapter_rounds" >"$out/$case" 2>/dev/null
done
for variant in traced traced-10pct traced-off; do
  bash scripts/load_paired.sh "$variant" "$load_rounds" 2 >"$out/load-$variant" 2>/dev/null
done
# a round's p99 moves more than its throughput: more rounds
LOAD_BASE_VARIANT=traced bash scripts/load_paired.sh "traced collector-down" "$down_rounds" 2 \
  >"$out/load-down" 2>/dev/null

python3 - "$out" <<'PY'
import re, sys, os
out = sys.argv[1]
def text(name):
    return open(os.path.join(out, name)).read()
def nums(pattern, s):
    m = re.search(pattern, s)
    if not m:
        sys.exit(f"targets.sh: no match for {pattern!r} in:\n{s}")
    return tuple(float(g) for g in m.groups())
def num(pattern, s):
    return nums(pattern, s)[0]
rows = []
def row(target, figure, lo, hi, limit, at_most=True):
    # the verdict follows the median's 95 % confidence interval: "unclear" where it straddles
    # the target (this run cannot tell which side the median is on)
    if at_most:
        verdict = "met" if hi <= limit else "missed" if lo > limit else "unclear"
    else:
        verdict = "met" if lo >= limit else "missed" if hi < limit else "unclear"
    rows.append((target, figure, verdict))

s = text("server")
ratio = num(r"OtelAxumLayer overhead ([0-9.]+)", s)
ratio_ci = nums(r"OtelAxumLayer overhead [0-9.]+ \(median of rounds; [^;]*; 95 % CI ([0-9.]+) to ([0-9.]+)\)", s)
us_ci = r" \+?(-?[0-9.]+) us \(95 % CI \+?(-?[0-9.]+) to \+?(-?[0-9.]+)\)"
flag00, *flag00_ci = nums(r"flag 00" + us_ci, s)
ratio0, *ratio0_ci = nums(r"traceidratio 0" + us_ci, s)
floor = num(r"minimal propagating layer \+?(-?[0-9.]+) us", s)
row("#2/#7 server sampled overhead <= 1/4 of OtelAxumLayer's",
    f"{ratio:.3f} [{ratio_ci[0]:.3f}, {ratio_ci[1]:.3f}]", *ratio_ci, 0.25)
row("#2/#7 not sampled within 0.3 us of bare (flag 00)",
    f"+{flag00:.3f} us [{flag00_ci[0]:+.3f}, {flag00_ci[1]:+.3f}] (propagation alone +{floor:.3f} us)",
    *flag00_ci, 0.3)
row("#2/#7 not sampled within 0.3 us of bare (traceidratio 0)",
    f"+{ratio0:.3f} us [{ratio0_ci[0]:+.3f}, {ratio0_ci[1]:+.3f}]", *ratio0_ci, 0.3)
for case, target, limit in [("redis", "#7 Redis GET within 5 %", 5.0),
                            ("postgres", "#7 PostgreSQL select within 3 %", 3.0),
                            ("client-remote", "#5 client GET within 3 %", 3.0)]:
    s = text(case)
    pct, lo, hi = nums(r"median ratio [0-9.]+ \(([-+0-9.]+)%; 95 % CI ([-+0-9.]+) to ([-+0-9.]+)%\)", s)
    bare = num(r"bare ([0-9.]+) us", s)
    cpu = num(r"on-CPU .*\(([-+0-9.]+) us\)", s)
    figure = f"{pct:+.2f} % [{lo:+.2f}, {hi:+.2f}] at {bare:.1f} us ({cpu:+.2f} us CPU)"
    if case == "redis":
        # the cheapest sampled span around the same GET: what any span costs on this machine
        floor = num(r"median ratio [0-9.]+ \(([-+0-9.]+)%", text("redis-floor"))
        figure += f" (a span with one attribute alone {floor:+.2f} %)"
    row(target, figure, lo, hi, limit)
for variant, target, limit in [("traced", "#7 load, every request sampled >= 85 %", 0.85),
                               ("traced-10pct", "#7 load, 10 % sampled >= 95 %", 0.95),
                               ("traced-off", "#7 load, sampling off >= 98 %", 0.98)]:
    s = text("load-" + variant)
    r, lo, hi = nums(r"median ratio ([0-9.]+) .*95 % CI ([0-9.]+) to ([0-9.]+).*throughput", s)
    figure = f"{100 * r:.1f} % of bare [{100 * lo:.1f}, {100 * hi:.1f}]"
    # the load generator woken from sleep per request: more for a slower server (BENCHMARKS.md)
    wb, wv = nums(r"wake-up interrupts per request .*: first server ([0-9.]+), second ([0-9.]+)", s)
    figure += f" (wake-ups per request {wb:.3f} bare, {wv:.3f} traced)"
    if os.environ.get("LOAD_GEN") == "spin":
        figure += " (spin_load)"
    row(target, figure, lo, hi, limit, False)
s = text("load-down")
r, lo, hi = nums(r"median ratio ([0-9.]+) .*95 % CI ([0-9.]+) to ([0-9.]+).*p99 latency", s)
row("#7 collector down: p99 within 5 % of collector up",
    f"{100 * (r - 1):+.1f} % [{100 * (lo - 1):+.1f}, {100 * (hi - 1):+.1f}]", lo, hi, 1.05)
# memory flat: the queue is full from the warm-up round on; the allocator settles over the first
# half of the rounds (a few hundred KiB, and steps of about 100 KiB later: session 25's 180 s run),
# and over the second half, while a million or more spans are dropped, the resident memory grows
# by at most 3 % (about 370 KiB; a leak of one byte per dropped span would be several times that)
rss0, rss_mid, rss1 = nums(r"resident memory after the warm-up, half the rounds and at the end: "
                           r"(\d+) -> (\d+) -> (\d+) KiB", s)
growth = rss1 / rss_mid - 1
rows.append(("#7 collector down: memory flat",
             f"{rss0 / 1024:.1f} -> {rss_mid / 1024:.1f} -> {rss1 / 1024:.1f} MiB over the rounds "
             f"({100 * growth:+.1f} % over the second half)",
             "met" if growth <= 0.03 else "missed"))
# drops counted: the queue's dropped and failed counters, nothing exported
_, exported, dropped, failed = nums(r"span queue [^:]*: (\d+) (\d+) (\d+) (\d+)", s)
rows.append(("#7 collector down: drops counted",
             f"{dropped:.0f} dropped at the full queue, {failed:.0f} failed to export, {exported:.0f} exported",
             "met" if dropped > 0 and exported == 0 else "missed"))
width = max(len(r[0]) for r in rows)
for target, figure, verdict in rows:
    print(f"{target:<{width}}  {verdict:<7}  {figure}")
PY
