from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from bench.harness import REWARM, WARMUP, Figure, interleaved_p50, percentile

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

    measured, base = interleaved_p50(value, baseline, runs=5, rounds=3)
    assert measured >= 0
    assert base >= 0
    # A full warm-up before each side's first round, a short one before each later round.
    assert calls["value"] == calls["baseline"] == WARMUP + 5 + 2 * (REWARM + 5)


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


# --- group selection --------------------------------------------------------------------------


def _measure(name: str) -> Callable[[], list[Figure]]:
    def measure() -> list[Figure]:
        return []

    measure.__name__ = name
    return measure


def test_figures_are_selected_by_group_or_by_function_name() -> None:
    from bench.run import select

    a, b, c = _measure("a"), _measure("b"), _measure("c")
    available = {"first": [a, b], "second": [c]}
    assert select(available, []) == [a, b, c]
    assert select(available, ["second"]) == [c]
    assert select(available, ["b", "second"]) == [b, c]
    with pytest.raises(SystemExit, match="unknown group or figure: nope"):
        select(available, ["first", "nope"])


def test_every_group_is_listed_and_names_are_unique() -> None:
    from bench.run import groups

    available = groups()
    assert {"core", "documents", "speech", "api", "growth", "load"} <= set(available)
    names = [measure.__name__ for group in available.values() for measure in group]
    assert len(names) == len(set(names))
    assert {"api_status_rps", "load", "growth_doc_list", "growth_synthesis"} <= set(names)


def test_the_synthesis_growth_points_follow_the_rounds_they_share() -> None:
    from bench.run import groups

    # synth_rtf's 3,000-character rounds are the growth curve's: its exponent compares them
    # with the 20,000-character round, so nothing else is measured between the two figures.
    order = [measure.__name__ for group in groups().values() for measure in group]
    assert order[order.index("synthesis") + 1] == "growth_synthesis"
    # ... and they are the same measurement: the same page, the same number of rounds.
    from bench import figures_growth, figures_speech

    assert figures_speech.CHARS in figures_growth.SYNTH_SIZES
    assert figures_growth.SYNTH_ROUNDS[figures_speech.CHARS] == figures_speech.ROUNDS


# --- quick runs ----------------------------------------------------------------------------------


def test_every_figure_has_quick_sizes_it_accepts() -> None:
    from bench.run import QUICK, groups

    measures = {measure.__name__: measure for group in groups().values() for measure in group}
    assert set(QUICK) == set(measures)
    for name, kwargs in QUICK.items():
        # Each function takes its quick sizes as keyword arguments (TypeError otherwise).
        inspect.signature(measures[name]).bind(**kwargs)


def _recording(
    name: str, calls: list[tuple[str, dict[str, object]]]
) -> Callable[..., list[Figure]]:
    def measure(**kwargs: object) -> list[Figure]:
        calls.append((name, kwargs))
        return [Figure(f"{name}_ms", 2.0, "ms", 1.0, note=f"{name} measured")]

    measure.__name__ = name
    return measure


@pytest.fixture
def fake_runner(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[list[tuple[str, dict[str, object]]], Path]:
    """bench.run with three fake figures (no benchmark runs) writing into tmp_path."""
    from bench import run

    calls: list[tuple[str, dict[str, object]]] = []
    available = {
        "first": [_recording("a", calls), _recording("growth_b", calls)],
        "second": [_recording("c", calls)],
    }
    monkeypatch.setattr(run, "setup", lambda: lambda: None)
    monkeypatch.setattr(run, "groups", lambda: available)
    monkeypatch.setattr(run, "QUICK", {"a": {"size": 3, "rounds": 1}, "c": {"users": 2}})
    monkeypatch.setattr(run, "RESULTS", tmp_path / "results.json")
    return calls, tmp_path


def _names_and_notes(path: Path) -> dict[str, str]:
    return {row["name"]: row["note"] for row in json.loads(path.read_text())["figures"]}


def test_a_quick_run_passes_the_quick_sizes_and_writes_its_own_file(
    fake_runner: tuple[list[tuple[str, dict[str, object]]], Path],
) -> None:
    from bench.run import main

    calls, folder = fake_runner
    full = folder / "results.json"
    full.write_text('{"figures": [], "machine": {}}\n')
    before = full.read_bytes()

    assert main(["--quick"]) == 0

    assert calls == [("a", {"size": 3, "rounds": 1}), ("growth_b", {}), ("c", {"users": 2})]
    assert full.read_bytes() == before
    assert _names_and_notes(folder / "results-quick.json") == {
        "a_ms": "quick: a measured",
        "growth_b_ms": "quick: growth_b measured",
        "c_ms": "quick: c measured",
    }
    # No chart of a quick run's short curves, under either name.
    assert sorted(path.name for path in folder.iterdir()) == ["results-quick.json", "results.json"]


def test_a_partial_quick_run_keeps_the_other_quick_figures(
    fake_runner: tuple[list[tuple[str, dict[str, object]]], Path],
) -> None:
    from bench.run import main

    calls, folder = fake_runner
    assert main(["--quick"]) == 0
    calls.clear()

    assert main(["second", "--quick"]) == 0

    assert calls == [("c", {"users": 2})]
    assert set(_names_and_notes(folder / "results-quick.json")) == {"a_ms", "growth_b_ms", "c_ms"}
    assert not (folder / "results.json").exists()


def test_a_full_run_uses_the_full_sizes_and_writes_the_results(
    fake_runner: tuple[list[tuple[str, dict[str, object]]], Path],
) -> None:
    from bench.run import main

    calls, folder = fake_runner
    assert main(["a", "c"]) == 0

    assert calls == [("a", {}), ("c", {})]
    assert _names_and_notes(folder / "results.json") == {"a_ms": "a measured", "c_ms": "c measured"}
    assert not (folder / "results-quick.json").exists()


def test_a_quick_run_of_an_unknown_name_stops_before_measuring(
    fake_runner: tuple[list[tuple[str, dict[str, object]]], Path],
) -> None:
    from bench.run import main

    calls, folder = fake_runner
    with pytest.raises(SystemExit, match="unknown group or figure: nope"):
        main(["--quick", "a", "nope"])
    assert calls == []
    assert list(folder.iterdir()) == []


def test_the_listening_figures_share_one_server_and_worker(
    monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path
) -> None:
    from bench import stack
    from bench.server import Server

    events: list[str] = []

    @contextmanager
    def process(name: str) -> Iterator[Server]:
        events.append(f"start {name}")
        yield Server("127.0.0.1", 1, 2, 4, tmp_path / "log")
        events.append(f"stop {name}")

    settings.DATA_DIR = tmp_path
    monkeypatch.setattr(stack, "gunicorn", lambda **kwargs: process("gunicorn"))
    monkeypatch.setattr(stack, "celery_worker", lambda **kwargs: process("worker"))
    monkeypatch.setattr(stack, "_warm_up_page", lambda port: (1, "token"))
    monkeypatch.setattr(stack, "warm_up", lambda *args: events.append("warm-up audio"))

    first = stack.warm_server()
    assert stack.warm_server() is first
    assert events == ["start gunicorn", "start worker", "warm-up audio"]
    stack.close()
    assert events[3:] == ["stop worker", "stop gunicorn"]
    stack.close()  # (nothing more to stop)
    assert len(events) == 5
    stack.warm_server()  # a later run starts them again
    stack.close()
    assert len(events) == 10


# --- growth curves and the chart -----------------------------------------------------------------


def _row(name: str, value: float, baseline: float | None = None) -> dict[str, object]:
    return {"name": name, "value": value, "baseline": baseline, "unit": "s"}


def test_growth_points_are_read_from_the_names_in_size_order() -> None:
    from bench.chart import exponent, growth_points

    rows = [
        _row("growth_extract_s_n100", 1.0, 0.5),
        _row("growth_extract_s_n10", 0.1, 0.05),
        _row("doc_list_ms_p50", 9.0, 1.0),
        _row("growth_unknown_s_n10", 1.0),
    ]
    curves = growth_points(rows)
    assert curves == {"extract_s": [(10, 0.1, 0.05), (100, 1.0, 0.5)]}
    assert exponent(curves["extract_s"]) == pytest.approx(1.0)
    assert exponent([(10, 5.0, None), (10_000, 5.0, None)]) == pytest.approx(0.0)
    assert exponent([(10, 1.0, None), (100, 100.0, None)]) == pytest.approx(2.0)


def test_the_growth_chart_is_a_png_with_one_panel_per_curve(tmp_path: Path) -> None:
    from bench.chart import draw_growth

    rows = [
        _row("growth_doc_list_ms_n10", 8.0, 0.1),
        _row("growth_doc_list_ms_n10000", 9.0, 1.5),
        _row("growth_synth_s_n500", 2.0, 2.1),
        _row("growth_synth_s_n3000", 12.0, 12.5),
        _row("growth_synth_s_n20000", 80.0, None),
    ]
    chart = tmp_path / "growth.png"
    assert draw_growth(rows, chart) is True
    data = chart.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(data[16:20], "big")
    assert draw_growth(rows[:2], tmp_path / "one.png") is True
    # Two panels are drawn wider than one.
    assert width > int.from_bytes((tmp_path / "one.png").read_bytes()[16:20], "big")


def test_no_chart_without_growth_figures(tmp_path: Path) -> None:
    from bench.chart import draw_growth

    assert draw_growth([_row("synth_rtf", 0.05, 0.05)], tmp_path / "growth.png") is False
    assert not (tmp_path / "growth.png").exists()


def test_texts_of_a_length_end_on_a_whole_sentence() -> None:
    from bench.texts import PAGE_TEXT, text_of_length

    assert text_of_length(3_000, at_most=20_000) == PAGE_TEXT
    for size in (500, 20_000):
        text = text_of_length(size, at_most=20_000)
        assert abs(len(text) - size) < 0.1 * size
        assert len(text) <= 20_000
        assert text.rstrip('"').endswith((".", "?", "!"))
        assert not text.endswith(("e.g.", "Dr.", "Mr.", "approx."))


@pytest.mark.django_db
def test_document_list_growth_names_one_figure_per_size() -> None:
    from bench.figures_growth import growth_doc_list

    figures = growth_doc_list(sizes=(2, 5), runs=2, rounds=1)
    assert [figure.name for figure in figures] == [
        "growth_doc_list_ms_n2",
        "growth_doc_list_ms_n5",
    ]
    for figure in figures:
        assert figure.unit == "ms"
        assert figure.value > 0
        assert figure.baseline is not None
        assert figure.baseline > 0
        assert "documents" in figure.note


@pytest.mark.django_db
def test_extraction_growth_measures_the_service_beside_raw_pdfium() -> None:
    from bench.figures_growth import growth_extraction
    from document_processing.models import Document

    (figure,) = growth_extraction(sizes=(3,), rounds=1)
    assert figure.name == "growth_extract_s_n3"
    assert figure.value > 0
    assert figure.baseline is not None
    assert figure.baseline > 0
    assert "3-page" in figure.note
    assert not Document.objects.exists()  # each run's document is removed again


def test_synthesis_growth_rounds_names_and_exponent(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import figures_growth, figures_speech

    measured: list[tuple[int, int]] = []
    # The task grows as n ** 1.1 (above its target), raw Piper linearly.
    task_seconds = {3_038: 10.0, 19_941: 10.0 * (19_941 / 3_038) ** 1.1}

    def fake_measure(text: str, *, rounds: int = 3) -> figures_speech.SynthesisRuns:
        measured.append((len(text), rounds))
        task = task_seconds.get(len(text), len(text) / 100)
        return figures_speech.SynthesisRuns(
            len(text), [task] * rounds, [len(text) / 15] * rounds,
            [len(text) / 110] * rounds, [len(text) / 15] * rounds,
        )  # fmt: skip

    monkeypatch.setattr(figures_speech, "measure_synthesis", fake_measure)
    figures = figures_growth.growth_synthesis()
    assert [figure.name for figure in figures] == [
        "growth_synth_s_n500",
        "growth_synth_s_n3000",
        "growth_synth_s_n20000",
        "growth_synth_exponent",
    ]
    assert [size for size, _ in measured] == [520, 3_038, 19_941]
    assert [rounds for _, rounds in measured] == [2, 3, 1]
    largest, exponent = figures[2], figures[3]
    assert largest.value == pytest.approx(task_seconds[19_941], abs=0.001)
    assert largest.baseline == pytest.approx(19_941 / 110, abs=0.001)  # raw Piper, same run
    assert largest.target == "ratio ≤ 1.1"
    assert "one round" in largest.note
    assert "load average" in largest.note  # one round on a busy machine says little
    assert all(figure.baseline is not None for figure in figures)
    assert figures[0].target == "reported"
    assert "the round with the lower ratio of 2" in figures[0].note
    assert "the round with the median ratio of 3" in figures[1].note
    assert "side by side" in figures[0].note
    assert exponent.value == pytest.approx(1.1, abs=0.001)
    assert exponent.baseline == pytest.approx(1.0, abs=0.001)
    assert exponent.target == "≤ 1.03"
    assert "3,038 to 19,941 characters" in exponent.note


def test_synthesis_growth_without_both_exponent_sizes_has_no_exponent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import figures_growth, figures_speech

    def fake_measure(text: str, *, rounds: int = 3) -> figures_speech.SynthesisRuns:
        return figures_speech.SynthesisRuns(len(text), [1.0], [30.0], [0.9], [30.0])

    monkeypatch.setattr(figures_speech, "measure_synthesis", fake_measure)
    figures = figures_growth.growth_synthesis(sizes=(500,), rounds={500: 1})  # as --quick runs
    assert [figure.name for figure in figures] == ["growth_synth_s_n500"]


def test_the_synthesis_exponent_is_taken_from_each_sizes_median_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import figures_growth, figures_speech

    # One slow and one fast round at 3,000 characters around the median one; the task grows
    # linearly from that median to 20,000.
    task = {3_038: [14.0, 10.0, 9.0], 19_941: [10.0 * 19_941 / 3_038]}
    raw = {3_038: [13.0, 10.0, 9.5], 19_941: [10.0 * 19_941 / 3_038]}

    def fake_measure(text: str, *, rounds: int = 3) -> figures_speech.SynthesisRuns:
        audio = [len(text) / 15] * rounds
        return figures_speech.SynthesisRuns(
            len(text), task[len(text)], audio, raw[len(text)], audio
        )

    monkeypatch.setattr(figures_speech, "measure_synthesis", fake_measure)
    figures = figures_growth.growth_synthesis(sizes=(3_000, 20_000))
    exponent = figures[-1]
    assert exponent.name == "growth_synth_exponent"
    assert exponent.value == pytest.approx(1.0, abs=0.001)
    assert exponent.baseline == pytest.approx(1.0, abs=0.001)
    assert "the median of a size's rounds" in exponent.note


@pytest.mark.django_db
def test_a_synthesis_measurement_is_made_once_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bench import figures_speech
    from speech_processing.models import Audio

    monkeypatch.setattr(figures_speech, "_measured", {})
    made: list[int] = []
    task_path = figures_speech._task_path

    def counted_task(*args: Any) -> tuple[float, float]:
        made.append(1)
        return task_path(*args)

    monkeypatch.setattr(figures_speech, "_task_path", counted_task)
    text = "The first part of a page. And the second part of it."
    first = figures_speech.measure_synthesis(text, rounds=1)
    again = figures_speech.measure_synthesis(text, rounds=1)
    assert again is first  # synth_rtf and the growth curve share their 3,000-character runs
    assert len(made) == 1
    assert first.task_s[0] > 0
    assert first.raw_audio_s[0] > 0
    figures_speech.measure_synthesis(text, rounds=2)  # another measurement is made
    assert len(made) == 3
    assert not Audio.objects.exists()


# --- the load client -----------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []
    connections: ClassVar[set[int]] = set()

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.connections.add(self.client_address[1])
        if self.path == "/drop":  # no answer at all
            self.close_connection = True
            return
        status = 500 if self.path == "/fail" else 200
        body = b"ok" if status == 200 else b"broken"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/idle-close":  # as a keep-alive timeout does, without saying so
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tiny_server() -> Iterator[tuple[str, int]]:
    _Handler.seen, _Handler.connections = [], set()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_driver_counts_every_failed_request_once(tiny_server: tuple[str, int]) -> None:
    from bench.client import Session, drive

    def scenario(session: Session, user: int) -> None:
        assert session.get("/ok", label="ok") == b"ok"
        assert session.get("/fail", label="fail") is None
        assert session.get("/drop", label="drop") is None
        assert session.get("/ok", label="ok") == b"ok"

    host, port = tiny_server
    tally = drive(host=host, port=port, users=3, scenario=scenario, iterations=4)
    assert tally.ok == 3 * 4 * 2
    assert tally.errors == 3 * 4 * 2
    assert tally.requests == 3 * 4 * 4
    assert set(tally.latencies_ms) == {"ok"}
    assert any("fail: HTTP 500" in sample for sample in tally.error_samples)
    assert any(sample.startswith("drop: RemoteDisconnected") for sample in tally.error_samples)
    assert len(tally.error_samples) <= 20


def test_a_closed_keep_alive_connection_is_not_an_error(tiny_server: tuple[str, int]) -> None:
    from bench.client import Session, drive

    def scenario(session: Session, user: int) -> None:
        session.get("/idle-close")
        session.get("/ok")

    host, port = tiny_server
    tally = drive(host=host, port=port, users=2, scenario=scenario, iterations=3)
    assert tally.errors == 0, tally.error_samples
    assert tally.ok == 2 * 3 * 2
    # Each request that found its connection closed was sent again on a new one.
    assert len(_Handler.connections) == 2 * (1 + 3)


def test_a_timed_run_stops_and_a_broken_scenario_is_an_error(
    tiny_server: tuple[str, int],
) -> None:
    from bench.client import Session, drive

    def scenario(session: Session, user: int) -> None:
        session.get("/ok")
        if user == 1:
            raise KeyError("no such page")

    host, port = tiny_server
    tally = drive(host=host, port=port, users=2, scenario=scenario, seconds=0.3, think=(0.01, 0.02))
    assert tally.ok >= 2
    assert tally.errors == 1
    assert "KeyError" in tally.error_samples[0]


def test_the_client_only_talks_to_this_machine() -> None:
    from bench.client import Session

    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        Session("example.com", 80)


def test_drive_needs_a_duration_or_a_count() -> None:
    from bench.client import drive

    with pytest.raises(ValueError, match="either"):
        drive(host="127.0.0.1", port=1, users=1, scenario=lambda session, user: None)


@pytest.mark.django_db
def test_seeded_listeners_can_do_every_step_of_a_visit() -> None:
    from rest_framework.test import APIClient

    from bench.load import seed

    listeners = seed(users=3, documents=2, audio_bytes=2048, prefix="t")
    assert len({listener.token for listener in listeners}) == 3
    for listener in listeners:
        # Two documents of their own and two shared by the person before them.
        assert len(listener.pages) == 4
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {listener.token}")
        assert client.get("/api/v1/documents/").json()["count"] == 4
        for page_id, audio_id in listener.pages:
            assert client.get(f"/api/v1/pages/{page_id}/").status_code == 200
            assert client.get(f"/api/v1/audios/{audio_id}/").json()["status"] == "completed"
            download = client.get(f"/api/v1/audios/{audio_id}/download/")
            assert download.status_code == 200
            body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
            assert len(body) == 2048


@pytest.mark.slow
def test_gunicorn_serves_the_bench_urls_on_a_free_local_port(tmp_path: Path) -> None:
    from bench.client import Session, drive
    from bench.server import gunicorn

    def scenario(session: Session, user: int) -> None:
        assert session.get("/bench/bare/") == b'{"status": "ok"}'

    with gunicorn(data_dir=tmp_path, workers=1, threads=2) as server:
        assert server.host == "127.0.0.1"
        tally = drive(host=server.host, port=server.port, users=2, scenario=scenario, iterations=5)
        port = server.port
    assert tally.errors == 0, tally.error_samples
    assert tally.ok == 10
    # Stopped on leaving the block.
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port)):
        pass
