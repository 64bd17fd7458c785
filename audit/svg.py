"""Small, dependency-free SVG charts that need no JavaScript.

Every chart is an accessible image (role="img" with a title and a text
description) and uses the page's font; colours meet WCAG contrast on white.
"""

from __future__ import annotations

from html import escape

BLUE = "#1d4f91"
RED = "#b3261e"
GREY = "#5f6368"


def _frame(width: int, height: int, title: str, desc: str, body: list[str]) -> str:
    t = escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-label="{t}" style="max-width:{width}px;font-family:inherit;font-size:12px">'
            f"<title>{t}</title><desc>{escape(desc)}</desc>" + "".join(body) + "</svg>")


def hbars(items: list[tuple[str, float]], title: str, *, fmt: str = "{:.1%}", limit: float | None = 1.0,
          threshold: float | None = None) -> str:
    """Horizontal bars, one per label (e.g. compliance per department)."""
    if not items:
        return ""
    label_w, bar_w, row_h = 270, 330, 22
    top = max(limit or 0, max(v for _, v in items)) or 1
    height = row_h * len(items) + 30
    body = []
    for i, (label, value) in enumerate(items):
        y = 10 + i * row_h
        w = max(0.0, value) / top * bar_w
        colour = RED if threshold is not None and value < threshold else BLUE
        body.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" fill="#202124">{escape(label if len(label) <= 20 else label[:19] + "…")}</text>'
                    f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 8}" fill="{colour}"/>'
                    f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" fill="#202124">{escape(fmt.format(value))}</text>')
    if threshold is not None:
        x = label_w + threshold / top * bar_w
        body.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="6" y2="{height - 18}" stroke="{GREY}" stroke-dasharray="3 3"/>'
                    f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="{GREY}">{escape(fmt.format(threshold))}</text>')
    desc = "；".join(f"{label}：{fmt.format(v)}" for label, v in items)
    return _frame(label_w + bar_w + 70, height, title, desc, body)


def line(points: list[tuple[str, float]], title: str, *, fmt: str = "{:.0%}", lo: float = 0.0, hi: float = 1.0) -> str:
    """A line over labelled points (e.g. compliance per month)."""
    if len(points) < 2:
        return ""
    width, height, left, bottom, top = 560, 200, 44, 30, 12
    plot_w, plot_h = width - left - 12, height - bottom - top
    xs = [left + i * plot_w / (len(points) - 1) for i in range(len(points))]
    ys = [top + plot_h * (1 - (min(max(v, lo), hi) - lo) / ((hi - lo) or 1)) for _, v in points]
    body = [f'<line x1="{left}" x2="{width - 12}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{GREY}"/>']
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="{GREY}">{escape(fmt.format(lo + frac * (hi - lo)))}</text>'
                    f'<line x1="{left}" x2="{width - 12}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e0e0e0"/>')
    step = max(1, len(points) // 8)
    for i in range(0, len(points), step):
        body.append(f'<text x="{xs[i]:.1f}" y="{height - 10}" text-anchor="middle" fill="{GREY}">{escape(points[i][0])}</text>')
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    body.append(f'<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="2"/>')
    body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{BLUE}"/>' for x, y in zip(xs, ys)]
    desc = "；".join(f"{label}：{fmt.format(v)}" for label, v in points)
    return _frame(width, height, title, desc, body)


def columns(counts: list[tuple[str, int]], title: str, *, highlight: str | None = None) -> str:
    """Vertical columns (e.g. events per working day of delay)."""
    if not counts:
        return ""
    width, height, bottom = 560, 180, 28
    top_v = max(c for _, c in counts) or 1
    col_w = (width - 20) / len(counts)
    body = []
    for i, (label, c) in enumerate(counts):
        h = c / top_v * (height - bottom - 16)
        x = 10 + i * col_w
        colour = RED if label == highlight else BLUE
        body.append(f'<rect x="{x + 1:.1f}" y="{height - bottom - h:.1f}" width="{max(col_w - 2, 1):.1f}" height="{h:.1f}" fill="{colour}"/>')
        if len(counts) <= 31 or i % 5 == 0:
            body.append(f'<text x="{x + col_w / 2:.1f}" y="{height - 10}" text-anchor="middle" fill="{GREY}">{escape(label)}</text>')
    desc = "；".join(f"{label}：{c}" for label, c in counts)
    return _frame(width, height, title, desc, body)
