"""bench/growth.png: one panel per growth curve, on log-log axes, so a reader sees at a glance
whether cost grows linearly (the dotted line) or slower or faster."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

# curve → (panel title, what n counts, baseline's name)
CURVES = {
    "doc_list_ms": ("Document list, one page (p50)", "documents", "bare SQL"),
    "extract_s": ("PDF extraction", "pages", "raw pypdfium2"),
    "synth_s": ("Synthesis", "characters", "raw Piper"),
}
_NAME = re.compile(r"^growth_(?P<curve>[a-z_]+)_n(?P<size>\d+)$")


def growth_points(
    rows: Iterable[Mapping[str, object]],
) -> dict[str, list[tuple[int, float, float | None]]]:
    """(size, value, baseline) for each curve, by size, from result rows."""
    curves: dict[str, list[tuple[int, float, float | None]]] = {}
    for row in rows:
        match = _NAME.match(str(row["name"]))
        if match is None or match["curve"] not in CURVES:
            continue
        baseline = row.get("baseline")
        curves.setdefault(match["curve"], []).append(
            (
                int(match["size"]),
                float(row["value"]),  # type: ignore[arg-type]
                None if baseline is None else float(baseline),  # type: ignore[arg-type]
            )
        )
    return {curve: sorted(points) for curve, points in curves.items()}


def exponent(points: list[tuple[int, float, float | None]]) -> float | None:
    """The slope from the smallest to the largest point on log-log axes: 1 is linear growth,
    0 is flat."""
    (x0, y0, _), (x1, y1, _) = points[0], points[-1]
    if x1 == x0 or y0 <= 0 or y1 <= 0:
        return None
    return math.log(y1 / y0) / math.log(x1 / x0)


def draw_growth(rows: Iterable[Mapping[str, object]], path: Path) -> bool:
    """Draw the growth curves found in `rows` to `path` (PNG); False when there are none."""
    curves = growth_points(rows)
    if not curves:
        return False
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [name for name in CURVES if name in curves]
    figure = Figure(figsize=(5 * len(names), 4.4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        title, counted, baseline_name = CURVES[name]
        points = curves[name]
        unit = name.rsplit("_", 1)[-1]
        sizes = [size for size, _, _ in points]
        values = [value for _, value, _ in points]
        ax.loglog(sizes, values, "o-", color="tab:blue", label="Pagecast")
        for size, value in zip(sizes, values, strict=True):
            ax.annotate(f"{value:.3g}", (size, value), textcoords="offset points",
                        xytext=(4, 6), fontsize=8)  # fmt: skip
        measured = [(size, base) for size, _, base in points if base]
        if measured:
            ax.loglog(*zip(*measured, strict=True), "s--", color="tab:orange",
                      label=baseline_name)  # fmt: skip
        if len(points) > 1:
            first_size, first_value = sizes[0], values[0]
            linear = [first_value * size / first_size for size in sizes]
            ax.loglog(sizes, linear, ":", color="grey", label="linear from the first point")
            slope = exponent(points)
            if slope is not None:
                title = f"{title}\ngrowth exponent {slope:.2f} (1 = linear)"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(counted)
        ax.set_ylabel(unit)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    figure.suptitle("How cost grows with size (make bench; log-log axes)", fontsize=11)
    figure.savefig(path, dpi=100)
    return True
