"""The command-line figure's parts, on a small document with the fake voice."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.figures_cli import (
    VOICE,
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
