"""The server-drawn SVG charts."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from operations.charts import bar_chart, horizontal_bar_chart, nice_ceiling


@pytest.mark.parametrize(
    ("value", "ceiling"),
    [
        (0, 1),
        (0.3, 0.5),
        (1, 1),
        (7, 10),
        (12, 20),
        (21, 25),
        (240, 250),
        (251, 500),
        (9000, 10000),
    ],
)
def test_the_axis_top_is_a_round_number_at_or_above_the_largest_value(
    value: float, ceiling: float
) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_a_bar_chart_has_one_bar_per_day_scaled_to_the_top() -> None:
    first = date(2025, 5, 1)
    points = [(first + timedelta(days=offset), value) for offset, value in enumerate([0, 5, 10])]
    svg = str(bar_chart(chart_id="c", title="Audio made", points=points))
    assert svg.startswith('<svg class="chart" id="c"')
    assert svg.endswith("</svg>")
    assert svg.count('<rect class="bar"') == 3
    assert 'role="img" aria-labelledby="c-title"' in svg
    assert "<title>2025-05-03: 10 </title>" in svg
    heights = [float(height) for height in re.findall(r'<rect [^>]*height="([\d.]+)"', svg)]
    assert heights[0] == 0
    assert heights[2] == pytest.approx(2 * heights[1])
    assert "style=" not in svg


def test_an_empty_chart_is_still_a_chart() -> None:
    assert str(bar_chart(chart_id="c", title="Nothing", points=[])).endswith("</svg>")
    assert "<rect" not in str(horizontal_bar_chart(chart_id="h", title="Nothing", rows=[]))


def test_text_in_charts_is_escaped() -> None:
    svg = str(
        horizontal_bar_chart(chart_id="h", title="<script>", rows=[('piper:"><img src=x>', 3)])
    )
    assert "<script>" not in svg
    assert "<img" not in svg
    assert "&lt;script&gt;" in svg
    assert "&lt;img src=x&gt;" in svg


def test_edge_labels_are_anchored_inside_and_the_axis_makes_room_for_long_numbers() -> None:
    from operations.charts import CHAR_WIDTH, FONT

    first = date(2025, 5, 1)
    points = [(first + timedelta(days=offset), 2_500_000.0 * offset) for offset in range(30)]
    svg = str(bar_chart(chart_id="c", title="Characters", points=points))
    dates = re.findall(
        r'<text class="axis" x="([\d.]+)" y="[\d.]+" text-anchor="(\w+)">(\d\d \w+)<', svg
    )
    assert [(anchor, label) for _x, anchor, label in dates] == [
        ("start", "01 May"), ("middle", "16 May"), ("end", "30 May"),
    ]  # fmt: skip
    # The axis top (100,000,000) is the longest label: the plot starts right of its end.
    assert 'text-anchor="end">100,000,000</text>' in svg
    left = float(re.findall(r'<line class="grid" x1="([\d.]+)"', svg)[0])
    assert left >= len("100,000,000") * FONT * CHAR_WIDTH + 6


def test_names_in_the_chart_by_voice_have_a_line_of_their_own() -> None:
    rows = [("piper:en_US-hfc_female-medium", 9_000_000.0), ("fake:alpha", 10.0)]
    svg = str(horizontal_bar_chart(chart_id="h", title="By voice", rows=rows))
    names = re.findall(r'<text class="label" x="0" y="([\d.]+)">([^<]+)<', svg)
    bars = re.findall(r'<rect class="bar" x="0" y="([\d.]+)" width="([\d.]+)"', svg)
    assert [name for _y, name in names] == [name for name, _value in rows]
    # Each name sits above its own bar, and the longest bar leaves room for its number.
    for (name_y, _name), (bar_y, _width) in zip(names, bars, strict=True):
        assert float(name_y) < float(bar_y)
    assert float(bars[0][1]) + 6 + len("9,000,000") * 13 * 0.62 <= 400
