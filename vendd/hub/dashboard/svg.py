"""Small server-side SVG charts: vertical bars for a series (days, hours) and horizontal bars
for a ranking (products, makers). Drawn in a viewBox with `width: 100%`, so they shrink to a
phone and print as vectors; no script, nothing fetched."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

Label = Callable[[int], str]


def _fmt(value: int, label: Label | None) -> str:
    return label(value) if label else str(value)


def columns(points: Sequence[tuple[str, int]], *, title: str, label: Label | None = None,
            width: int = 640, height: int = 220) -> Markup:
    """One bar per point, left to right; at most ~12 x-axis labels are written."""
    pad_l, pad_b, pad_t = 8, 34, 22
    n = max(len(points), 1)
    top = max((v for _, v in points), default=0) or 1
    plot_h = height - pad_b - pad_t
    step = (width - 2 * pad_l) / n
    bar = max(step * 0.8, 1.0)
    every = max(1, -(-n // 8))
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>',
             f'<text x="{pad_l}" y="14" class="cap">{escape(title)} '
             f'(max {escape(_fmt(top, label))})</text>']
    for i, (name, value) in enumerate(points):
        h = plot_h * value / top
        x = pad_l + i * step + (step - bar) / 2
        y = pad_t + plot_h - h
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                     f'<title>{escape(name)}: {escape(_fmt(value, label))}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{height - pad_b + 14}" '
                         f'text-anchor="middle" class="tick">{escape(name)}</text>')
    parts.append(f'<line x1="{pad_l}" x2="{width - pad_l}" y1="{pad_t + plot_h}" '
                 f'y2="{pad_t + plot_h}" class="axis"/></svg>')
    return Markup("".join(parts))


def bars(points: Sequence[tuple[str, int]], *, title: str, label: Label | None = None,
         width: int = 640) -> Markup:
    """One horizontal bar per point, largest first as given, with its name and value."""
    row, pad_t = 24, 22
    height = pad_t + row * max(len(points), 1) + 4
    top = max((v for _, v in points), default=0) or 1
    name_w, value_w = width * 0.34, width * 0.2
    plot_w = width - name_w - value_w
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(title)}</title>',
             f'<text x="0" y="14" class="cap">{escape(title)}</text>']
    for i, (name, value) in enumerate(points):
        y = pad_t + i * row
        w = plot_w * value / top
        short = name if len(name) <= 26 else name[:25] + "…"
        parts.append(f'<text x="0" y="{y + 16}" class="tick">{escape(short)}</text>'
                     f'<rect x="{name_w:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}">'
                     f'<title>{escape(name)}: {escape(_fmt(value, label))}</title></rect>'
                     f'<text x="{width}" y="{y + 16}" text-anchor="end" class="tick">'
                     f'{escape(_fmt(value, label))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
