"""The conversion's parts: page ranges, WebVTT, playlists, resuming, workers, failures."""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from pagecast_cli import convert as conversion
from pagecast_cli.convert import (
    ConvertError,
    ConvertOptions,
    PageFailure,
    PageJob,
    SpokenPage,
    check_pages,
    parse_page_ranges,
    playlist_text,
    read_page_note,
    vtt_text,
)
from pagecast_cli.tests.conftest import FAKE, files_in
from speech_processing.engines.base import Voice


class Recorder:
    """A Reporter that keeps what it was told."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float | None]] = []
        self.advanced = 0.0
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def begin(self, stage: str, *, total: float | None = None) -> None:
        self.stages.append((stage, total))

    def advance(self, amount: float) -> None:
        self.advanced += amount

    def end(self) -> None:
        pass

    def info(self, message: str) -> None:
        self.infos.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def fake_voice() -> Voice:
    return conversion.find_voice(FAKE)


# --- Page ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "pages"),
    [
        ("1-5,9", [1, 2, 3, 4, 5, 9]),
        ("3", [3]),
        (" 2 - 3 , 1 ", [1, 2, 3]),
        ("4,2,4,1-2", [1, 2, 4]),
    ],
)
def test_page_ranges(spec: str, pages: list[int]) -> None:
    assert parse_page_ranges(spec) == pages


@pytest.mark.parametrize("spec", ["", "1-", "-3", "a", "1;2", "1,,2", "1-2-3", "0", "5-2"])
def test_malformed_page_ranges(spec: str) -> None:
    with pytest.raises(ConvertError, match="--pages"):
        parse_page_ranges(spec)


def test_pages_outside_the_document() -> None:
    check_pages([1, 3], page_count=3)
    with pytest.raises(ConvertError, match="Page 4 is outside this document, which has 3 pages"):
        check_pages([2, 4, 9], page_count=3)
    with pytest.raises(ConvertError, match=r"which has 1 page\.$"):
        check_pages([2], page_count=1)


# --- WebVTT and playlists ----------------------------------------------------------------------


def test_vtt_has_a_cue_per_sentence_and_a_note_for_resuming(tmp_path: Path) -> None:
    text = "A <b> & c. Then --> d.\nEnd of page."
    job = PageJob(number=7, title="Arrows --> here", text=text, stem="007")
    spoken = SpokenPage(
        number=7, mp3=b"", sentences=[(0.0, 1.5, 0, 10), (1.5, 3725.25, 11, 35)], duration=3725.25
    )
    vtt = vtt_text(job, spoken, voice_id="piper:x")
    lines = vtt.splitlines()
    assert lines[0] == "WEBVTT"
    assert lines[4:7] == ["1", "00:00:00.000 --> 00:00:01.500", "A &lt;b&gt; &amp; c."]
    assert lines[8:11] == ["2", "00:00:01.500 --> 01:02:05.250", "Then --&gt; d. End of page."]
    # Cue text and notes may never hold the cue-timing arrow except on timing lines.
    assert all("-->" not in line or line.startswith("0") for line in lines)

    path = tmp_path / "007.vtt"
    path.write_text(vtt, encoding="utf-8")
    note = read_page_note(path)
    assert note == {
        "page": 7,
        "voice": "piper:x",
        "text_sha256": job.digest,
        "duration": 3725.25,
        "title": "Arrows --> here",
    }


@pytest.mark.parametrize(
    "content",
    [None, "", "WEBVTT\n\n00:00.000 --> 00:01.000\nHi\n", "WEBVTT\n\nNOTE pagecast {broken\n"],
)
def test_a_vtt_that_is_missing_or_not_ours_has_no_note(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "page.vtt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert read_page_note(path) is None


def test_playlist_lists_files_with_durations_in_order() -> None:
    text = playlist_text(
        [("1. Intro", 12.2, "001 - Intro.mp3"), ("Page 2", 3.0, "002.mp3")], title="My\nBook"
    )
    assert text == (
        "#EXTM3U\n#PLAYLIST:My Book\n"
        "#EXTINF:13,1. Intro\n001 - Intro.mp3\n#EXTINF:3,Page 2\n002.mp3\n"
    )


# --- Speaking ----------------------------------------------------------------------------------


def test_a_page_with_nothing_to_say_is_skipped_not_failed() -> None:
    outcome = conversion.speak_page(PageJob(1, "", "🎉 🎉 ***", "001"), fake_voice())
    assert isinstance(outcome, PageFailure)
    assert outcome.silent


def test_progress_counts_the_characters_of_each_page(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# One\n\nFirst words here.\n\n# Two\n\nSecond words there.\n", "utf-8")
    recorder = Recorder()
    options = ConvertOptions(source=str(source), voice=FAKE, out=tmp_path / "out")
    result = conversion.convert(options, recorder)
    assert result.made == [1, 2]
    assert [stage for stage, _ in recorder.stages] == ["Reading", "Speaking"]
    total = recorder.stages[1][1]
    assert total is not None
    assert recorder.advanced == total  # the bar ends full, whatever the sentences' lengths


def test_silent_pages_are_left_out(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# One\n\nWords to say.\n\n# Two\n\nMore words.\n", "utf-8")
    speak = conversion.speak_page

    def silent_second(job: PageJob, voice: Voice, **kwargs: Any) -> Any:
        if job.number == 2:
            return PageFailure(2, "nothing", silent=True)
        return speak(job, voice, **kwargs)

    recorder = Recorder()
    options = ConvertOptions(source=str(source), voice=FAKE, out=tmp_path / "out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conversion, "speak_page", silent_second)
        result = conversion.convert(options, recorder)
    assert (result.made, result.silent) == ([1], [2])
    assert recorder.warnings == ["Page 2 has nothing to read aloud; skipped."]
    assert files_in(tmp_path / "out") == ["001 - One.mp3", "001 - One.vtt", "notes.m3u"]


def test_a_failure_on_the_first_page_removes_the_folder_it_made(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# One\n\nFAKE_PERMANENT_ERROR here.\n", "utf-8")
    out = tmp_path / "new" / "out"
    options = ConvertOptions(source=str(source), voice=FAKE, out=out)
    with pytest.raises(ConvertError, match=r"^Page 1: The speech service rejected the request\.$"):
        conversion.convert(options, Recorder())
    assert not out.exists()


def test_a_folder_that_was_there_is_kept_after_a_failure(tmp_path: Path) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# One\n\nFAKE_PERMANENT_ERROR here.\n", "utf-8")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ConvertError):
        conversion.convert(ConvertOptions(source=str(source), voice=FAKE, out=out), Recorder())
    assert out.is_dir()


def test_a_write_failure_is_one_message_and_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "notes.md"
    source.write_text("# One\n\nWords to say.\n", "utf-8")
    out = tmp_path / "out"

    def disk_full(page: Any, spoken: SpokenPage, *, voice_id: str) -> None:
        with conversion.atomic_writer(page.mp3) as handle:
            handle.write(spoken.mp3[:100])
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(conversion, "_write_page", disk_full)
    with pytest.raises(ConvertError, match="no space left on device"):
        conversion.convert(ConvertOptions(source=str(source), voice=FAKE, out=out), Recorder())
    assert not out.exists()  # it was made by this run and holds nothing


# --- Workers -----------------------------------------------------------------------------------


def test_workers_take_a_core_each_or_share_them_when_pages_are_few() -> None:
    assert conversion.worker_threads(2, 2) == 1
    assert conversion.worker_threads(8, 8) == 1
    assert conversion.worker_threads(8, 3) == 2  # three pages left for eight cores
    assert conversion.worker_threads(1, 1) == 1
    assert conversion.worker_threads(8, 3, share_cores=False) is None  # PIPER_THREADS decides


def test_the_command_claims_its_cores_for_the_engine_unless_the_person_chose() -> None:
    # The package's autouse fixture puts PIPER_THREADS back afterwards.
    os.environ.pop("PIPER_THREADS", None)
    assert conversion.claim_cores(1) is True
    assert os.environ["PIPER_THREADS"] == "1"  # --jobs 1: one core, one engine thread
    os.environ["PIPER_THREADS"] = "3"
    assert conversion.claim_cores(2) is False
    assert os.environ["PIPER_THREADS"] == "3"


def test_usable_cores_are_the_affinity_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5})
    assert conversion.usable_cores() == 3


def test_a_worker_speaks_with_the_voice_it_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conversion, "_worker_voice", None)
    with pytest.raises(RuntimeError):
        conversion._speak_in_worker(PageJob(1, "", "Hello.", "001"))
    # What a worker process changes in itself must not stay changed in the test process.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)
    conversion._start_worker(FAKE, None, logging.CRITICAL)
    outcome = conversion._speak_in_worker(PageJob(1, "", "Hello there.", "001"))
    assert isinstance(outcome, SpokenPage)
    assert outcome.duration > 0
    failed = conversion._speak_in_worker(PageJob(2, "", "FAKE_PERMANENT_ERROR now.", "002"))
    assert failed == PageFailure(2, "The speech service rejected the request.")


def test_a_file_that_cannot_be_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from document_processing import detection

    source = tmp_path / "locked.pdf"
    source.write_bytes(b"%PDF-1.7\n")

    def refuse(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    # Tests run as root here, where file modes do not stop reading; the system's refusal is
    # what the command must explain.
    monkeypatch.setattr(detection, "detect_file_type", refuse)
    with pytest.raises(ConvertError, match=r"^Cannot read .*locked\.pdf: permission denied\.$"):
        conversion.read_document(str(source))


def test_a_document_is_read_without_detecting_its_languages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page is spoken in the voice given: the command never loads the detector."""
    from document_processing import extraction, language

    def refuse(*args: object) -> None:
        raise AssertionError("the language detector was used")

    monkeypatch.setattr(language, "_identifier", refuse)
    source = tmp_path / "notes.md"
    source.write_text("# Rivers\n\nLa rivière coule vers la mer, lentement, chaque jour.\n")

    read = conversion.read_document(str(source))

    assert [page.title for page in read.document.pages] == ["Rivers"]
    assert read.document.language == read.document.pages[0].language == ""
    monkeypatch.undo()
    assert extraction.extract_file(source, kind="markdown").language == "fr"  # as the service
