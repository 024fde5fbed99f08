#!/usr/bin/env bash
# Where the sampled load gap goes, in one command: the in-process overhead of a sampled request is
# measured first (`paired server`), then three load runs against bare (scripts/load_paired.sh):
#   traced                      every request sampled, OTLP/gRPC into the stand-in receiver
#   traced, export discarded    the same spans dropped on the export thread (LOAD_EXPORT=discard)
#   spin-<that overhead>        a layer that only burns the in-process overhead, nothing else
# If the second lands where the third does, the request path costs under load what it costs in
# process, and the difference between the first two is the OTLP export's share of the two cores.
# About four minutes. Usage: scripts/load_split.sh [rounds] [seconds per round]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
rounds=${1:-8}
secs=${2:-2}
cargo build --release -q -p benches --example paired --example load_server
out=$("$CARGO_TARGET_DIR/release/examples/paired" server 500 2>/dev/null)
bare=$(echo "$out" | sed -n 's/^server bare: \([0-9.]*\) us$/\1/p')
sampled=$(echo "$out" | sed -n 's/^server sampled: \([0-9.]*\) us$/\1/p')
ns=$(python3 -c "print(max(0, round(($sampled - $bare) * 1000)))")
echo "in process: bare $bare us, sampled $sampled us: +$ns ns per request"
median() { bash scripts/load_paired.sh "$@" 2>/dev/null | grep "median ratio" | head -1 | awk '{print $3}'; }
traced=$(median traced "$rounds" "$secs")
discard=$(LOAD_EXPORT=discard median traced "$rounds" "$secs")
spin=$(median "spin-$ns" "$rounds" "$secs")
echo "throughput over bare, median of $rounds rounds:"
echo "  traced, OTLP export:           $traced"
echo "  traced, export discarded:      $discard"
echo "  a layer burning $ns ns only:  $spin"
