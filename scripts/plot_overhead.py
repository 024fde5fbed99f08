#!/usr/bin/env python3
"""Draws docs/overhead.svg: added time per operation, this project against the peers.

The figures are the ones BENCHMARKS.md reports (edit ROWS when they are re-measured), so the plot
and the tables cannot drift apart silently: `python3 scripts/plot_overhead.py` rewrites the file.
"""

ROWS = [
    # (label, microseconds added, ours?): every figure from session 28 (2026-12-01, an Intel Xeon
    # model 207 guest with fast loopback), each peer measured in the same run as ours.
    # server: `paired server 1000` (interleaved: bare 2.216, sampled 4.405, OtelAxumLayer 10.358 us;
    # not sampled, flag 00, +0.664 us as `paired` reports it, over bare with the same
    # traceparent); tower-http's layer is not in `paired`: from two criterion runs of the same
    # hour (`cargo bench -p benches --bench server`, 11.687 - 1.384 and 11.673 - 1.463 us)
    ("server: tower-trace, sampled", 2.19, True),
    ("server: axum-tracing-opentelemetry", 8.14, False),
    ("server: tower-http TraceLayer + bridge", 10.26, False),
    ("server: tower-trace, not sampled (flag 00)", 0.66, True),
    # SQL, Redis, client: CPU added per call on the calling thread (`paired <case> 100`, the mean
    # of two runs each; the round trips here are 29-111 us and their wall time wanders by more
    # than these figures): postgres +3.89 / +2.88, postgres-peer (oxtel-sql 0.3.1) +14.45 /
    # +17.73, redis +2.35 / +2.93, client-remote +2.67 / +3.72, client-peer (reqwest-tracing
    # 0.7.1, which injects nothing without an OpenTelemetry feature) +12.52 / +19.45
    ("SQL (PostgreSQL): sqlx-trace", 3.39, True),
    ("SQL (PostgreSQL): oxtel-sql", 16.09, False),
    ("Redis GET: redis-trace (no peer crate)", 2.64, True),
    ("HTTP client: reqwest-trace", 3.20, True),
    ("HTTP client: reqwest-tracing", 15.99, False),
]

SCALE = 17.0  # pixels per microsecond
ROW = 32


def main() -> None:
    height = 40 + ROW * len(ROWS) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<text x="10" y="22" font-size="15" font-weight="bold">Added time per operation (us), '
        "this project (green) vs peers (red), same runs, 2026-12-01, Intel Xeon guest</text>",
    ]
    for i, (label, us, ours) in enumerate(ROWS):
        y = 40 + ROW * i
        w = us * SCALE
        colour = "#2b7" if ours else "#c44"
        out.append(f'<text x="282" y="{y + 15.4}" text-anchor="end">{label}</text>')
        out.append(f'<rect x="290" y="{y}" width="{w:.1f}" height="22" fill="{colour}"/>')
        out.append(f'<text x="{296 + w:.1f}" y="{y + 15.4}">{us:.2f}</text>')
    out.append("</svg>")
    with open("docs/overhead.svg", "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
