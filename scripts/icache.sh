#!/usr/bin/env bash
# Instruction fetch per operation: callgrind with its cache model (32 KiB L1i, 64-byte lines)
# over `adapter_profile <case>`, bare and traced, at N and 2N operations; the difference of the
# two runs, divided by N, is what one more operation costs on the calling thread (start-up and
# the export thread left out). On a machine whose L1i misses are dear, the traced side's extra
# misses, not its extra instructions, predict what a span costs (docs/benchmark-sessions.md,
# "Session 13").
# `server`: the server layer (`server_profile`, bare axum against tower-trace sampled, with
# PROFILE_PAUSE so the export thread keeps up under valgrind); `server-unsampled`: a caller's
# flag 00 against bare axum receiving the same `traceparent`.
# Usage: scripts/icache.sh <sqlite|redis|redis-floor|client|server|server-unsampled> [N]
#   (Redis on 127.0.0.1:6379 for `redis`; `PROFILE_REMOTE=1` with `client`: the server on its
#   own thread, the client's side alone; `ICACHE_FUNCTIONS=1`: also the added instructions per
#   function, scripts/cgdiff.py; with `ICACHE_EVENT=I1mr` the added L1i misses per function instead)
set -euo pipefail
cd "$(dirname "$0")/.."
case=${1:?usage: scripts/icache.sh <sqlite|redis|redis-floor|client|server|server-unsampled> [N]}
n=${2:-4000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# the two sides' arguments before the operation count
case $case in
  server | server-unsampled)
    example=server_profile
    export PROFILE_PAUSE=16
    if [[ $case == server ]]; then bare=(bare) traced=(sampled); else bare=(bare-tp) traced=(unsampled); fi
    ;;
  *)
    example=adapter_profile
    bare=("$case" bare) traced=("$case" traced)
    ;;
esac
cargo build --release -q -p benches --example "$example"
bin=${CARGO_TARGET_DIR:-target}/release/examples/$example
for mode in bare traced; do
  declare -n args=$mode
  for k in 1 2; do
    valgrind --tool=callgrind --cache-sim=yes --separate-threads=yes \
      --callgrind-out-file="$out/$mode.$k.%p" "$bin" "${args[@]}" $((n * k)) >/dev/null 2>&1
  done
done
python3 - "$out" "$n" <<'PY'
import glob, os, sys
out, n = sys.argv[1], int(sys.argv[2])
def totals(mode, k):
    # the calling thread's file (part 1, thread 1)
    (f,) = [p for p in glob.glob(os.path.join(out, f"{mode}.{k}.*")) if p.endswith("-01")]
    for line in open(f):
        if line.startswith("events:"):
            names = line.split()[1:]
        if line.startswith("summary:"):
            return dict(zip(names, map(int, line.split()[1:])))
per = {}
for mode in ("bare", "traced"):
    one, two = totals(mode, 1), totals(mode, 2)
    per[mode] = {e: (two[e] - one[e]) / n for e in one}
keys = ["Ir", "I1mr", "D1mr", "D1mw"]
print("per operation   " + "  ".join(f"{k:>8}" for k in keys))
for mode in ("bare", "traced"):
    print(f"{mode:<15} " + "  ".join(f"{per[mode][k]:8.1f}" for k in keys))
print(f"{'added':<15} " + "  ".join(f"{per['traced'][k] - per['bare'][k]:8.1f}" for k in keys))
PY
if [[ -n ${ICACHE_FUNCTIONS:-} ]]; then
  python3 scripts/cgdiff.py "$out" "$n" 40 "${ICACHE_EVENT:-Ir}"
fi
