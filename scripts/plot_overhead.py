#!/usr/bin/env python3
"""Draws docs/overhead.svg: added time per operation, this project against the peers.

The figures are the ones BENCHMARKS.md reports (edit ROWS when they are re-measured), so the plot
and the tables cannot drift apart silently: `python3 scripts/plot_overhead.py` rewrites the file.
"""

ROWS = [
    # (label, microseconds added, ours?): every figure from session 17 (2026-11-30, an Intel Xeon
    # model 207 guest), each peer measured in the same run as ours.
    # server: `paired server 1000` (interleaved: bare 1.851, sampled 3.519, OtelAxumLayer 10.157 us;
    # not sampled, flag 00, +0.585 us as `paired` reports it, over bare with the same
    # traceparent); tower-http's layer is not in `paired`: from the criterion run of the same
    # hour (`cargo bench -p benches --bench server`, 11.834 - 1.469 us)
    ("server: tower-trace, sampled", 1.67, True),
    ("server: axum-tracing-opentelemetry", 8.31, False),
    ("server: tower-http TraceLayer + bridge", 10.37, False),
    ("server: tower-trace, not sampled (flag 00)", 0.59, True),
    # SQL, Redis, client: CPU added per call on the calling thread (`paired <case> 100`, the mean
    # of two runs each; the round trips here are 120-410 us and their wall time wanders by more
    # than these figures): postgres +5.62 / +5.23, postgres-peer (oxtel-sql 0.3.1) +31.15 /
    # +27.55, redis +3.33 / +3.30, client-remote +5.60 / +4.25, client-peer (reqwest-tracing
    # 0.7.1, which injects nothing without an OpenTelemetry feature) +23.16 / +26.13
    ("SQL (PostgreSQL): sqlx-trace", 5.43, True),
    ("SQL (PostgreSQL): oxtel-sql", 29.35, False),
    ("Redis GET: redis-trace (no peer crate)", 3.32, True),
    ("HTTP client: reqwest-trace", 4.93, True),
    ("HTTP client: reqwest-tracing", 24.65, False),
]

SCALE = 17.0  # pixels per microsecond
ROW = 32


def main() -> None:
    height = 40 + ROW * len(ROWS) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="1000" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<text x="10" y="22" font-size="15" font-weight="bold">Added time per operation (us), '
        "this project (green) vs peers (red), same runs, 2026-11-30, Intel Xeon guest</text>",
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
