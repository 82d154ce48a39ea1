"""Timing helpers and the result format shared by every figure."""

from __future__ import annotations

import gc
import os
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TypeVar

_A = TypeVar("_A")
_B = TypeVar("_B")


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


def paired_round(
    values: list[float], baselines: list[float], *, by: Callable[[float, float], float]
) -> tuple[float, float]:
    """The value and baseline of one round: the median round when ordered by
    `by(value, baseline)` (the lower middle one of an even count).

    A round measures its value and its baseline one right after the other (or at once), so a
    burst of load on a shared machine moves both; the figure's ratio (or difference) is then
    that of a real round, where medians of each side taken apart could pair a quiet moment of
    one with a busy one of the other.
    """
    rounds = sorted(zip(values, baselines, strict=True), key=lambda pair: by(*pair))
    return rounds[(len(rounds) - 1) // 2]


def side_by_side(first: Callable[[], _A], second: Callable[[], _B]) -> tuple[_A, _B]:
    """`first` and `second` at once, each pinned to a CPU core of its own: `first` in a new
    thread, `second` in the calling thread (a process it starts inherits the pin), whose affinity
    is put back afterwards. Where this process may use fewer than two cores, one after the
    other, unpinned.

    A figure and its baseline measured this way meet the same moment of a shared machine, and
    take the time of one of them: each side must then use one core (one onnxruntime thread).
    """
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return first(), second()
    result: list[_A] = []
    failure: list[BaseException] = []

    def run_first() -> None:
        try:
            os.sched_setaffinity(0, {allowed[0]})  # this thread only (Linux)
            result.append(first())
        except BaseException as error:  # re-raised in the caller
            failure.append(error)

    thread = threading.Thread(target=run_first, name="bench-side-by-side")
    thread.start()
    try:
        os.sched_setaffinity(0, {allowed[1]})
        try:
            ran = second()
        finally:
            os.sched_setaffinity(0, allowed)
    finally:
        thread.join()
    if failure:
        raise failure[0]
    return result[0], ran
