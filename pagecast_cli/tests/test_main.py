"""The `pagecast` command as a person uses it: conventions, convert, voices, serve, and the API
client commands against a running server."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import av
import pytest
import urllib3
from django.conf import settings
from django.core.files.storage import default_storage
from mutagen.mp4 import MP4
from PIL import Image

from document_processing import extraction
from document_processing.models import Document
from document_processing.tests.extractors import samples
from pagecast_cli import audiobook
from pagecast_cli import convert as conversion
from pagecast_cli.convert import read_page_note
from pagecast_cli.tests.conftest import (
    BOOK_MARKDOWN,
    FAKE,
    error_line,
    files_in,
    invoke,
    run,
    two_page_pdf,
)
from speech_processing.encoding import EncoderOptions
from speech_processing.models import Audio
from speech_processing.samples import SAMPLE_TEXT
from speech_processing.synthesis import synthesize_text
from speech_processing.voices import get_engine
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

COLOUR = re.compile(r"\x1b\[(?:\d+;)*(?:3[0-9]|9[0-7])(?:;\d+)*m")
BOOK_FILES = [
    "001 - The harbour.mp3",
    "001 - The harbour.vtt",
    "002 - The market.mp3",
    "002 - The market.vtt",
    "003 - The evening.mp3",
    "003 - The evening.vtt",
    "book.m3u",
]


def spoken_by_the_service(text: str, voice: str = "alpha") -> Any:
    """What the synthesis task's pipeline makes of `text` with the fake engine."""
    return synthesize_text(
        text,
        engine=get_engine("fake"),
        voice=voice,
        language="en",
        encoder_options=EncoderOptions(bitrate_kbps=settings.AUDIO_MP3_BITRATE_KBPS),
    )


def cues(vtt: Path) -> list[tuple[str, str, str]]:
    """(start, end, text) of each cue."""
    blocks = vtt.read_text(encoding="utf-8").split("\n\n")[2:]
    found = []
    for block in blocks:
        lines = block.strip().splitlines()
        if len(lines) >= 3:
            start, end = lines[1].split(" --> ")
            found.append((start, end, " ".join(lines[2:])))
    return found


# --- Conventions -------------------------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"pagecast {version('pagecast')}"


@pytest.mark.parametrize(
    "command", [[], ["convert"], ["voices"], ["serve"], ["login"], ["upload"], ["listen"]]
)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help(command: list[str], flag: str) -> None:
    result = invoke(*command, flag)
    assert result.exit_code == 0, result.output
    assert f"Usage: pagecast {' '.join(command)}".strip() in " ".join(result.stdout.split())


def test_no_command_shows_the_help() -> None:
    result = invoke()
    assert result.exit_code == 2
    assert "convert" in result.stdout
    assert result.stderr == ""


def test_a_mistake_in_the_command_line_is_one_line_and_exit_code_2(book: Path) -> None:
    result = invoke("convert", book, "--jobs", "0")
    assert result.exit_code == 2
    message = error_line(result.stderr)
    assert "--jobs" in message
    assert "pagecast convert --help" in message

    result = invoke("conver", book)
    assert result.exit_code == 2
    assert "conver" in error_line(result.stderr)


def test_quiet_prints_nothing_and_verbose_tells_each_page(book: Path, tmp_path: Path) -> None:
    quiet = invoke("convert", book, "--voice", FAKE, "-o", tmp_path / "quiet", "-q")
    assert quiet.exit_code == 0, quiet.output
    assert (quiet.stdout, quiet.stderr) == ("", "")
    assert files_in(tmp_path / "quiet") == BOOK_FILES

    normal = invoke("convert", book, "--voice", FAKE, "-o", tmp_path / "normal")
    assert normal.stdout.startswith("Made 3 pages.")
    assert normal.stderr == ""

    verbose = invoke("-v", "convert", book, "--voice", FAKE, "-o", tmp_path / "verbose")
    assert "Page 2: 002 - The market.mp3" in verbose.stderr
    assert verbose.stdout.startswith("Made 3 pages.")


def test_no_color_is_honoured() -> None:
    coloured = invoke("convert", "missing.pdf", env={"FORCE_COLOR": "1", "NO_COLOR": None})
    assert COLOUR.search(coloured.stderr), coloured.stderr
    plain = invoke("convert", "missing.pdf", env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert plain.exit_code == 1
    assert not COLOUR.search(plain.stderr), plain.stderr
    assert "No such file: missing.pdf" in plain.stderr


def test_progress_shows_each_stage_on_a_terminal(book: Path, tmp_path: Path) -> None:
    result = invoke(
        "convert", book, "--voice", FAKE, "-o", tmp_path / "out", env={"FORCE_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    assert "Reading" in result.stderr
    assert "Speaking" in result.stderr
    assert "100%" in result.stderr


# --- convert -----------------------------------------------------------------------------------


def test_convert_speaks_each_page_as_the_service_does(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("convert", book, "--voice", FAKE, "--out", out)
    assert result.exit_code == 0, result.output
    assert files_in(out) == BOOK_FILES

    pages = extraction.extract_file(book, kind="markdown").pages
    stems = ["001 - The harbour", "002 - The market", "003 - The evening"]
    for page, stem in zip(pages, stems, strict=True):
        expected = spoken_by_the_service(page.text)
        # The same pipeline, the same bytes: normalisation, sentences, engine, encoder.
        assert (out / f"{stem}.mp3").read_bytes() == expected.mp3
        timings = [
            (_vtt_time(s.start), _vtt_time(s.end), " ".join(page.text[s.char_start : s.char_end].split()))  # noqa: E501
            for s in expected.sentences
        ]  # fmt: skip
        assert cues(out / f"{stem}.vtt") == timings
        note = read_page_note(out / f"{stem}.vtt")
        assert note is not None
        assert note["voice"] == FAKE
        assert note["duration"] == pytest.approx(expected.duration_seconds, abs=0.001)

    playlist = (out / "book.m3u").read_text(encoding="utf-8").splitlines()
    assert playlist[0] == "#EXTM3U"
    assert [line for line in playlist if not line.startswith("#")] == [
        "001 - The harbour.mp3",
        "002 - The market.mp3",
        "003 - The evening.mp3",
    ]
    assert "#EXTINF:" in playlist[2]
    assert playlist[2].endswith(",1. The harbour")


def _vtt_time(seconds: float) -> str:
    return conversion._timestamp(seconds)


def test_the_default_folder_is_named_after_the_document(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = invoke("convert", book, "--voice", FAKE)
    assert result.exit_code == 0, result.output
    assert files_in(here / "book") == BOOK_FILES
    assert str(here / "book") in result.stdout


def test_a_second_run_skips_the_pages_already_made(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("convert", book, "--voice", FAKE, "-o", out).exit_code == 0
    made = {name: (out / name).stat().st_mtime_ns for name in files_in(out)}

    again = invoke("convert", book, "--voice", FAKE, "-o", out)
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("Made 0 pages; 3 pages already made.")
    for name in made:
        if name.endswith((".mp3", ".vtt")):
            assert (out / name).stat().st_mtime_ns == made[name]

    # A page whose timings are missing was not finished: only it is made again.
    (out / "002 - The market.vtt").unlink()
    resumed = invoke("convert", book, "--voice", FAKE, "-o", out)
    assert resumed.stdout.startswith("Made 1 page; 2 pages already made.")
    assert files_in(out) == BOOK_FILES

    # Another voice is another recording: every page is made again.
    other = invoke("convert", book, "--voice", "fake:beta", "-o", out)
    assert other.stdout.startswith("Made 3 pages.")
    note = read_page_note(out / "001 - The harbour.vtt")
    assert note is not None
    assert note["voice"] == "fake:beta"


def test_pages_selects_pages_and_ranges(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("convert", book, "--voice", FAKE, "-o", out, "--pages", "1,3")
    assert result.exit_code == 0, result.output
    assert files_in(out) == [
        "001 - The harbour.mp3",
        "001 - The harbour.vtt",
        "003 - The evening.mp3",
        "003 - The evening.vtt",
        "book.m3u",
    ]
    result = invoke("convert", book, "--voice", FAKE, "-o", out, "--pages", "2-3")
    assert result.stdout.startswith("Made 1 page; 1 page already made.")
    assert files_in(out) == BOOK_FILES


def test_an_engine_failure_keeps_finished_pages_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    source = tmp_path / "book.md"
    source.write_text(BOOK_MARKDOWN.replace("Fish was sold", "FAKE_PERMANENT_ERROR"), "utf-8")
    out = tmp_path / "out"
    result = invoke("convert", source, "--voice", FAKE, "-o", out)
    assert result.exit_code == 1
    assert error_line(result.stderr) == "Page 2: The speech service rejected the request."
    # Page 1 was finished before page 2 failed; nothing of page 2, no partial file, no list.
    assert files_in(out) == ["001 - The harbour.mp3", "001 - The harbour.vtt"]

    source.write_text(BOOK_MARKDOWN, "utf-8")
    resumed = invoke("convert", source, "--voice", FAKE, "-o", out)
    assert resumed.stdout.startswith("Made 2 pages; 1 page already made.")


def test_ctrl_c_stops_with_finished_pages_kept(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    speak = conversion.speak_page

    def interrupted(job: conversion.PageJob, voice: Any, **kwargs: Any) -> Any:
        if job.number == 2:
            raise KeyboardInterrupt
        return speak(job, voice, **kwargs)

    monkeypatch.setattr(conversion, "speak_page", interrupted)
    out = tmp_path / "out"
    result = invoke("convert", book, "--voice", FAKE, "-o", out)
    assert result.exit_code == 130
    assert "Run the same command again" in error_line(result.stderr)
    assert files_in(out) == ["001 - The harbour.mp3", "001 - The harbour.vtt"]


def test_partial_files_of_a_killed_run_are_removed(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / ".001 - The harbour.mp3.1a2b3c4d.pagecast-partial").write_bytes(b"\xff\xfb half")
    result = invoke("convert", book, "--voice", FAKE, "-o", out)
    assert result.exit_code == 0, result.output
    assert files_in(out) == BOOK_FILES


def test_several_jobs_make_the_same_files_in_worker_processes(tmp_path: Path) -> None:
    source = two_page_pdf(tmp_path / "tiny.pdf")
    one = run("convert", source, "--voice", FAKE, "-o", tmp_path / "one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    two = run(
        "convert", source, "--voice", FAKE, "-o", tmp_path / "two", "--jobs", "2", cwd=tmp_path
    )
    assert two.returncode == 0, two.stderr
    names = files_in(tmp_path / "one")
    assert names == [
        "001 - Chapter 1.mp3",
        "001 - Chapter 1.vtt",
        "002 - Chapter 2.mp3",
        "002 - Chapter 2.vtt",
        "tiny.m3u",
    ]
    assert files_in(tmp_path / "two") == names
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


@pytest.mark.parametrize(
    ("arguments", "env", "cores"),
    [
        ((), {"PAGECAST_JOBS": None}, 3),  # every core by default
        (("--jobs", "1"), {"PAGECAST_JOBS": None}, 1),
        ((), {"PAGECAST_JOBS": "2"}, 2),
    ],
)
def test_jobs_are_the_cores_the_run_may_use(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: tuple[str, ...],
    env: dict[str, str | None],
    cores: int,
) -> None:
    monkeypatch.setattr(conversion, "usable_cores", lambda: 3)
    seen: list[conversion.ConvertOptions] = []

    def convert(options: conversion.ConvertOptions, *_: Any, **__: Any) -> Any:
        seen.append(options)
        return conversion.ConvertResult(folder=tmp_path)

    monkeypatch.setattr(conversion, "convert", convert)
    result = invoke("convert", "book.pdf", *arguments, "-q", env=env)
    assert result.exit_code == 0, result.output
    assert seen[0].jobs == cores
    assert seen[0].share_cores
    # The engine of this process gets the cores: it speaks alone when one page is spoken at once.
    assert os.environ["PIPER_THREADS"] == str(cores)


def test_a_failure_in_a_worker_stops_the_run_with_one_line(tmp_path: Path) -> None:
    source = tmp_path / "book.md"
    source.write_text(BOOK_MARKDOWN.replace("Fish was sold", "FAKE_PERMANENT_ERROR"), "utf-8")
    out = tmp_path / "out"
    result = run("convert", source, "--voice", FAKE, "-o", out, "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 1
    assert error_line(result.stderr) == "Page 2: The speech service rejected the request."
    made = files_in(out)
    assert not any("002" in name or "partial" in name or name.endswith(".m3u") for name in made)
    # What was finished is whole: each MP3 has its timings beside it.
    assert sorted(name.removesuffix(".mp3") for name in made if name.endswith(".mp3")) == sorted(
        name.removesuffix(".vtt") for name in made if name.endswith(".vtt")
    )


@pytest.mark.slow
def test_a_pdf_spoken_by_the_default_piper_voice_without_django_or_data(tmp_path: Path) -> None:
    """As a person runs it: the installed script, its own settings, the default voice."""
    source = two_page_pdf(tmp_path / "tiny.pdf")
    data_dir = tmp_path / "data"
    result = run(
        "convert",
        source,
        cwd=tmp_path,
        env={"DJANGO_SETTINGS_MODULE": "pagecast_cli.settings", "DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = tmp_path / "tiny"
    assert files_in(out) == [
        "001 - Chapter 1.mp3",
        "001 - Chapter 1.vtt",
        "002 - Chapter 2.mp3",
        "002 - Chapter 2.vtt",
        "tiny.m3u",
    ]
    last_sentences = {
        "001 - Chapter 1": "It has two sentences.",
        "002 - Chapter 2": "It ends the document.",
    }
    for stem, sentence in last_sentences.items():
        note = read_page_note(out / f"{stem}.vtt")
        assert note is not None
        assert note["voice"] == "piper:en_US-joe-medium"
        assert 2.0 < note["duration"] < 15.0
        spoken = cues(out / f"{stem}.vtt")
        assert spoken[-1][2] == sentence
        assert spoken[-1][1] == conversion._timestamp(note["duration"])
        mp3 = (out / f"{stem}.mp3").read_bytes()
        assert mp3[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")  # an MPEG audio frame
        # 64 kbit/s constant rate: the size follows the duration.
        assert len(mp3) == pytest.approx(note["duration"] * 8000, rel=0.1)
    # No database, no key file, no cache: the data folder was never made.
    assert not data_dir.exists()


def test_an_audiobook_with_a_chapter_per_page(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = invoke("convert", book, "--voice", FAKE, "-o", out, "--format", "m4b")
    assert result.exit_code == 0, result.output
    assert files_in(out) == sorted([*BOOK_FILES, "book.m4b"])
    with av.open(str(out / "book.m4b")) as container:
        chapters = container.chapters()
        assert container.streams.audio[0].codec_context.name == "aac"
    assert [c["metadata"]["title"] for c in chapters] == [
        "1. The harbour",
        "2. The market",
        "3. The evening",
    ]
    assert chapters[0]["start"] == 0
    assert chapters[1]["start"] == chapters[0]["end"] < chapters[2]["start"] == chapters[1]["end"]


def test_the_audiobook_carries_the_sources_cover(tmp_path: Path) -> None:
    source = samples.write_epub_with_cover(tmp_path / "lighthouse.epub", size=(300, 450))
    out = tmp_path / "out"
    result = invoke("convert", source, "--voice", FAKE, "-o", out, "--format", "m4b")
    assert result.exit_code == 0, result.output
    tags = MP4(str(out / "lighthouse.m4b")).tags
    assert tags is not None
    with Image.open(io.BytesIO(bytes(tags["covr"][0]))) as cover:
        assert (cover.format, cover.size) == ("JPEG", (300, 450))


def test_an_audiobook_without_its_encoder_fails_before_any_work(
    book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audiobook, "encoder_available", lambda: False)
    out = tmp_path / "out"
    result = invoke("convert", book, "--voice", FAKE, "-o", out, "--format", "m4b")
    assert result.exit_code == 1
    assert "PyAV" in error_line(result.stderr)
    assert not out.exists()


# --- Bad input: one line, exit code 1, nothing left behind -------------------------------------


def _corrupt_pdf(folder: Path) -> Path:
    path = folder / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    return path


def _png(folder: Path) -> Path:
    path = folder / "picture.pdf"  # the name says PDF; the content decides
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return path


@pytest.mark.parametrize(
    ("make_args", "expected"),
    [
        (lambda d, book: ["missing.pdf"], "No such file: missing.pdf"),
        (lambda d, book: [d], "is a folder; give a document file."),
        (lambda d, book: [_png(d)], "is not a document Pagecast reads"),
        (lambda d, book: [_corrupt_pdf(d)], "could not be read"),
        (lambda d, book: [book, "--voice", "fake:nobody"], "Unknown voice 'fake:nobody'"),
        (lambda d, book: [book, "--voice", "nonsense"], "Unknown voice 'nonsense'"),
        (
            lambda d, book: [book, "--pages", "2-7"],
            "Page 4 is outside this document, which has 3 pages.",
        ),
        (lambda d, book: [book, "--pages", "1-x"], "is not a list of pages and ranges"),
        (lambda d, book: [book, "--pages", "0"], "'0' is not a range of pages"),
        (lambda d, book: [book, "-o", book], "exists and is not a folder"),
        (lambda d, book: [book, "-o", book / "sub"], "is not a folder"),
    ],
    ids=[
        "missing",
        "folder",
        "unsupported",
        "unreadable",
        "unknown-voice",
        "malformed-voice",
        "pages-outside",
        "pages-malformed",
        "page-zero",
        "out-is-a-file",
        "out-under-a-file",
    ],
)
def test_bad_input_is_one_clear_line_and_leaves_nothing(
    make_args: Any, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    book = work / "book.md"
    book.write_text(BOOK_MARKDOWN, "utf-8")
    args = make_args(work, book)
    monkeypatch.chdir(work)
    before = files_in(work)
    if "--voice" not in args:
        args += ["--voice", FAKE]
    result = invoke("convert", *args)
    assert result.exit_code == 1, result.output
    assert expected in error_line(result.stderr)
    assert result.stdout == ""
    assert files_in(work) == before


def test_bad_input_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    result = run("convert", "missing.pdf", cwd=tmp_path)
    assert result.returncode == 1
    assert error_line(result.stderr) == "No such file: missing.pdf"
    assert files_in(tmp_path) == []


def test_a_url_is_fetched_safely(tmp_path: Path) -> None:
    # The service's fetcher refuses this machine's own addresses (unless settings allow them).
    result = invoke("convert", "http://127.0.0.1:9/page.html", "--voice", FAKE, "-o", tmp_path)
    assert result.exit_code == 1
    assert "Cannot read http://127.0.0.1:9/page.html" in error_line(result.stderr)
    assert files_in(tmp_path) == []


def test_a_web_page_becomes_audio(
    tmp_path: Path, live_server: Any, settings: Any, transactional_db: None
) -> None:
    settings.URL_IMPORT_ALLOW_LOOPBACK = True
    out = tmp_path / "out"
    # The log-in page: HTML served to anyone, through the service's own fetcher.
    result = invoke("convert", f"{live_server.url}/accounts/login/", "--voice", FAKE, "-o", out)
    assert result.exit_code == 0, result.output
    assert any(name.endswith(".mp3") for name in files_in(out))
    assert any(name.endswith(".m3u") for name in files_in(out))


# --- voices ------------------------------------------------------------------------------------


def test_voices_lists_the_configured_voices_with_the_default_marked() -> None:
    result = invoke("voices")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["voice", "language", "gender", "description"]
    assert lines[1].startswith("* fake:alpha ")
    assert any(line.startswith("  fake:beta ") for line in lines)
    assert any(line.startswith("  piper:en_US-joe-medium ") for line in lines)

    quiet = invoke("voices", "-q")
    ids = quiet.stdout.splitlines()
    assert ids[0] == "fake:alpha"  # the default first
    assert "fake:beta" in ids
    assert "piper:en_US-joe-medium" in quiet.stdout.splitlines()


def test_a_voice_sample_is_written_to_a_file(tmp_path: Path) -> None:
    result = invoke("voices", "--sample", "fake:beta", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    sample = tmp_path / "fake-beta-sample.mp3"
    assert sample.read_bytes() == spoken_by_the_service(SAMPLE_TEXT, voice="beta").mp3
    assert str(sample) in result.stdout

    named = invoke("voices", "--sample", "fake:alpha", "--out", tmp_path / "hello.mp3")
    assert named.exit_code == 0, named.output
    assert (tmp_path / "hello.mp3").read_bytes() == spoken_by_the_service(SAMPLE_TEXT).mp3


def test_a_sample_of_an_unknown_voice_is_an_error(tmp_path: Path) -> None:
    result = invoke("voices", "--sample", "fake:nobody", "--out", tmp_path)
    assert result.exit_code == 1
    assert "Unknown voice 'fake:nobody'" in error_line(result.stderr)
    assert files_in(tmp_path) == []


# --- serve -------------------------------------------------------------------------------------


def test_serve_runs_what_make_run_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from pagecast_cli import serve

    calls = []

    def fake_serve() -> int:
        calls.append(True)
        return 3

    monkeypatch.setattr(serve, "serve", fake_serve)
    result = invoke("serve")
    assert calls == [True]
    assert result.exit_code == 3


# --- login, upload, listen against a running server --------------------------------------------


def _config(tmp_path: Path) -> dict[str, str | None]:
    return {"XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.fixture
def server(live_server: Any) -> Iterator[urllib3.HTTPConnectionPool]:
    """The running server, for requests of the test's own outside the command.

    Its connections are closed when the test ends. The server's thread for an open connection
    keeps its database connection between requests (CONN_MAX_AGE); left open in urllib3's shared
    pool until the end of the run, it would stop the test database from being dropped.
    """
    with urllib3.connection_from_url(live_server.url) as pool:
        yield pool


def _generate(server: urllib3.HTTPConnectionPool, token: str, page_id: int) -> None:
    response = server.request(
        "POST",
        f"/api/v1/pages/{page_id}/audios/",
        json={"voice": FAKE},
        headers={"Authorization": f"Token {token}"},
    )
    assert response.status == 202, response.data


def test_login_upload_and_listen(
    live_server: Any, server: urllib3.HTTPConnectionPool, alice: User, book: Path, tmp_path: Path
) -> None:
    env = _config(tmp_path)
    login = invoke("login", live_server.url, input=f"{alice.email}\n{DEFAULT_PASSWORD}\n", env=env)
    assert login.exit_code == 0, login.output
    config = tmp_path / "config" / "pagecast" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    saved = json.loads(config.read_text())
    assert saved["url"] == live_server.url
    token = {"Authorization": f"Token {saved['token']}"}
    me = server.request("GET", "/api/v1/auth/me/", headers=token)
    assert me.json()["email"] == alice.email

    upload = invoke("upload", book, "-q", env=env)
    assert upload.exit_code == 0, upload.output
    document = Document.objects.get(pk=int(upload.stdout))
    assert document.owner == alice
    assert document.status == Document.Status.COMPLETED
    pages = list(document.pages.order_by("number"))
    assert len(pages) == 3
    for page in pages[:2]:
        _generate(server, saved["token"], page.pk)

    out = tmp_path / "audio"
    listen = invoke("listen", str(document.pk), "--out", out, env=env)
    assert listen.exit_code == 0, listen.output
    assert files_in(out) == ["001 - The harbour.mp3", "002 - The market.mp3"]
    for page, name in zip(pages[:2], files_in(out), strict=True):
        audio = Audio.objects.get(page=page)
        with default_storage.open(audio.file_key, "rb") as stored:
            assert (out / name).read_bytes() == stored.read()
    assert "Downloaded 2 files" in listen.stdout
    assert "No finished audio yet for page 3" in listen.stdout

    again = invoke("listen", str(document.pk), "--out", out, env=env)
    assert again.exit_code == 0, again.output
    assert "Downloaded 0 files" in again.stdout
    assert "(2 already there)" in again.stdout


def test_listen_make_asks_for_the_missing_audio_and_waits_for_it(
    live_server: Any, alice: User, bob: User, tmp_path: Path
) -> None:
    from document_processing.models import Page
    from document_processing.tests.factories import document_with_pages
    from sharing.models import DocumentShare

    document = document_with_pages(owner=alice, pages=3, title="Three")
    Page.objects.filter(document=document, number=3).update(text="* * *", markdown="* * *")
    env = _config(tmp_path)
    invoke("login", live_server.url, input=f"{alice.email}\n{DEFAULT_PASSWORD}\n", env=env)
    out = tmp_path / "audio"

    nothing = invoke("listen", str(document.pk), "--out", out, env=env)
    assert nothing.exit_code == 1
    assert "--make" in error_line(nothing.stderr)
    assert not Audio.objects.exists()

    made = invoke("listen", str(document.pk), "--out", out, "--make", env=env)
    assert made.exit_code == 0, made.output
    assert files_in(out) == ["001 - Page 1.mp3", "002 - Page 2.mp3"]
    assert "Downloaded 2 files" in made.stdout
    assert "Page 3: no text to speak" in made.stdout
    audios = Audio.objects.filter(page__document=document)
    assert sorted(audios.values_list("page__number", "voice", "status")) == [
        (1, FAKE, "completed"), (2, FAKE, "completed"),
    ]  # fmt: skip

    # Who may only listen gets what there is, and is told why the rest is not made.
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    Audio.objects.filter(page__number=2).delete()
    bob_env = _config(tmp_path / "bob")
    invoke("login", live_server.url, input=f"{bob.email}\n{DEFAULT_PASSWORD}\n", env=bob_env)
    listened = invoke(
        "listen", str(document.pk), "--out", tmp_path / "bob-audio", "--make", env=bob_env
    )
    assert listened.exit_code == 0, listened.output
    assert "Page 2: you may listen but not make audio here" in listened.stdout
    assert Audio.objects.filter(page__document=document).count() == 1


def test_login_with_a_wrong_password_saves_nothing(
    live_server: Any, alice: User, tmp_path: Path
) -> None:
    result = invoke(
        "login",
        live_server.url,
        "--email",
        alice.email,
        "--password-stdin",
        input="not the password\n",
        env=_config(tmp_path),
    )
    assert result.exit_code == 1
    error_line(result.stderr)
    assert not (tmp_path / "config").exists()


def test_client_errors_are_one_line(
    live_server: Any, alice: User, bob: User, book: Path, tmp_path: Path
) -> None:
    env = _config(tmp_path)
    not_logged_in = invoke("upload", book, env=env)
    assert not_logged_in.exit_code == 1
    assert "pagecast login" in error_line(not_logged_in.stderr)

    invoke("login", live_server.url, input=f"{bob.email}\n{DEFAULT_PASSWORD}\n", env=env)
    unsupported = invoke("upload", _png(tmp_path), env=env)
    assert unsupported.exit_code == 1
    assert "not supported" in error_line(unsupported.stderr)

    # Alice's document does not exist for Bob.
    document = Document.objects.create(
        owner=alice, title="Private", source_type=Document.SourceType.TEXT
    )
    hidden = invoke("listen", str(document.pk), env=env)
    assert hidden.exit_code == 1
    assert "not found" in error_line(hidden.stderr).lower()


def test_an_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = invoke(
        "login",
        "http://127.0.0.1:9",
        "--email",
        "a@example.com",
        "--password-stdin",
        input="secret\n",
        env=_config(tmp_path),
    )
    assert result.exit_code == 1
    assert "Cannot reach http://127.0.0.1:9" in error_line(result.stderr)


@pytest.mark.slow
def test_each_worker_loads_the_voice_once(tmp_path: Path) -> None:
    source = two_page_pdf(tmp_path / "tiny.pdf")
    result = run(
        "convert",
        source,
        "--jobs",
        "2",
        "-v",
        cwd=tmp_path,
        env={"DJANGO_SETTINGS_MODULE": "pagecast_cli.settings", "PIPER_THREADS": None},
    )
    assert result.returncode == 0, result.stderr
    loads = [line for line in result.stderr.splitlines() if "Loaded Piper voice" in line]
    # Two worker processes, one load each, on a core each.
    assert len(loads) == 2, result.stderr
    assert len({line.split(":")[1] for line in loads}) == 2  # "pagecast: worker PID: ..."
    assert all("with 1 threads" in line for line in loads)
    assert len(list((tmp_path / "tiny").glob("*.mp3"))) == 2
