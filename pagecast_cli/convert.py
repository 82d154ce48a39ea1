"""`pagecast convert`: a document or web page to one MP3 per page, timings, a playlist, a book.

Nothing here is a second implementation: the file's type comes from `detection`, its pages from
the service's extractors (in the same isolated child process, under the same limits), URLs are
fetched by `core.safe_fetch`, voices come from the service's catalogue and engines, and each
page is spoken by the synthesis pipeline the Celery task uses (normalisation, sentences, engine,
MP3 encoder), with the same language and bit rate.

What a run writes, in the output folder:

* `007 - Title.mp3` for each page, and beside it `007 - Title.vtt`: the sentence timings the
  pipeline measured (exact sample counts), as WebVTT cues. The VTT starts with a note saying
  which voice spoke which text; it is written last, so a page whose note matches the voice and
  the text it would speak now is complete, and a run started again skips it (resumable).
* `Title.m3u`: a playlist of every page made so far, in page order.
* with `--format m4b`, `Title.m4b`: the pages joined into one audiobook, a chapter per page.

Every file is written under a temporary name and renamed when complete (`files.atomic_writer`).
`--jobs N` is the number of CPU cores the run may use (by default all of them). Pages are
independent, so processes share the cores better than one engine's threads do: with N cores and
at least N pages left, N worker processes each load the voice once, with one engine thread, and
speak whole pages while this process writes what they return. With one core, or one page, the
page is spoken in this process with N engine threads. PIPER_THREADS, when set, overrides the
threads per process.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import logging
import math
import multiprocessing
import os
import re
import signal
import tempfile
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from pagecast_cli import audiobook
from pagecast_cli.bootstrap import setup_django
from pagecast_cli.files import (
    OutputError,
    atomic_writer,
    check_folder,
    describe_os_error,
    document_stem,
    page_stem,
    prepare_folder,
    remove_if_empty,
    write_atomic,
)

if TYPE_CHECKING:
    from document_processing.extraction import ExtractedDocument
    from speech_processing.engines.base import Voice
    from speech_processing.synthesis import SentenceTiming

logger = logging.getLogger(__name__)

FORMATS = ("mp3", "m4b")
SUPPORTED_KINDS = "PDF, EPUB, DOCX, HTML, Markdown or plain text"
# The first line of each page's VTT after the header: who spoke what, for resuming.
PAGE_NOTE = "NOTE pagecast "
_PAGE_RANGE = re.compile(r"\s*(\d{1,7})\s*(?:-\s*(\d{1,7})\s*)?")


class ConvertError(Exception):
    """A conversion that cannot go on; the message is one sentence for the person at the shell."""


class Reporter(Protocol):
    """Where a conversion tells how far it got (a progress display, or nothing)."""

    def begin(self, stage: str, *, total: float | None = None) -> None: ...

    def advance(self, amount: float) -> None: ...

    def end(self) -> None: ...

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


@dataclass(frozen=True)
class ConvertOptions:
    source: str
    voice: str | None = None
    out: Path | None = None
    format: str = "mp3"
    pages: str | None = None
    jobs: int = 1  # CPU cores to use; see `usable_cores()` for the command's default
    # True when the engine threads are the command's to choose (PIPER_THREADS was not set).
    share_cores: bool = True


@dataclass
class ConvertResult:
    folder: Path
    made: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    silent: list[int] = field(default_factory=list)  # pages with nothing to read aloud
    playlist: Path | None = None
    audiobook: Path | None = None
    seconds: float = 0.0  # audio in the playlist


# --- Page ranges -------------------------------------------------------------------------------


def parse_page_ranges(spec: str) -> list[int]:
    """`1-5,9` → [1, 2, 3, 4, 5, 9]: sorted, without repeats. Raises ConvertError."""
    numbers: set[int] = set()
    for item in spec.split(","):
        match = _PAGE_RANGE.fullmatch(item)
        if match is None:
            raise ConvertError(f"--pages {spec!r} is not a list of pages and ranges such as 1-5,9.")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise ConvertError(
                f"--pages: {item.strip()!r} is not a range of pages (they count from 1 up)."
            )
        numbers.update(range(first, last + 1))
    return sorted(numbers)


def check_pages(numbers: Sequence[int], *, page_count: int) -> None:
    outside = [number for number in numbers if number > page_count]
    if outside:
        pages = "page" if page_count == 1 else "pages"
        raise ConvertError(
            f"Page {outside[0]} is outside this document, which has {page_count} {pages}."
        )


# --- Reading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceDocument:
    document: ExtractedDocument
    name: str  # what the output folder, the playlist and the audiobook are called


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


def read_document(source: str) -> SourceDocument:
    """Fetch or open `source` and extract its pages as the service does, but for their
    languages: every page is spoken in the voice given."""
    from document_processing import extraction
    from document_processing.detection import detect_file_type
    from document_processing.extractors.base import ExtractionError

    if is_url(source):
        try:
            fetched = extraction.fetch_source(source)
            with tempfile.TemporaryDirectory(prefix="pagecast-cli-") as folder:
                path = Path(folder) / "page"
                path.write_bytes(fetched.body)
                document = extraction.extract_file(path, kind=fetched.kind, languages=False)
        except ExtractionError as exc:
            raise ConvertError(f"Cannot read {source}: {exc.user_message}") from exc
        parts = urlsplit(source)
        fallback = (parts.netloc + parts.path.rstrip("/").replace("/", " ")).strip()
        return SourceDocument(document, document.title or fallback)

    path = Path(source).expanduser()
    if not path.exists():
        raise ConvertError(f"No such file: {source}")
    if path.is_dir():
        raise ConvertError(f"{source} is a folder; give a document file.")
    try:
        kind = detect_file_type(path)
    except OSError as exc:
        raise ConvertError(f"Cannot read {source}: {describe_os_error(exc)}.") from exc
    if kind is None:
        raise ConvertError(f"{source} is not a document Pagecast reads ({SUPPORTED_KINDS}).")
    try:
        document = extraction.extract_file(path.resolve(), kind=kind, languages=False)
    except ExtractionError as exc:
        raise ConvertError(f"Cannot read {source}: {exc.user_message}") from exc
    return SourceDocument(document, path.stem)


# --- Voices ------------------------------------------------------------------------------------


def default_voice_id() -> str:
    from django.conf import settings

    return str(settings.SPEECH_DEFAULT_VOICE)


def find_voice(voice_id: str) -> Voice:
    from core.exceptions import ValidationError
    from speech_processing import voices

    try:
        return voices.resolve_voice(voice_id)
    except ValidationError as exc:
        raise ConvertError(
            f"Unknown voice {voice_id!r}: {exc.message} Run `pagecast voices` to list them."
        ) from exc


# --- Speaking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageJob:
    number: int
    title: str
    text: str
    stem: str  # file name without extension

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class SpokenPage:
    number: int
    mp3: bytes
    sentences: list[tuple[float, float, int, int]]  # start s, end s, char start, char end
    duration: float


@dataclass(frozen=True)
class PageFailure:
    number: int
    message: str
    silent: bool = False  # nothing to read aloud: skipped, not an error


def speak_page(
    job: PageJob, voice: Voice, *, on_chars: Callable[[float], None] | None = None
) -> SpokenPage | PageFailure:
    """The page spoken as the synthesis task speaks it; `on_chars(n)` as sentences finish."""
    from django.conf import settings

    from speech_processing import voices
    from speech_processing.encoding import EncoderOptions
    from speech_processing.engines.base import EngineError
    from speech_processing.synthesis import NoSpeakableText, iter_synthesis

    mp3: list[bytes] = []
    sentences: list[SentenceTiming] = []
    duration = 0.0
    try:
        parts = iter_synthesis(
            job.text,
            engine=voices.get_engine(voice.engine),
            voice=voice.name,
            language=voice.language.split("-")[0] or "en",
            encoder_options=EncoderOptions(bitrate_kbps=settings.AUDIO_MP3_BITRATE_KBPS),
        )
        for part in parts:
            mp3.append(part.mp3)
            sentences.extend(part.sentences)
            duration = part.duration_seconds
            if on_chars is not None and part.sentences:
                on_chars(sum(s.char_end - s.char_start for s in part.sentences))
    except NoSpeakableText:
        return PageFailure(job.number, NoSpeakableText.user_message, silent=True)
    except EngineError as exc:
        logger.info("Page %d: %s", job.number, exc)
        return PageFailure(job.number, exc.user_message)
    spans = [(s.start, s.end, s.char_start, s.char_end) for s in sentences]
    return SpokenPage(job.number, b"".join(mp3), spans, duration)


# Worker processes (`--jobs`): each loads Django and the voice once, then speaks whole pages.
_worker_voice: Voice | None = None


def _start_worker(voice_id: str, threads: int | None, log_level: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if threads is not None:
        os.environ["PIPER_THREADS"] = str(threads)
    setup_django()
    root = logging.getLogger()
    for installed in list(root.handlers):  # a settings module's LOGGING: the parent decides
        root.removeHandler(installed)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("pagecast: worker %(process)d: %(message)s"))
    root.addHandler(handler)
    root.setLevel(log_level)
    from speech_processing import voices

    global _worker_voice
    _worker_voice = voices.resolve_voice(voice_id)
    engine = voices.get_engine(_worker_voice.engine)
    load = getattr(engine, "load", None)
    if callable(load):
        load(_worker_voice.name)  # now, not during the first page


def _speak_in_worker(job: PageJob) -> SpokenPage | PageFailure:
    if _worker_voice is None:
        raise RuntimeError("the worker was not started with _start_worker")
    try:
        return speak_page(job, _worker_voice)
    except Exception as exc:  # any failure must come back as a message, not kill the run
        logger.exception("Page %d failed", job.number)
        return PageFailure(job.number, f"the speech engine failed ({type(exc).__name__}).")


def usable_cores() -> int:
    """The CPUs this process may run on: `--jobs` by default."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def claim_cores(jobs: int) -> bool:
    """Before Django starts: this process's engine gets `jobs` threads (it speaks alone when
    only one page is spoken at a time), unless PIPER_THREADS says otherwise.

    Returns whether the threads are the command's to share out (`ConvertOptions.share_cores`).
    """
    if os.environ.get("PIPER_THREADS"):
        return False  # the person chose
    os.environ["PIPER_THREADS"] = str(jobs)
    return True


def worker_threads(cores: int, workers: int, *, share_cores: bool = True) -> int | None:
    """Engine threads for each of `workers` processes on `cores` cores: one core each, or the
    cores shared out when there are fewer pages than cores; None keeps PIPER_THREADS."""
    if not share_cores:
        return None
    return max(1, cores // workers)


# --- Timings and playlists ---------------------------------------------------------------------


def vtt_text(job: PageJob, page: SpokenPage, *, voice_id: str) -> str:
    """WebVTT with one cue per sentence; the first note records what was spoken, by whom."""
    note = json.dumps(
        {
            "page": job.number,
            "voice": voice_id,
            "text_sha256": job.digest,
            "duration": round(page.duration, 3),
            "title": job.title,
        },
        ensure_ascii=True,
    )
    lines = ["WEBVTT", "", PAGE_NOTE + note.replace("-->", "--\\u003e"), ""]
    for index, (start, end, char_start, char_end) in enumerate(page.sentences, start=1):
        words = " ".join(job.text[char_start:char_end].split())
        lines += [str(index), f"{_timestamp(start)} --> {_timestamp(end)}", _cue_text(words), ""]
    return "\n".join(lines)


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _cue_text(words: str) -> str:
    # `<`, `&` and `-->` have meanings in cue text; escaping `>` also breaks every `-->`.
    return html.escape(words, quote=False) or "…"


def read_page_note(path: Path) -> dict[str, Any] | None:
    """What the VTT at `path` says was spoken, or None when it is missing or not ours."""
    try:
        with path.open(encoding="utf-8") as handle:
            head = [handle.readline() for _ in range(3)]
    except (OSError, UnicodeDecodeError):
        return None
    line = head[2].rstrip("\n") if len(head) == 3 else ""
    if head[0].strip() != "WEBVTT" or not line.startswith(PAGE_NOTE):
        return None
    try:
        note = json.loads(line.removeprefix(PAGE_NOTE))
    except ValueError:
        return None
    return note if isinstance(note, dict) else None


def playlist_text(entries: Sequence[tuple[str, float, str]], *, title: str) -> str:
    """Extended M3U: (title, seconds, file name) per page, names relative to the playlist."""
    lines = ["#EXTM3U", f"#PLAYLIST:{' '.join(title.split())}"]
    for name, seconds, file_name in entries:
        lines += [f"#EXTINF:{math.ceil(seconds)},{' '.join(name.split())}", file_name]
    return "\n".join(lines) + "\n"


# --- The conversion ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    job: PageJob
    mp3: Path
    vtt: Path


class Conversion:
    """One run of `pagecast convert`; `run()` does it all, in order, checking input first."""

    def __init__(
        self, options: ConvertOptions, reporter: Reporter, *, log_level: int = logging.CRITICAL
    ) -> None:
        self.options = options
        self.reporter = reporter
        self.log_level = log_level  # what worker processes log to stderr

    def run(self) -> ConvertResult:
        options = self.options
        if options.format not in FORMATS:
            raise ConvertError(f"--format must be one of {', '.join(FORMATS)}.")
        if options.jobs < 1:
            raise ConvertError("--jobs must be at least 1.")
        wanted = parse_page_ranges(options.pages) if options.pages is not None else None
        voice = find_voice(options.voice or default_voice_id())
        try:
            if options.format == "m4b":
                audiobook.require_encoder()
            if options.out is not None:
                check_folder(options.out)  # before a long extraction, not after it
        except (audiobook.AudiobookError, OutputError) as exc:
            raise ConvertError(str(exc)) from exc

        self.reporter.begin("Reading")
        source = read_document(options.source)
        self.reporter.end()
        document = source.document
        for note in document.notes:  # e.g. pages without a text layer and no OCR
            self.reporter.warn(note)
        numbers = wanted or [page.number for page in document.pages]
        check_pages(numbers, page_count=len(document.pages))

        stem = document_stem(source.name)
        folder = options.out if options.out is not None else Path.cwd() / stem
        try:
            created = prepare_folder(folder)
        except OutputError as exc:
            raise ConvertError(str(exc)) from exc
        result = ConvertResult(folder=folder)
        try:
            pages = self._pages(document, folder)
            self._speak(pages, numbers, voice, result)
            self._finish(document, pages, stem, result)
        except OSError as exc:
            raise ConvertError(
                f"Cannot write in the folder {folder}: {describe_os_error(exc)}."
            ) from exc
        finally:
            if created:
                remove_if_empty(folder)
        return result

    @staticmethod
    def _pages(document: ExtractedDocument, folder: Path) -> dict[int, _Page]:
        count = len(document.pages)
        found: dict[int, _Page] = {}
        for page in document.pages:
            name = page_stem(page.number, page.title, page_count=count)
            job = PageJob(page.number, page.title, page.text, name)
            found[page.number] = _Page(job, folder / f"{name}.mp3", folder / f"{name}.vtt")
        return found

    def _speak(
        self, pages: dict[int, _Page], numbers: list[int], voice: Voice, result: ConvertResult
    ) -> None:
        todo: list[_Page] = []
        for number in numbers:
            page = pages[number]
            if _is_made(page, voice_id=voice.id):
                result.skipped.append(number)
            else:
                todo.append(page)
        if result.skipped:
            self.reporter.info(
                f"{len(result.skipped)} of {len(numbers)} pages were already made; skipping them."
            )
        if not todo:
            return
        self.reporter.begin("Speaking", total=sum(max(1, len(p.job.text)) for p in todo))
        workers = min(self.options.jobs, len(todo))
        spoken = (
            self._in_process(todo, voice) if workers == 1 else self._in_pool(todo, voice, workers)
        )
        # Closed however the loop ends, so that a failure stops the workers at once instead
        # of leaving them to speak every page that was queued.
        with contextlib.closing(spoken):
            self._write_spoken(spoken, {page.job.number: page for page in todo}, voice, result)
        self.reporter.end()

    def _write_spoken(
        self,
        spoken: Iterator[SpokenPage | PageFailure],
        by_number: dict[int, _Page],
        voice: Voice,
        result: ConvertResult,
    ) -> None:
        for outcome in spoken:
            page = by_number[outcome.number]
            if isinstance(outcome, PageFailure):
                if not outcome.silent:
                    raise ConvertError(f"Page {outcome.number}: {outcome.message}")
                self.reporter.warn(f"Page {outcome.number} has nothing to read aloud; skipped.")
                result.silent.append(outcome.number)
                _remove(page)
                continue
            _write_page(page, outcome, voice_id=voice.id)
            result.made.append(outcome.number)
            self.reporter.info(
                f"Page {outcome.number}: {page.mp3.name} ({outcome.duration:.1f} s of audio)"
            )

    def _in_process(
        self, todo: list[_Page], voice: Voice
    ) -> Generator[SpokenPage | PageFailure, None, None]:
        for page in todo:
            length = max(1, len(page.job.text))
            done = 0.0

            def advance(chars: float, length: int = length) -> None:
                nonlocal done
                step = min(chars, length - done)
                done += step
                self.reporter.advance(step)

            outcome = speak_page(page.job, voice, on_chars=advance)
            self.reporter.advance(length - done)
            yield outcome

    def _in_pool(
        self, todo: list[_Page], voice: Voice, workers: int
    ) -> Generator[SpokenPage | PageFailure, None, None]:
        # Spawned, not forked: this process may run threads (the progress display), and a
        # fresh interpreter per worker is what makes "each worker loads the voice once" true.
        executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(
                voice.id,
                worker_threads(self.options.jobs, workers, share_cores=self.options.share_cores),
                self.log_level,
            ),
        )
        lengths = {page.job.number: max(1, len(page.job.text)) for page in todo}
        try:
            # Longest pages first, so that no worker is left with a long page at the end
            # while the others have nothing to do.
            ordered = sorted(todo, key=lambda page: len(page.job.text), reverse=True)
            futures: list[Future[SpokenPage | PageFailure]] = [
                executor.submit(_speak_in_worker, page.job) for page in ordered
            ]
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except BrokenProcessPool as exc:
                    raise ConvertError(
                        "A worker process ended unexpectedly (out of memory?); run the same "
                        "command again to go on, perhaps with fewer --jobs."
                    ) from exc
                self.reporter.advance(lengths[outcome.number])
                yield outcome
        except BaseException:
            _stop_pool(executor)
            raise
        executor.shutdown(wait=True)

    def _finish(
        self,
        document: ExtractedDocument,
        pages: dict[int, _Page],
        stem: str,
        result: ConvertResult,
    ) -> None:
        made: list[tuple[_Page, float]] = []
        for number in sorted(pages):
            page = pages[number]
            note = read_page_note(page.vtt)
            if note is not None and page.mp3.is_file():
                made.append((page, float(note.get("duration") or 0.0)))
        if not made:
            return
        title = document.title or stem
        entries = [(_display_title(p.job), seconds, p.mp3.name) for p, seconds in made]
        result.playlist = result.folder / f"{stem}.m3u"
        write_atomic(result.playlist, playlist_text(entries, title=title).encode("utf-8"))
        result.seconds = sum(seconds for _, seconds in made)
        if self.options.format == "m4b":
            book = result.folder / f"{stem}.m4b"
            chapters = [audiobook.ChapterSource(_display_title(p.job), p.mp3) for p, _ in made]
            self.reporter.begin("Writing the audiobook", total=len(chapters))
            try:
                audiobook.write_audiobook(
                    book,
                    chapters,
                    title=title,
                    author=document.author,
                    cover=document.cover,
                    on_chapter=lambda: self.reporter.advance(1),
                )
            except audiobook.AudiobookError as exc:
                raise ConvertError(str(exc)) from exc
            self.reporter.end()
            result.audiobook = book


def convert(
    options: ConvertOptions, reporter: Reporter, *, log_level: int = logging.CRITICAL
) -> ConvertResult:
    """Run a conversion (Django must be set up: `bootstrap.setup_django`)."""
    return Conversion(options, reporter, log_level=log_level).run()


def _display_title(job: PageJob) -> str:
    return f"{job.number}. {job.title}" if job.title else f"Page {job.number}"


def _is_made(page: _Page, *, voice_id: str) -> bool:
    note = read_page_note(page.vtt)
    return (
        note is not None
        and note.get("voice") == voice_id
        and note.get("text_sha256") == page.job.digest
        and page.mp3.is_file()
    )


def _write_page(page: _Page, spoken: SpokenPage, *, voice_id: str) -> None:
    # The MP3 first, the VTT (whose note marks the page as made) last.
    with atomic_writer(page.mp3) as handle:
        handle.write(spoken.mp3)
    write_atomic(page.vtt, vtt_text(page.job, spoken, voice_id=voice_id).encode("utf-8"))


def _remove(page: _Page) -> None:
    for path in (page.vtt, page.mp3):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _stop_pool(executor: ProcessPoolExecutor) -> None:
    """Stop at once: queued pages are dropped and pages being spoken are abandoned."""
    processes = list(getattr(executor, "_processes", {}).values())
    executor.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.join(5)
