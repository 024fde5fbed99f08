#!/usr/bin/env python3
"""Draws docs/overhead.svg: added time per operation, this project against the peers.

The figures are the ones BENCHMARKS.md reports (edit ROWS when they are re-measured), so the plot
and the tables cannot drift apart silently: `python3 scripts/plot_overhead.py` rewrites the file.
"""

ROWS = [
    # (label, microseconds added, ours?)
    # server: `paired server 500` in session 12 (2026-11-30), the first of its four runs (its
    # ratio 0.232, the runs 0.220-0.233); tower-http's layer from that session's two criterion runs
    ("server: tower-trace, sampled", 0.77, True),
    ("server: axum-tracing-opentelemetry", 3.27, False),
    ("server: tower-http TraceLayer + bridge", 3.56, False),
    ("server: tower-trace, not sampled (flag 00)", 0.31, True),
    # SQL: the interleaved runner (`paired postgres`), session 12 (+1.68 / +1.84 us on a 173 us
    # select)
    ("SQL (PostgreSQL): sqlx-trace", 1.76, True),
    ("SQL (peers.md): sqlx-tracing", 11.00, False),
    # Redis and the client: `paired`, session 12 (Redis +0.6 to +1.0 us on a 57-63 us GET; the
    # client with its server on the same thread, +0.72 to +0.89 us of CPU on 19-20 us)
    ("Redis GET: redis-trace", 0.80, True),
    ("HTTP client (same thread): reqwest-trace", 0.83, True),
    ("HTTP client (peers.md): reqwest-tracing", 22.50, False),
]

SCALE = 17.0  # pixels per microsecond
ROW = 32


def main() -> None:
    height = 40 + ROW * len(ROWS) + 20
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="760" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        '<text x="10" y="22" font-size="15" font-weight="bold">Added time per operation (us), '
        "this project (green) vs peers (red), 2026-11-30</text>",
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
