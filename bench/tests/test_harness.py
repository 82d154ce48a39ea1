"""The timing helpers shared by the figures."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from bench.harness import paired_round, side_by_side


def test_the_figure_is_one_real_round_the_median_by_ratio() -> None:
    # Round 2 was measured in a busy moment: both of its sides are slow.
    task = [1.0, 4.0, 1.2]
    raw = [0.8, 4.0, 0.6]

    assert paired_round(task, raw, by=lambda value, baseline: value / baseline) == (1.0, 0.8)
    # Medians taken apart would pair round 3's task with round 1's raw: (1.2, 0.8).


def test_the_median_round_by_difference_and_the_lower_middle_of_an_even_count() -> None:
    task = [0.10, 0.30, 0.06, 0.08]
    raw = [0.01, 0.02, 0.02, 0.01]  # differences 0.09, 0.28, 0.04, 0.07

    assert paired_round(task, raw, by=lambda value, baseline: value - baseline) == (0.08, 0.01)


def test_rounds_must_pair_up() -> None:
    with pytest.raises(ValueError):
        paired_round([1.0, 2.0], [1.0], by=lambda value, baseline: value / baseline)


two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="needs two usable CPUs to pin runs apart"
)


@two_cores
def test_two_runs_go_at_once_each_on_a_core_of_its_own() -> None:
    both_started = threading.Barrier(2, timeout=10)
    seen: dict[str, tuple[set[int], str]] = {}

    def run(name: str, answer: float) -> float:
        seen[name] = (os.sched_getaffinity(0), threading.current_thread().name)
        both_started.wait()  # fails unless the other run is under way at the same time
        return answer

    before = os.sched_getaffinity(0)
    assert side_by_side(lambda: run("first", 1.0), lambda: run("second", 2.0)) == (1.0, 2.0)
    (first_cores, first_thread), (second_cores, second_thread) = seen["first"], seen["second"]
    assert len(first_cores) == 1
    assert len(second_cores) == 1
    assert first_cores != second_cores
    # The first runs in a thread of its own, the second in the caller's, which is given back
    # every core it had.
    assert first_thread != threading.current_thread().name
    assert second_thread == threading.current_thread().name
    assert os.sched_getaffinity(0) == before


@two_cores
def test_a_process_started_by_the_second_run_stays_on_its_core() -> None:
    def printed_cores() -> str:
        return subprocess.run(
            [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip

    _first, second = side_by_side(lambda: None, printed_cores)
    assert second == f"[{sorted(os.sched_getaffinity(0))[1]}]"


@two_cores
def test_a_failed_first_run_fails_the_pair_and_gives_the_cores_back() -> None:
    before = os.sched_getaffinity(0)

    def first() -> float:
        raise RuntimeError("no voice")

    with pytest.raises(RuntimeError, match="no voice"):
        side_by_side(first, lambda: 1.0)
    assert os.sched_getaffinity(0) == before


@two_cores
def test_a_failed_second_run_gives_the_cores_back_after_the_first_ends() -> None:
    before = os.sched_getaffinity(0)
    finished = threading.Event()

    def second() -> float:
        raise RuntimeError("no worker")

    with pytest.raises(RuntimeError, match="no worker"):
        side_by_side(lambda: finished.set(), second)
    assert finished.is_set()
    assert os.sched_getaffinity(0) == before


def test_on_one_core_the_runs_go_one_after_the_other(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[str] = []
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    assert side_by_side(lambda: order.append("first"), lambda: order.append("second")) == (
        None,
        None,
    )
    assert order == ["first", "second"]
