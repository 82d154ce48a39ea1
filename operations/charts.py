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

# Sizes are in the SVG's own units. The CSS draws a chart no wider than its box and scales it
# within limits (static/dashboard.css, .chart): a day chart's box is at least about 280 px wide
# (a phone), so text of FONT units is drawn at no less than 11 px; the widest box draws it at
# about 17 px.
FONT = 13
# An upper bound of a text's width, as a share of the font size (digits and most letters are
# narrower): room is made from it so that no text runs past the chart's edge.
CHAR_WIDTH = 0.62

WIDTH = 320  # day charts (three in a row on a wide screen, one on a phone)
HEIGHT = 180
RIGHT = 4
TOP = 10
BOTTOM = FONT + 10  # room for the date labels

WIDE = 400  # the chart by voice: a line of its own per name
ROW = FONT + 22  # a name above its bar
BAR = 12


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
    top = nice_ceiling(max((value for _day, value in points), default=0))
    ticks = [(fraction, _number(top * fraction)) for fraction in (0.0, 0.5, 1.0)]
    left = _text_width(max((label for _fraction, label in ticks), key=len)) + 8
    plot_width = WIDTH - left - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    slot = plot_width / max(len(points), 1)
    bar_width = max(slot * 0.8, 1.0)
    parts: list[SafeString] = []
    for fraction, label in ticks:
        y = TOP + plot_height * (1 - fraction)
        parts.append(
            format_html(
                '<line class="grid" x1="{}" y1="{}" x2="{}" y2="{}"/>'
                '<text class="axis" x="{}" y="{}" text-anchor="end">{}</text>',
                _c(left), _c(y), WIDTH - RIGHT, _c(y), _c(left - 6),
                _c(min(max(y + FONT * 0.35, FONT), TOP + plot_height)), label,
            )
        )  # fmt: skip
    for index, (day, value) in enumerate(points):
        height = plot_height * (value / top) if top else 0
        x = left + index * slot + (slot - bar_width) / 2
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
        # The first and last dates are aligned to the plot's edges, so that neither is cut off.
        labelled = sorted({0, len(points) // 2, len(points) - 1})
        for index in labelled:
            if index == 0:
                x, anchor = left, "start"
            elif index == len(points) - 1:
                x, anchor = WIDTH - RIGHT, "end"
            else:
                x, anchor = left + index * slot + slot / 2, "middle"
            parts.append(
                format_html(
                    '<text class="axis" x="{}" y="{}" text-anchor="{}">{}</text>',
                    _c(x), HEIGHT - 6, anchor, points[index][0].strftime("%d %b"),
                )
            )  # fmt: skip
    return _svg(chart_id=chart_id, title=title, width=WIDTH, height=HEIGHT, parts=parts)


def horizontal_bar_chart(
    *, chart_id: str, title: str, rows: Sequence[tuple[str, float]], unit: str = ""
) -> SafeString:
    """One bar per named row (engines and voices), longest first as given: each name on a line
    of its own above its bar, so that long names fit on a phone."""
    height = TOP + ROW * max(len(rows), 1)
    top = nice_ceiling(max((value for _name, value in rows), default=0))
    values = [_number(value) for _name, value in rows]
    plot_width = WIDE - RIGHT - 6 - max((_text_width(value) for value in values), default=0)
    longest_name = int(WIDE / (FONT * CHAR_WIDTH))
    parts: list[SafeString] = []
    for index, ((name, value), shown) in enumerate(zip(rows, values, strict=True)):
        y = TOP + index * ROW
        length = plot_width * (value / top) if top else 0
        parts.append(
            format_html(
                '<text class="label" x="0" y="{}">{}</text>'
                '<rect class="bar" x="0" y="{}" width="{}" height="{}">'
                "<title>{}: {} {}</title></rect>"
                '<text class="axis" x="{}" y="{}">{}</text>',
                _c(y + FONT), _shorten(name, longest_name),
                _c(y + FONT + 5), _c(max(length, 0)), BAR, name, shown, unit,
                _c(length + 6), _c(y + FONT + 5 + BAR - 1), shown,
            )
        )  # fmt: skip
    return _svg(chart_id=chart_id, title=title, width=WIDE, height=height, parts=parts)


def _svg(
    *, chart_id: str, title: str, width: int, height: int, parts: Sequence[SafeString]
) -> SafeString:
    kind = "chart chart-wide" if width == WIDE else "chart"
    return format_html(
        '<svg class="{}" id="{}" viewBox="0 0 {} {}" role="img" aria-labelledby="{}-title">'
        '<title id="{}-title">{}</title>{}</svg>',
        kind, chart_id, width, height, chart_id, chart_id, title,
        format_html_join("", "{}", ((part,) for part in parts)),
    )  # fmt: skip


def _text_width(text: str) -> float:
    return len(text) * FONT * CHAR_WIDTH


def _c(coordinate: float) -> str:
    """A coordinate with one decimal: enough for a chart, short in the markup."""
    return f"{coordinate:.1f}"


def _shorten(name: str, limit: int = 30) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
