"""Timing helpers and the result format shared by every figure."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None
    note: str = ""
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return round(self.value / self.baseline, 3)  # type: ignore[operator]

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["ratio"] = self.ratio
        return data


# Calls before a side's first samples: imports, templates, query plans, connections.
WARMUP = 20
# ... and before each later round of it: the caches the other side's round displaced.
REWARM = 3


def sample_ms(func: Callable[[], object], *, runs: int, warmup: int = WARMUP) -> list[float]:
    """Wall-clock milliseconds of `runs` calls after `warmup` calls."""
    for _ in range(warmup):
        func()
    gc.collect()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def interleaved_p50(
    value: Callable[[], object], baseline: Callable[[], object], *, runs: int, rounds: int = 5
) -> tuple[float, float]:
    """Median of several rounds, alternating value and baseline so machine noise hits both. Each
    side is warmed up in full before its first round, and briefly before each later one."""
    values, baselines = [], []
    for number in range(rounds):
        warmup = WARMUP if number == 0 else REWARM
        values.append(p50(sample_ms(value, runs=runs, warmup=warmup)))
        baselines.append(p50(sample_ms(baseline, runs=runs, warmup=warmup)))
    return statistics.median(values), statistics.median(baselines)
