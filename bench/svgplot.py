"""Hand-written SVG of latency distributions (empirical CDFs on a log-scale time axis).

No plotting library: the figure is a few hundred lines of SVG text. A log x
axis keeps a 0.3 ms distribution and a 500 ms distribution readable side by
side.
"""

import math
from xml.sax.saxutils import escape

COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

W, H = 820, 460
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 50, 150


def _fmt_tick(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:g} s"
    if ns >= 1e6:
        return f"{ns / 1e6:g} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:g} µs"
    return f"{ns:g} ns"


def cdf_svg(title, series, subtitle=""):
    """series: list of (label, [latency_ns...], dashed: bool). Returns SVG text."""
    values = [v for _, vals, _ in series for v in vals if v > 0]
    if not values:
        values = [1e3, 1e9]
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10
    plot_w = W - LEFT - RIGHT
    plot_h = H - TOP - BOTTOM

    def x_of(ns):
        ns = min(max(ns, lo), hi)
        return LEFT + plot_w * (math.log10(ns) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    def y_of(frac):
        return TOP + plot_h * (1 - frac)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="15">{escape(title)}</text>',
    ]
    if subtitle:
        out.append(f'<text x="{W / 2}" y="37" text-anchor="middle" fill="#555">{escape(subtitle)}</text>')
    # grid and ticks: every decade labelled, 2..9 as light minor lines
    decade = lo
    while decade <= hi * 1.0001:
        x = x_of(decade)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#ccc"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_fmt_tick(decade)}</text>')
        for m in range(2, 10):
            if decade * m < hi:
                xm = x_of(decade * m)
                out.append(f'<line x1="{xm:.1f}" y1="{TOP}" x2="{xm:.1f}" y2="{TOP + plot_h}" stroke="#eee"/>')
        decade *= 10
    for frac in (0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(frac)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{frac:g}</text>')
    y99 = y_of(0.99)
    out.append(f'<line x1="{LEFT}" y1="{y99:.1f}" x2="{LEFT + plot_w}" y2="{y99:.1f}" stroke="#bbb" '
               f'stroke-dasharray="2 3"/>')
    out.append(f'<text x="{LEFT + 4}" y="{y99 + 11:.1f}" fill="#888" font-size="10">p99</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h + 34}" text-anchor="middle">'
               f'latency (log scale)</text>')
    out.append(f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {TOP + plot_h / 2})">fraction of hand-offs ≤ x</text>')
    legend_y = TOP + plot_h + 56
    for idx, (label, vals, dashed) in enumerate(series):
        color = COLORS[(idx // 2) % len(COLORS)] if len(series) > 3 else COLORS[idx % len(COLORS)]
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        vals = sorted(v for v in vals if v > 0)
        if vals:
            n = len(vals)
            pts = [(x_of(vals[0]), y_of(0))]
            for i, v in enumerate(vals):
                x = x_of(v)
                pts.append((x, y_of(i / n)))
                pts.append((x, y_of((i + 1) / n)))
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"{dash}/>')
        ly = legend_y + 18 * idx
        out.append(f'<line x1="{LEFT}" y1="{ly}" x2="{LEFT + 30}" y2="{ly}" stroke="{color}" '
                   f'stroke-width="2"{dash}/>')
        out.append(f'<text x="{LEFT + 38}" y="{ly + 4}">{escape(label)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
