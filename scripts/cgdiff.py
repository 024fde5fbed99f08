#!/usr/bin/env python3
"""Per function, the instructions one more operation adds on the calling thread, traced minus bare.

Usage: scripts/cgdiff.py DIR N [TOP] [EVENT]
DIR holds callgrind files as scripts/icache.sh writes them ({bare,traced}.{1,2}.PID-01: the
calling thread of a run of N and of 2N operations); each function's self cost is taken as
(2N run - N run) / N, so start-up and the export thread drop out. Function names lose their
binary's path, so two builds can be compared. `ICACHE_FUNCTIONS=1 scripts/icache.sh ...` runs it.
EVENT is the callgrind event to rank by: `Ir` (instructions, the default) or one of the cache
model's, `I1mr` (L1 instruction-fetch misses: whose code the added code pushes out of the cache,
`ICACHE_EVENT=I1mr scripts/icache.sh ...`), `D1mr`, `D1mw`.
"""
import glob, os, re, subprocess, sys
from collections import defaultdict
d, n = sys.argv[1], int(sys.argv[2])
top = int(sys.argv[3]) if len(sys.argv) > 3 else 40
event = sys.argv[4] if len(sys.argv) > 4 else "Ir"
def fns(mode, k):
    (f,) = [p for p in glob.glob(os.path.join(d, f"{mode}.{k}.*")) if p.endswith("-01")]
    out = subprocess.run(["callgrind_annotate", f"--show={event}", "--inclusive=no", "--threshold=100", f],
                         capture_output=True, text=True).stdout
    r = defaultdict(int)
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+(?:\([ \d.%]+\)\s+)?(.*)$", line)
        if m and ":" in m.group(2):
            name = re.sub(r" \[[^\]]*\]$", "", m.group(2).strip())
            r[name] += int(m.group(1).replace(",", ""))
    return r
per = {}
for mode in ("bare", "traced"):
    a, b = fns(mode, 1), fns(mode, 2)
    per[mode] = {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}
keys = set(per["bare"]) | set(per["traced"])
diff = sorted(((per["traced"].get(k, 0) - per["bare"].get(k, 0), k) for k in keys), reverse=True)
print(f"total {event} added per op:", round(sum(x for x, _ in diff)))
for x, k in diff[:top]:
    if abs(x) >= 3: print(f"{x:8.1f}  {k[:150]}")
print("...most negative:")
for x, k in diff[-8:]:
    if abs(x) >= 3: print(f"{x:8.1f}  {k[:150]}")
