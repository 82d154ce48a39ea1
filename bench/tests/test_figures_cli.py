"""The command-line figure's parts, on a small document with the fake voice."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from bench.figures_cli import (
    VOICE,
    Run,
    _pinned,
    _side_by_side,
    page_texts,
    run_cli,
    run_raw_piper,
    write_pdf,
)
from document_processing import extraction
from speech_processing.engines.piper import discover_voices, load_voice


def test_pages_are_different_prose_of_similar_length() -> None:
    pages = page_texts(10)
    joined = ["\n\n".join(page) for page in pages]
    assert len(set(joined)) == 10
    assert all(600 < len(text) < 1200 for text in joined)


def test_a_conversion_is_timed_and_its_audio_counted(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "book.pdf", page_texts(2))
    assert len(extraction.extract_file(pdf, kind="pdf").pages) == 2
    out = tmp_path / "out"
    run = run_cli(pdf, out, voice="fake:alpha", settings_module="core.settings.test")
    assert len(list(out.glob("*.mp3"))) == 2
    # The fake voice speaks 60 ms per character: two pages of ~900 characters.
    assert 60 < run.audio_s < 150
    assert run.wall_s > 0
    assert run.rtf == run.wall_s / run.audio_s


@pytest.mark.slow
def test_raw_piper_speaks_on_the_threads_it_is_given() -> None:
    one = run_raw_piper(["A short sentence to speak."], threads=1)
    assert 1 < one.audio_s < 5
    files = discover_voices(voices_dir=None, include_bundled=True)[VOICE.split(":", 1)[1]]
    session = load_voice(files.model, files.config, threads=1).session
    assert session.get_session_options().intra_op_num_threads == 1


two_cores = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="needs two usable CPUs to pin runs apart"
)


@two_cores
def test_the_raw_run_and_the_command_run_at_once_each_on_a_core_of_its_own() -> None:
    both_started = threading.Barrier(2, timeout=10)
    cores_given: dict[str, set[int]] = {}
    raw_thread: dict[str, object] = {}

    def raw() -> Run:
        cores_given["raw"] = os.sched_getaffinity(0)
        raw_thread["name"] = threading.current_thread().name
        both_started.wait()  # fails unless the other run is under way at the same time
        return Run(1.0, 10.0)

    def cli(*, cores: set[int]) -> Run:
        cores_given["cli"] = cores
        both_started.wait()
        return Run(2.0, 10.0)

    before = os.sched_getaffinity(0)
    assert _side_by_side(raw, cli) == (Run(1.0, 10.0), Run(2.0, 10.0))
    assert len(cores_given["raw"]) == 1
    assert len(cores_given["cli"]) == 1
    assert cores_given["raw"] != cores_given["cli"]
    # The raw run is pinned in a thread of its own; the calling thread is left as it was.
    assert raw_thread["name"] != threading.current_thread().name
    assert os.sched_getaffinity(0) == before


@two_cores
def test_a_failed_raw_run_fails_the_pair() -> None:
    def raw() -> Run:
        raise RuntimeError("no voice")

    with pytest.raises(RuntimeError, match="no voice"):
        _side_by_side(raw, lambda *, cores: Run(1.0, 1.0))


def test_a_pinned_command_runs_on_the_cores_it_is_given() -> None:
    core = min(os.sched_getaffinity(0))
    printed = subprocess.run(
        [sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
        preexec_fn=_pinned({core}),
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert printed.stdout.strip() == f"[{core}]"
