from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import Figure, interleaved_p50, percentile

ROOT = Path(__file__).resolve().parents[2]


def test_ratio_is_value_over_baseline() -> None:
    assert Figure("x", 3.0, "ms", 1.5).ratio == 2.0
    assert Figure("x", 3.0, "ms", None).ratio is None
    assert Figure("x", 3.0, "ms", 0).ratio is None


def test_percentile_picks_from_the_ordered_samples() -> None:
    samples = [float(n) for n in range(1, 101)]
    assert percentile(samples, 0.5) in (50.0, 51.0)
    assert percentile(samples, 0.95) == 95.0
    assert percentile(samples, 1.0) == 100.0


def test_interleaved_p50_measures_both_sides() -> None:
    calls = {"value": 0, "baseline": 0}

    def value() -> None:
        calls["value"] += 1

    def baseline() -> None:
        calls["baseline"] += 1

    measured, base = interleaved_p50(value, baseline, runs=5, rounds=2)
    assert measured >= 0
    assert base >= 0
    assert calls["value"] == calls["baseline"] > 10


@pytest.mark.slow
def test_make_bench_writes_results_in_the_documented_shape(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(BENCH_RESULTS=str(tmp_path / "results.json"), DATA_DIR=str(tmp_path / "data"))
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "health_p50"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data) == {"figures", "machine"}
    (figure,) = data["figures"]
    assert {"name", "value", "unit", "baseline", "ratio", "note"} <= set(figure)
    assert figure["name"] == "health_ms_p50"
    assert figure["value"] > 0
    assert figure["baseline"] > 0
    assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"], rel=0.01)
    assert "health_ms_p50" in result.stdout
