"""Charts drawn on the server as inline SVG: no script, no style attribute (the Content Security
Policy allows neither), colours from static/dashboard.css through class names.

Markup is built with format_html only, so every text that goes into it is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

from django.utils.formats import number_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 640
HEIGHT = 200
LEFT = 56  # room for the value labels
RIGHT = 8
TOP = 12
BOTTOM = 24  # room for the date labels
LABEL_WIDTH = 200  # horizontal bars: room for the names


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (the axis top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    if float(value).is_integer():
        return number_format(int(value), force_grouping=True)
    return number_format(value, decimal_pos=1, force_grouping=True)


def bar_chart(
    *, chart_id: str, title: str, points: Sequence[tuple[date, float]], unit: str = ""
) -> SafeString:
    """One bar per day; each bar has a title (shown on hover, read by screen readers)."""
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((value for _day, value in points), default=0))
    slot = plot_width / max(len(points), 1)
    bar_width = max(slot * 0.8, 1.0)
    parts: list[SafeString] = []
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_height * (1 - fraction)
        parts.append(
            format_html(
                '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"/>'
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                LEFT, _c(y), WIDTH - RIGHT, _c(y), LEFT - 6, _c(y + 4), _number(top * fraction),
            )
        )  # fmt: skip
    for index, (day, value) in enumerate(points):
        height = plot_height * (value / top) if top else 0
        x = LEFT + index * slot + (slot - bar_width) / 2
        parts.append(
            format_html(
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} {}</title></rect>",
                _c(x), _c(TOP + plot_height - height), _c(bar_width), _c(max(height, 0)),
                day.isoformat(),
                _number(value), unit,
            )
        )  # fmt: skip
    if points:
        labelled = sorted({0, len(points) // 2, len(points) - 1})
        for index in labelled:
            x = LEFT + index * slot + slot / 2
            parts.append(
                format_html(
                    '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
                    _c(x), HEIGHT - 6, points[index][0].strftime("%d %b"),
                )
            )  # fmt: skip
    return _svg(chart_id=chart_id, title=title, height=HEIGHT, parts=parts)


def horizontal_bar_chart(
    *, chart_id: str, title: str, rows: Sequence[tuple[str, float]], unit: str = ""
) -> SafeString:
    """One bar per named row (engines and voices), longest first as given."""
    row_height = 22
    height = TOP + row_height * max(len(rows), 1) + 8
    plot_width = WIDTH - LABEL_WIDTH - RIGHT - 80
    top = nice_ceiling(max((value for _name, value in rows), default=0))
    parts: list[SafeString] = []
    for index, (name, value) in enumerate(rows):
        y = TOP + index * row_height
        length = plot_width * (value / top) if top else 0
        parts.append(
            format_html(
                '<text class="label" x="{}" y="{}" text-anchor="end">{}</text>'
                '<rect class="bar" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}: {} {}</title></rect>"
                '<text class="axis" x="{}" y="{}">{}</text>',
                LABEL_WIDTH - 8, y + 15, _shorten(name),
                LABEL_WIDTH, y + 4, _c(max(length, 0)), row_height - 8, name, _number(value), unit,
                _c(LABEL_WIDTH + length + 6), y + 15, _number(value),
            )
        )  # fmt: skip
    return _svg(chart_id=chart_id, title=title, height=height, parts=parts)


def _svg(*, chart_id: str, title: str, height: int, parts: Sequence[SafeString]) -> SafeString:
    return format_html(
        '<svg class="chart" id="{}" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title">'
        '<title id="{}-title">{}</title>{}</svg>',
        chart_id, WIDTH, height, chart_id, chart_id, title,
        format_html_join("", "{}", ((part,) for part in parts)),
    )  # fmt: skip


def _c(coordinate: float) -> str:
    """A coordinate with one decimal: enough for a chart, short in the markup."""
    return f"{coordinate:.1f}"


def _shorten(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
