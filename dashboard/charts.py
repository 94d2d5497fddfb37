"""Charts as inline SVG drawn on the server: no script, no request to another host.

Pure functions over plain numbers. Every chart is an image with a <title> and <desc> for
screen readers; the pages also show the same figures in a data table. Text is escaped here,
so the markup is safe to insert as is.
"""

from dataclasses import dataclass, field
from html import escape

from django.utils.safestring import mark_safe

# One colour, dash pattern and point shape per person: a split stays readable in grey print
# and for colour-blind readers.
STYLES = [
    ("#1d4ed8", "", "circle"),
    ("#c2410c", "7 4", "square"),
    ("#047857", "2 3", "diamond"),
    ("#7e22ce", "9 3 2 3", "triangle"),
    ("#0e7490", "4 2", "circle"),
    ("#a16207", "1 2", "square"),
]
SEVERITY_COLOURS = {"alert": "#b91c1c", "warning": "#d97706", "info": "#2563eb"}
# A resolved flag keeps its place on the chart, outlined instead of filled.
RESOLVED_COLOUR = "#047857"
FLAG_KINDS = (*SEVERITY_COLOURS, "resolved")


def _n(value):
    """A coordinate with one decimal, without a trailing .0."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def style_for(index):
    return STYLES[index % len(STYLES)]


def sparkline(series, *, title, scale=(0.0, 10.0), cutoff=None, width=110, height=30):
    """A small line per person of their latest values (oldest first), right-aligned on the latest.

    `series` is a list of value lists (one per person; None values are skipped). Returns SVG
    markup with role="img" and the given title. An empty or all-None series draws a dashed
    baseline, so "no data" never looks like a flat good line.
    """
    low, high = scale
    pad = 2.0
    slots = max((len(values) for values in series), default=0)
    step = (width - 2 * pad) / max(slots - 1, 1)

    def y(value):
        return height - pad - (min(max(value, low), high) - low) / (high - low) * (height - 2 * pad)

    parts = [
        f'<svg class="sparkline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img"><title>{escape(title)}</title>'
    ]
    if cutoff is not None:
        parts.append(
            f'<line x1="0" x2="{width}" y1="{_n(y(cutoff))}" y2="{_n(y(cutoff))}" stroke="#dc2626" '
            'stroke-width="0.75" stroke-dasharray="2 2" opacity="0.6"/>'
        )
    drawn = False
    for index, values in enumerate(series):
        colour, dash, _shape = style_for(index)
        offset = slots - len(values)
        points = [(pad + (offset + i) * step, y(v)) for i, v in enumerate(values) if v is not None]
        if not points:
            continue
        drawn = True
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        if len(points) > 1:
            coords = " ".join(f"{_n(px)},{_n(py)}" for px, py in points)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="1.5"{dash_attr}/>')
        last_x, last_y = points[-1]
        parts.append(f'<circle cx="{_n(last_x)}" cy="{_n(last_y)}" r="2" fill="{colour}"/>')
    if not drawn:
        parts.append(
            f'<line x1="{pad}" x2="{width - pad}" y1="{height / 2}" y2="{height / 2}" stroke="#9ca3af" '
            'stroke-dasharray="3 3"/>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


@dataclass(frozen=True)
class Line:
    """One person's series: values by session position (None where no check was answered)."""

    label: str
    values: list
    style: int = 0


@dataclass(frozen=True)
class Marker:
    """Something that happened at a session position: a flag, a missed check, a no-show.

    kind: "alert" / "warning" / "info" (a flag, drawn at the top), "resolved" (a resolved flag, drawn
    at the top outlined), "missed" (a check not answered, drawn at the bottom in the person's style)
    or "no_show" (a session not attended: a dashed line with a cross).
    """

    position: int
    kind: str
    label: str
    style: int = 0


@dataclass(frozen=True)
class Chart:
    chart_id: str
    title: str
    description: str
    x_labels: list
    lines: list
    markers: list = field(default_factory=list)
    cutoff: float | None = None
    scale: tuple = (0.0, 10.0)
    width: int = 720
    height: int = 240


def line_chart(chart):
    """A line chart of scores over sessions, one line per person, as inline SVG markup.

    Draws the clinic's cutoff band (the region below the cutoff, shaded), a legend, session
    numbers on the x axis and the markers of `chart.markers`. Each point and marker carries a
    <title> so hovering (or a screen reader exploring the image) gives the exact value.
    """
    low, high = chart.scale
    left, right, top, bottom = 34.0, 12.0, 18.0, 46.0
    plot_w = chart.width - left - right
    plot_h = chart.height - top - bottom
    count = len(chart.x_labels)
    step = plot_w / max(count - 1, 1)

    def x(position):
        return left + (position * step if count > 1 else plot_w / 2)

    def y(value):
        return top + plot_h - (min(max(value, low), high) - low) / (high - low) * plot_h

    title_id, desc_id = f"{chart.chart_id}-title", f"{chart.chart_id}-desc"
    parts = [
        f'<svg class="chart" id="{escape(chart.chart_id)}" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {chart.width} {chart.height}" role="img" aria-labelledby="{title_id} {desc_id}">'
        f'<title id="{title_id}">{escape(chart.title)}</title><desc id="{desc_id}">{escape(chart.description)}</desc>'
    ]
    if chart.cutoff is not None:
        band_top = y(chart.cutoff)
        parts.append(
            f'<rect class="cutoff-band" x="{_n(left)}" y="{_n(band_top)}" width="{_n(plot_w)}" '
            f'height="{_n(top + plot_h - band_top)}" fill="#fee2e2"><title>Below the clinic cutoff '
            f"({chart.cutoff:g})</title></rect>"
            f'<text x="{_n(left + plot_w - 2)}" y="{_n(band_top + 11)}" text-anchor="end" font-size="10" '
            f'fill="#991b1b">below cutoff {chart.cutoff:g}</text>'
        )
    for tick in range(int(low), int(high) + 1, max(2, int(high - low) // 5)):  # 0–10: every 2; 0–100: every 20
        ty = y(tick)
        parts.append(
            f'<line x1="{_n(left)}" x2="{_n(left + plot_w)}" y1="{_n(ty)}" y2="{_n(ty)}" stroke="#e5e7eb"/>'
            f'<text x="{_n(left - 5)}" y="{_n(ty + 3.5)}" text-anchor="end" font-size="10" fill="#4b5563">{tick}</text>'
        )
    every = max(1, -(-count // 12))  # at most ~12 session numbers on the axis
    for position, label in enumerate(chart.x_labels):
        if position % every == 0 or position == count - 1:
            parts.append(
                f'<text x="{_n(x(position))}" y="{_n(top + plot_h + 13)}" text-anchor="middle" font-size="10" '
                f'fill="#4b5563">{escape(str(label))}</text>'
            )
    for marker in chart.markers:
        if marker.kind == "no_show":
            mx = x(marker.position)
            parts.append(
                f'<g class="marker-no-show"><title>{escape(marker.label)}</title>'
                f'<line x1="{_n(mx)}" x2="{_n(mx)}" y1="{_n(top)}" y2="{_n(top + plot_h)}" stroke="#6b7280" '
                f'stroke-dasharray="3 3"/><text x="{_n(mx)}" y="{_n(top + plot_h - 3)}" text-anchor="middle" '
                'font-size="10" fill="#374151">✕</text></g>'
            )
    for line in chart.lines:
        colour, dash, shape = style_for(line.style)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        run = []
        runs = []
        for position, value in enumerate(line.values):
            if value is None:
                if run:
                    runs.append(run)
                run = []
            else:
                run.append((x(position), y(value)))
        if run:
            runs.append(run)
        for segment in runs:
            if len(segment) > 1:
                coords = " ".join(f"{_n(px)},{_n(py)}" for px, py in segment)
                parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr}/>')
        for position, value in enumerate(line.values):
            if value is not None:
                parts.append(
                    _point(
                        shape,
                        x(position),
                        y(value),
                        colour,
                        f"{line.label}, session {chart.x_labels[position]}: {value:.1f}",
                    )
                )
    flags_at = {}
    for marker in chart.markers:
        if marker.kind in FLAG_KINDS:
            flags_at[marker.position] = flags_at.get(marker.position, 0) + 1
    drawn_at = {}
    for marker in chart.markers:
        if marker.kind == "missed":
            colour, _dash, _shape = style_for(marker.style)
            parts.append(
                f'<g class="marker-missed"><title>{escape(marker.label)}</title><circle cx="{_n(x(marker.position))}" '
                f'cy="{_n(top + plot_h + 24)}" r="3.5" fill="#fff" stroke="{colour}" stroke-width="1.5"/></g>'
            )
        elif marker.kind in FLAG_KINDS:
            # Several flags at one session sit side by side instead of on top of each other.
            index = drawn_at.get(marker.position, 0)
            drawn_at[marker.position] = index + 1
            mx = x(marker.position) + (index - (flags_at[marker.position] - 1) / 2) * 10
            parts.append(
                f'<g class="marker-flag marker-{marker.kind}"><title>{escape(marker.label)}</title>'
                + _flag_triangle(mx, top - 12, marker.kind)
                + "</g>"
            )
    legend_y = chart.height - 6
    cursor = left
    for line in chart.lines:
        colour, dash, shape = style_for(line.style)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<line x1="{_n(cursor)}" x2="{_n(cursor + 22)}" y1="{_n(legend_y - 4)}" y2="{_n(legend_y - 4)}" '
            f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
            + _point(shape, cursor + 11, legend_y - 4, colour, None)
            + f'<text x="{_n(cursor + 27)}" y="{_n(legend_y)}" font-size="11" fill="#111827">'
            + f"{escape(line.label)}</text>"
        )
        cursor += 40 + 6.5 * len(line.label)
    parts.append("</svg>")
    return mark_safe("".join(parts))


def _point(shape, px, py, colour, title):
    tip = f"<title>{escape(title)}</title>" if title else ""
    if shape == "square":
        body = f'<rect x="{_n(px - 3)}" y="{_n(py - 3)}" width="6" height="6" fill="{colour}"/>'
    elif shape == "diamond":
        path = f"M{_n(px)},{_n(py - 4)} L{_n(px + 4)},{_n(py)} L{_n(px)},{_n(py + 4)} L{_n(px - 4)},{_n(py)} Z"
        body = f'<path d="{path}" fill="{colour}"/>'
    elif shape == "triangle":
        path = f"M{_n(px)},{_n(py - 4)} L{_n(px + 4)},{_n(py + 3)} L{_n(px - 4)},{_n(py + 3)} Z"
        body = f'<path d="{path}" fill="{colour}"/>'
    else:
        body = f'<circle cx="{_n(px)}" cy="{_n(py)}" r="3" fill="{colour}"/>'
    if not tip:
        return body
    return f"<g>{tip}{body}</g>"


def _flag_triangle(cx, top, kind):
    """A flag's ▼ with its top edge at `top`: filled in the severity's colour, outlined when resolved."""
    d = f"M{_n(cx - 5)},{_n(top)} L{_n(cx + 5)},{_n(top)} L{_n(cx)},{_n(top + 9)} Z"
    if kind == "resolved":
        return f'<path d="{d}" fill="#fff" stroke="{RESOLVED_COLOUR}" stroke-width="1.5"/>'
    return f'<path d="{d}" fill="{SEVERITY_COLOURS[kind]}"/>'


# The markers' legend: symbol (drawn as on the chart) and words, so nothing is told by colour alone.
LEGEND = (
    ("alert", "open flag: alert"),
    ("warning", "open flag: warning"),
    ("resolved", "resolved flag"),
    ("no_show", "no-show or late cancellation"),
    ("missed", "check not answered"),
)


def _legend_symbol(kind):
    if kind in FLAG_KINDS:
        body = _flag_triangle(7, 2, kind)
    elif kind == "no_show":
        body = (
            '<line x1="7" x2="7" y1="0" y2="12" stroke="#6b7280" stroke-dasharray="3 3"/>'
            '<text x="7" y="11" text-anchor="middle" font-size="10" fill="#374151">✕</text>'
        )
    else:
        body = '<circle cx="7" cy="6" r="3.5" fill="#fff" stroke="#374151" stroke-width="1.5"/>'
    return (
        f'<svg class="legend-symbol" xmlns="http://www.w3.org/2000/svg" width="14" height="12" viewBox="0 0 14 12" '
        f'aria-hidden="true" focusable="false">{body}</svg>'
    )


def marker_legend():
    """The chart markers' legend as an HTML list: each entry an inline symbol and its meaning in text."""
    items = "".join(f"<li>{_legend_symbol(kind)} {escape(text)}</li>" for kind, text in LEGEND)
    return mark_safe(f'<ul class="chart-legend list-inline small mb-1" aria-label="Chart markers">{items}</ul>')


def item_charts(chart_id, items, x_labels, lines_by_item, markers=(), *, width=360, height=180):
    """One small chart per questionnaire item, a line per person, to sit beside the subscales.

    For the couple and family items ("safe to say what I think with the others in the room"):
    `items` is a list of (code, label, prompt) in the questionnaire's order, `lines_by_item` maps
    a code to its Lines (one per person, values by session position as in the other charts), and
    `markers` are drawn as on the subscale panels (no-shows only). Returns [(label, svg)].
    """
    no_shows = [marker for marker in markers if marker.kind == "no_show"]
    result = []
    for code, label, prompt in items:
        lines = lines_by_item.get(code, [])
        who = " and ".join(line.label.split()[0] for line in lines) or "no one"
        result.append(
            (
                label,
                line_chart(
                    Chart(
                        chart_id=f"{chart_id}-{code}",
                        title=f"{label} over sessions for {who}",
                        description=(
                            f"{len(x_labels)} sessions, answers 0 to 10 to “{prompt}”. "
                            "The same figures are in the table."
                        ),
                        x_labels=x_labels,
                        lines=lines,
                        markers=no_shows,
                        width=width,
                        height=height,
                    )
                ),
            )
        )
    return result
