#!/usr/bin/env python3
"""Draws docs/overhead.svg: added time per operation, this project against the peers.

The figures are the ones BENCHMARKS.md reports (edit ROWS when they are re-measured), so the plot
and the tables cannot drift apart silently: `python3 scripts/plot_overhead.py` rewrites the file.
"""

ROWS = [
    # (label, microseconds added, ours?)
    # server: `paired server 300` in session 13 (2026-11-30, an Intel Xeon guest on which
    # OtelAxumLayer costs the 7.0 us), the first of its three runs (ratio 0.199, the runs
    # 0.199-0.228); tower-http's layer from that session's criterion run (14.021 - 2.499 us)
    ("server: tower-trace, sampled", 1.35, True),
    ("server: axum-tracing-opentelemetry", 6.99, False),
    ("server: tower-http TraceLayer + bridge", 11.52, False),
    ("server: tower-trace, not sampled (flag 00)", 0.62, True),
    # SQL: the interleaved runner (`paired postgres`), session 13 (+1.79 us on a 108 us select)
    ("SQL (PostgreSQL): sqlx-trace", 1.79, True),
    ("SQL (peers.md): sqlx-tracing", 11.00, False),
    # Redis and the client: `paired`, session 13 (Redis +2.2 to +3.3 us on a 28-37 us GET; the
    # client with its server on the same thread, +2.98 us on 36 us)
    ("Redis GET: redis-trace", 2.51, True),
    ("HTTP client (same thread): reqwest-trace", 2.98, True),
    ("HTTP client (peers.md): reqwest-tracing", 22.50, False),
]

SCALE = 17.0  # pixels per microsecond
ROW = 32


def main() -> None:
    height = 40 + ROW * len(ROWS) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="900" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<text x="10" y="22" font-size="15" font-weight="bold">Added time per operation (us), '
        "this project (green) vs peers (red), 2026-11-30, Intel Xeon guest</text>",
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
