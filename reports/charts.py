"""Server-side SVG charts: no JavaScript, no CDN, no inline styles (strict CSP).

Series colours have one definition, `series_colour` (the Okabe–Ito palette, safe for the
common colour-vision deficiencies, plus the product's semantic colours), and the bars, lines
and their legend swatches all take it from there as SVG `fill`/`stroke` attributes; the CSS
(static/css/reports.css) only colours text, grid and heat-map cells. Every chart has a
<title> and <desc> and is `role="img"`, or `role="group"` when its bars or cells are links (each
named by its tooltip: an image's children are hidden from assistive technology); the numbers
are in the accessible table beneath it on the page. Bars and cells that stand for a set of
issues are links (`<a href>` works in SVG without JS). Every
interpolated value goes through `escape()`, which is why `mark_safe` is sound here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from django.utils.safestring import SafeString, mark_safe

# Okabe & Ito (2008): distinguishable with protanopia, deuteranopia and tritanopia.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000"]
# Series that carry a meaning keep it (UI.md: breached/critical red, at risk amber, Major
# orange, Minor blue, Trivial grey), in the palette's colour-blind-safe shades.
SEMANTIC = {
    "chart-bad": "#D55E00",
    "chart-hot": "#D55E00",
    "chart-warn": "#E69F00",
    "sev-fill-critical": "#D55E00",
    "sev-fill-major": "#E69F00",
    "sev-fill-minor": "#0072B2",
    "sev-fill-trivial": "#999999",
}
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 16, 48


@dataclass
class Series:
    name: str
    values: list[float | None]
    hrefs: list[str] = field(default_factory=list)
    css: str = ""  # extra class, e.g. "chart-bad"


def series_colour(index: int, series: Series | None = None) -> str:
    """The one colour of a series, for its bars, points, line and legend swatch alike."""
    if series is not None and series.css in SEMANTIC:
        return SEMANTIC[series.css]
    return PALETTE[index % len(PALETTE)]


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = step * magnitude
        if top >= value:
            return float(top)
    return float(value)


def _open(title: str, desc: str, chart_id: str, height: int = HEIGHT) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(desc)}</desc>',
    ]


def _wrap(inner: str, href: str, tip: str) -> str:
    tip_el = f"<title>{escape(tip)}</title>"
    if href:
        return (
            f'<a href="{_attr(href)}" aria-label="{_attr(tip)}">'
            f"{inner[:-2]}>{tip_el}{_closing(inner)}</a>"
        )
    return f"{inner[:-2]}>{tip_el}{_closing(inner)}"


def _finish(lines: list[str]) -> SafeString:
    """Close the chart. A chart whose bars or cells are links is a named group of links, not
    one image: an `img` role hides its children from assistive technology, so links inside it
    could not be reached (axe: nested-interactive). Each link is named by its tooltip."""
    lines.append("</svg>")
    if any(line.startswith("<a ") for line in lines):
        lines[0] = lines[0].replace('role="img"', 'role="group"', 1)
    return mark_safe("".join(lines))  # noqa: S308  # nosec


def _closing(inner: str) -> str:
    tag = inner[1 : inner.index(" ")]
    return f"</{tag}>"


def _axis(lines: list[str], top: float, unit: str, plot_h: float) -> None:
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        lines.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}" stroke="#dee2e6" stroke-width="1"/>'
        )
        lines.append(
            f'<text class="chart-label" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#6c757d">{_num(value)}{escape(unit)}</text>'
        )


def _legend(lines: list[str], series: list[Series], y: float) -> None:
    x = LEFT
    for i, s in enumerate(series):
        colour = series_colour(i, s)
        lines.append(
            f'<rect class="chart-swatch chart-s{i}" x="{x}" y="{y - 9}" width="10" height="10" '
            f'fill="{colour}"/>'
        )
        lines.append(
            f'<text class="chart-label" x="{x + 14}" y="{y}" font-size="11" '
            f'fill="#6c757d">{escape(s.name)}</text>'
        )
        x += 24 + 7 * len(s.name)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    categories: list[str],
    series: list[Series],
    unit: str = "",
    stacked: bool = False,
    desc: str = "",
) -> SafeString:
    """Vertical bars per category: grouped (several series side by side) or stacked."""
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    if stacked:
        peak = max(
            (sum(s.values[i] or 0 for s in series) for i in range(len(categories))), default=0
        )
    else:
        peak = max((v or 0 for s in series for v in s.values), default=0)
    top = _nice_max(peak)
    lines = _open(title, desc or title, chart_id)
    _axis(lines, top, unit, plot_h)
    n = max(len(categories), 1)
    slot = plot_w / n
    group_w = slot * 0.7
    bar_w = group_w if stacked else group_w / max(len(series), 1)
    for ci, label in enumerate(categories):
        x0 = LEFT + slot * ci + (slot - group_w) / 2
        base: float = TOP + plot_h
        for si, s in enumerate(series):
            value = s.values[ci] if ci < len(s.values) else None
            if not value:
                continue
            h = plot_h * value / top
            x = x0 if stacked else x0 + bar_w * si
            y = base - h
            colour = series_colour(si, s)
            css = f"chart-s{si} {s.css}".strip()
            rect = (
                f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour}"/>'
            )
            href = s.hrefs[ci] if ci < len(s.hrefs) else ""
            lines.append(_wrap(rect, href, f"{label} · {s.name}: {_num(value)}{unit}"))
            if stacked:
                base = y
        lines.append(
            f'<text class="chart-label" x="{x0 + group_w / 2:.1f}" y="{TOP + plot_h + 14}" '
            f'text-anchor="middle" font-size="11" fill="#6c757d">{escape(label)}</text>'
        )
    if len(series) > 1:
        _legend(lines, series, HEIGHT - 8)
    return _finish(lines)


def hbar_chart(
    *,
    chart_id: str,
    title: str,
    categories: list[str],
    values: list[float | None],
    hrefs: list[str] | None = None,
    highlight: set[int] | None = None,
    unit: str = "",
    desc: str = "",
) -> SafeString:
    """Horizontal bars, one per category; `highlight` marks bars (e.g. the bottleneck)."""
    row_h = 26
    height = TOP + row_h * max(len(categories), 1) + 8
    label_w = 130
    plot_w = WIDTH - label_w - RIGHT - 60
    top = _nice_max(max((v or 0 for v in values), default=0))
    lines = _open(title, desc or title, chart_id, height)
    for i, label in enumerate(categories):
        y = TOP + row_h * i
        value = values[i] or 0
        w = plot_w * value / top
        hot = bool(highlight and i in highlight)
        css = "chart-hot" if hot else "chart-s0"
        colour = SEMANTIC["chart-hot"] if hot else series_colour(0)
        lines.append(
            f'<text class="chart-label" x="{label_w - 6}" y="{y + 16}" text-anchor="end" '
            f'font-size="12" fill="#6c757d">{escape(label)}</text>'
        )
        rect = (
            f'<rect class="{css}" x="{label_w}" y="{y + 4}" width="{max(w, 1):.1f}" '
            f'height="{row_h - 8}" fill="{colour}"/>'
        )
        href = (hrefs or [""] * len(categories))[i]
        shown = f"{_num(value)}{unit}" if values[i] is not None else "—"
        lines.append(_wrap(rect, href, f"{label}: {shown}"))
        lines.append(
            f'<text class="chart-value" x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="12" '
            f'fill="#212529">{escape(shown)}{" ◀ bottleneck" if hot else ""}</text>'
        )
    return _finish(lines)


def line_chart(
    *,
    chart_id: str,
    title: str,
    categories: list[str],
    series: list[Series],
    top: float = 100.0,
    unit: str = "%",
    desc: str = "",
) -> SafeString:
    """Lines over categories (weeks); gaps where a value is None."""
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - RIGHT
    lines = _open(title, desc or title, chart_id)
    _axis(lines, top, unit, plot_h)
    n = len(categories)
    step = plot_w / max(n - 1, 1) if n > 1 else 0
    xs = [LEFT + (step * i if n > 1 else plot_w / 2) for i in range(n)]
    for si, s in enumerate(series):
        colour = series_colour(si, s)
        points: list[str] = []
        for i, value in enumerate(s.values):
            if value is None:
                if len(points) > 1:
                    lines.append(_polyline(points, si, colour))
                points = []
                continue
            y = TOP + plot_h - plot_h * min(value, top) / top
            points.append(f"{xs[i]:.1f},{y:.1f}")
            dot = (
                f'<circle class="chart-s{si}" cx="{xs[i]:.1f}" cy="{y:.1f}" r="3.5" '
                f'fill="{colour}"/>'
            )
            href = s.hrefs[i] if i < len(s.hrefs) else ""
            lines.append(_wrap(dot, href, f"{categories[i]} · {s.name}: {_num(value)}{unit}"))
        if len(points) > 1:
            lines.append(_polyline(points, si, colour))
    every = max(1, n // 8)
    for i, label in enumerate(categories):
        if i % every == 0:
            lines.append(
                f'<text class="chart-label" x="{xs[i]:.1f}" y="{TOP + plot_h + 14}" '
                f'text-anchor="middle" font-size="11" fill="#6c757d">{escape(label)}</text>'
            )
    _legend(lines, series, HEIGHT - 8)
    return _finish(lines)


def _polyline(points: list[str], si: int, colour: str) -> str:
    return (
        f'<polyline class="chart-line chart-stroke-s{si}" points="{" ".join(points)}" '
        f'fill="none" stroke="{colour}" stroke-width="2"/>'
    )


def heatmap(
    *,
    chart_id: str,
    title: str,
    rows: list[str],
    columns: list[str],
    values: list[list[float | None]],
    hrefs: list[list[str]] | None = None,
    unit: str = "%",
    desc: str = "",
) -> SafeString:
    """A grid of percentages (e.g. compliance per priority x severity): red below 80 %,
    amber below 95 %, green otherwise, grey without data; the number is written in the cell."""
    cell_w, cell_h, label_w, head_h = 110, 34, 90, 22
    height = head_h + cell_h * len(rows) + 4
    lines = _open(title, desc or title, chart_id, height)
    for ci, col in enumerate(columns):
        lines.append(
            f'<text class="chart-label" x="{label_w + cell_w * ci + cell_w / 2}" y="15" '
            f'text-anchor="middle" font-size="12" fill="#6c757d">{escape(col)}</text>'
        )
    for ri, row in enumerate(rows):
        y = head_h + cell_h * ri
        lines.append(
            f'<text class="chart-label" x="{label_w - 8}" y="{y + 21}" text-anchor="end" '
            f'font-size="12" fill="#6c757d">{escape(row)}</text>'
        )
        for ci, _col in enumerate(columns):
            value = values[ri][ci]
            if value is None:
                css, colour, text = "heat-none", "#e9ecef", "—"
            elif value < 80:
                css, colour, text = "heat-bad", "#f8d7da", f"{_num(value)}{unit}"
            elif value < 95:
                css, colour, text = "heat-warn", "#fff3cd", f"{_num(value)}{unit}"
            else:
                css, colour, text = "heat-good", "#d1e7dd", f"{_num(value)}{unit}"
            x = label_w + cell_w * ci
            rect = (
                f'<rect class="{css}" x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" '
                f'height="{cell_h - 2}" rx="3" fill="{colour}"/>'
            )
            href = hrefs[ri][ci] if hrefs else ""
            lines.append(_wrap(rect, href if value is not None else "", f"{row} · {col}: {text}"))
            lines.append(
                f'<text class="chart-cell" x="{x + cell_w / 2}" y="{y + 21}" '
                f'text-anchor="middle" font-size="12" fill="#212529">{escape(text)}</text>'
            )
    return _finish(lines)
