"""The M4B audiobook: AAC audio, a chapter where each page begins, written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from pagecast_cli import audiobook
from pagecast_cli.audiobook import AudiobookError, ChapterSource, write_audiobook
from pagecast_cli.tests.conftest import files_in
from speech_processing.encoding import encode_mp3


def tone_mp3(path: Path, *, seconds: float, rate: int, pitch: float) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * pitch * t) * 32767).astype("<i2").tobytes()
    path.write_bytes(encode_mp3(pcm, sample_rate=rate))
    return path


def test_a_book_of_pages_in_different_voices_and_rates(tmp_path: Path) -> None:
    chapters = [
        ChapterSource("1. Start", tone_mp3(tmp_path / "1.mp3", seconds=2, rate=22050, pitch=220)),
        ChapterSource("2. Middle", tone_mp3(tmp_path / "2.mp3", seconds=3, rate=16000, pitch=330)),
        ChapterSource("Page 3", tone_mp3(tmp_path / "3.mp3", seconds=1, rate=24000, pitch=440)),
    ]
    book = tmp_path / "book.m4b"
    done: list[bool] = []
    marks = write_audiobook(
        book, chapters, title="A Book", author="Ada", on_chapter=lambda: done.append(True)
    )
    assert done == [True, True, True]
    # Each chapter holds its page's decoded audio (the MP3 encoder adds a few ms of delay).
    lengths = [mark.end - mark.start for mark in marks]
    assert lengths == pytest.approx([2, 3, 1], abs=0.1)
    assert marks[0].start == 0
    assert marks[1].start == marks[0].end
    assert marks[2].start == marks[1].end

    with av.open(str(book)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert stream.rate == 22050  # the first page's rate; the others were resampled
        assert container.metadata["major_brand"] == "M4B "
        assert container.metadata["title"] == "A Book"
        assert container.metadata["artist"] == "Ada"
        assert container.duration is not None
        # The book is as long as its chapters (AAC adds its own short priming).
        assert container.duration / 1_000_000 == pytest.approx(marks[-1].end, abs=0.1)
        chapters_read = container.chapters()
    assert [c["metadata"]["title"] for c in chapters_read] == ["1. Start", "2. Middle", "Page 3"]
    assert [c["start"] for c in chapters_read] == [round(m.start * 1000) for m in marks]
    assert files_in(tmp_path) == ["1.mp3", "2.mp3", "3.mp3", "book.m4b"]


def test_a_damaged_page_fails_the_book_and_leaves_nothing(tmp_path: Path) -> None:
    good = tone_mp3(tmp_path / "1.mp3", seconds=1, rate=22050, pitch=220)
    bad = tmp_path / "2.mp3"
    bad.write_bytes(b"not audio at all" * 100)
    book = tmp_path / "book.m4b"
    book.write_bytes(b"the previous book")
    with pytest.raises(AudiobookError, match="could not be written"):
        write_audiobook(book, [ChapterSource("1", good), ChapterSource("2", bad)], title="T")
    assert book.read_bytes() == b"the previous book"
    assert files_in(tmp_path) == ["1.mp3", "2.mp3", "book.m4b"]


def test_without_an_encoder_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audiobook.importlib.util, "find_spec", lambda name: None)
    assert not audiobook.encoder_available()
    with pytest.raises(AudiobookError, match="PyAV"):
        write_audiobook(tmp_path / "book.m4b", [], title="T")
    assert files_in(tmp_path) == []


def test_an_empty_book_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AudiobookError, match="no pages"):
        write_audiobook(tmp_path / "book.m4b", [], title="T")
    assert files_in(tmp_path) == []
