"""run_isolated: results, errors, memory and time limits, and a parent left as it was."""

from __future__ import annotations

import atexit
import base64
import contextlib
import dataclasses
import json
import logging
import mmap
import multiprocessing
import os
import resource
import signal
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from document_processing.extractors import isolation
from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.cover import (
    MAX_COVER_BYTES,
    MAX_COVER_JSON_CHARS,
    normalise_cover,
)
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.samples import image_bytes

MIB = 1024 * 1024
LIMITS = ExtractionLimits(ocr_enabled=False, memory_limit_bytes=256 * MIB, timeout_seconds=30)


@dataclass(frozen=True)
class CallbackExtractor:
    """Runs `action` as its extraction, to make the child do what a test needs."""

    action: Callable[[Path], ExtractionResult]
    name: ClassVar[str] = "callback"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        return self.action(path)


def _pages(*texts: str) -> ExtractionResult:
    return ExtractionResult(pages=[ExtractedPage(markdown=text) for text in texts])


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Records every child forked during the test and checks afterwards that none is left,
    running or as a zombie."""
    forked: list[int] = []
    real_fork = os.fork

    def fork() -> int:
        pid = real_fork()
        if pid:
            forked.append(pid)
        return pid

    monkeypatch.setattr(os, "fork", fork)
    yield forked
    isolation._join_reapers()  # children that answered are reaped by threads of their own
    for pid in forked:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # raises only when the child was already reaped


@pytest.fixture
def pdf_path(tmp_path: Path) -> Path:
    return samples.write(tmp_path, samples.report_pdf(4))


def _error(extractor: object, path: Path, limits: ExtractionLimits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        run_isolated(extractor, path, limits=limits)  # type: ignore[arg-type]
    return caught.value


# --- Results -----------------------------------------------------------------------------------


def test_the_result_is_the_same_as_in_process(pdf_path: Path, children: list[int]) -> None:
    expected = PdfExtractor().extract(pdf_path, limits=LIMITS)

    assert run_isolated(PdfExtractor(), pdf_path, limits=LIMITS) == expected
    assert len(children) == 1


def test_any_text_survives_the_trip(pdf_path: Path, children: list[int]) -> None:
    text = "Ünïcödé \u2028 \ud800 lone surrogate, \x00 nul, emoji \U0001f600, quotes \"'\\"
    extractor = CallbackExtractor(lambda _: _pages(text, ""))

    result = run_isolated(extractor, pdf_path, limits=LIMITS)

    assert result == _pages(text, "")


def test_a_table_of_contents_stays_marked_after_the_trip(
    pdf_path: Path, children: list[int]
) -> None:
    sent = ExtractionResult(
        pages=[ExtractedPage("# Contents", "Contents", contents=True), ExtractedPage("Text")]
    )

    result = run_isolated(CallbackExtractor(lambda _: sent), pdf_path, limits=LIMITS)

    assert [page.contents for page in result.pages] == [True, False]


def test_an_extraction_error_passes_through(tmp_path: Path, children: list[int]) -> None:
    encrypted = samples.write(tmp_path, samples.pdf_bytes([["x"]], encrypt="secret"))
    expected = _error_in_process(encrypted)

    error = _error(PdfExtractor(), encrypted)

    assert (error.user_message, error.code) == (expected.user_message, expected.code)


def _error_in_process(path: Path) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        PdfExtractor().extract(path, limits=LIMITS)
    return caught.value


def test_a_custom_error_code_passes_through(pdf_path: Path, children: list[int]) -> None:
    def refuse(_: Path) -> ExtractionResult:
        raise ExtractionError("Nope, not this one.", code="custom")

    error = _error(CallbackExtractor(refuse), pdf_path)

    assert (error.user_message, error.code) == ("Nope, not this one.", "custom")


def test_log_records_of_the_child_reach_the_parent(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    def chatty(_: Path) -> ExtractionResult:
        logging.getLogger("some.parser").warning("odd object %d skipped", 7)
        return _pages("ok")

    with caplog.at_level(logging.INFO):
        run_isolated(CallbackExtractor(chatty), pdf_path, limits=LIMITS)

    assert "[child some.parser] odd object 7 skipped" in caplog.text


def test_log_records_of_a_logger_that_does_not_propagate_reach_the_parent(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    quiet = logging.getLogger("some.parser.quiet")
    quiet.propagate = False
    try:

        def chatty(_: Path) -> ExtractionResult:
            quiet.warning("kept to itself")
            return _pages("ok")

        with caplog.at_level(logging.INFO):
            run_isolated(CallbackExtractor(chatty), pdf_path, limits=LIMITS)
    finally:
        quiet.propagate = True

    assert "[child some.parser.quiet] kept to itself" in caplog.text


class _FileByNameHandler(logging.Handler):
    """Writes each record to a file it opens by name, as a handler that opens its own file
    would: a descriptor pointed at /dev/null cannot hide it."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        with self.path.open("a") as handle:
            handle.write(f"{os.getpid()} {record.getMessage()}\n")


def test_no_handler_of_the_parent_runs_in_the_child(
    tmp_path: Path, pdf_path: Path, children: list[int]
) -> None:
    written = tmp_path / "parent.log"
    handler = _FileByNameHandler(written)
    parser_logger = logging.getLogger("some.parser")
    parser_logger.addHandler(handler)
    try:

        def chatty(_: Path) -> ExtractionResult:
            parser_logger.warning("from the child")
            return _pages("ok")

        run_isolated(CallbackExtractor(chatty), pdf_path, limits=LIMITS)
        parser_logger.warning("from the parent")  # relayed records aside, the handler works
    finally:
        parser_logger.removeHandler(handler)

    assert written.read_text() == f"{os.getpid()} from the parent\n"


def test_reading_a_pdf_imports_nothing_in_the_child(pdf_path: Path, children: list[int]) -> None:
    """What a child imports it imports for every document: the parent imports it once."""

    def read(path: Path) -> ExtractionResult:
        before = set(sys.modules)
        PdfExtractor().extract(path, limits=LIMITS)
        return _pages(*sorted(set(sys.modules) - before))

    result = run_isolated(CallbackExtractor(read), pdf_path, limits=LIMITS)

    assert result == _pages()


# --- Memory ------------------------------------------------------------------------------------


def test_a_flate_bomb_is_refused_and_the_parent_is_unharmed(
    tmp_path: Path, pdf_path: Path, children: list[int]
) -> None:
    bomb = samples.write(tmp_path, samples.flate_bomb_pdf(2048), "bomb.pdf")
    assert bomb.stat().st_size < 10_000
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    error = _error(PdfExtractor(), bomb)

    assert (error.user_message, error.code) == (isolation.MSG_TOO_COMPLEX, "too_complex")
    peak_growth_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before
    assert peak_growth_kib < 64 * 1024
    assert run_isolated(PdfExtractor(), pdf_path, limits=LIMITS).pages


def test_a_python_memory_error_is_refused_as_too_complex(
    pdf_path: Path, children: list[int]
) -> None:
    def hog(_: Path) -> ExtractionResult:
        blocks = [bytearray(64 * MIB) for _ in range(16)]  # 1 GiB, four times the allowance
        return _pages(str(len(blocks)))

    error = _error(CallbackExtractor(hog), pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_TOO_COMPLEX, "too_complex")


def test_the_allowance_is_on_top_of_what_the_parent_already_uses(
    pdf_path: Path, children: list[int]
) -> None:
    # Reserving address space the size of a loaded model makes the parent big, not resident.
    with mmap.mmap(-1, 2048 * MIB) as reserved:
        assert len(reserved) == 2048 * MIB

        def allocate(_: Path) -> ExtractionResult:
            block = bytearray(128 * MIB)  # half the allowance
            return _pages(str(len(block)))

        result = run_isolated(CallbackExtractor(allocate), pdf_path, limits=LIMITS)

    assert result == _pages(str(128 * MIB))


# --- Time --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stall",
    [lambda: time.sleep(60), lambda: [None for _ in iter(int, 1)]],
    ids=["sleeping", "spinning"],
)
def test_a_stalled_extraction_times_out_and_is_killed(
    pdf_path: Path, children: list[int], stall: Callable[[], object]
) -> None:
    def stuck(_: Path) -> ExtractionResult:
        stall()
        return _pages("never")

    limits = ExtractionLimits(timeout_seconds=0.5)
    started = time.monotonic()

    error = _error(CallbackExtractor(stuck), pdf_path, limits)

    assert error.code == "timeout"
    assert error.user_message == isolation.MSG_TIMEOUT
    assert time.monotonic() - started < 5


def test_a_child_that_closes_the_pipe_but_lingers_is_killed(
    pdf_path: Path, children: list[int]
) -> None:
    def linger(_: Path) -> ExtractionResult:
        for fd in range(3, 1024):
            try:
                os.close(fd)
            except OSError:
                continue
        time.sleep(60)
        return _pages("never")

    started = time.monotonic()

    error = _error(CallbackExtractor(linger), pdf_path, ExtractionLimits(timeout_seconds=0.5))

    assert error.code == "unreadable"
    assert time.monotonic() - started < 5


# --- Failures ----------------------------------------------------------------------------------


def test_an_unexpected_exception_is_logged_not_shown(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_: Path) -> ExtractionResult:
        raise KeyError("internal detail /srv/secret/path")

    error = _error(CallbackExtractor(broken), pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_UNREADABLE, "unreadable")
    assert "secret" not in error.user_message
    assert "KeyError" in caplog.text
    assert "internal detail /srv/secret/path" in caplog.text


@pytest.mark.parametrize(
    "die",
    [os.abort, lambda: os.kill(os.getpid(), signal.SIGSEGV), lambda: os._exit(0)],
    ids=["abort", "segfault", "silent-exit"],
)
def test_a_child_that_dies_without_answering_gives_the_generic_message(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture, die: Callable[[], None]
) -> None:
    def crash(_: Path) -> ExtractionResult:
        die()
        return _pages("never")

    error = _error(CallbackExtractor(crash), pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_UNREADABLE, "unreadable")
    assert "Extraction of" in caplog.text


# --- Reaping -----------------------------------------------------------------------------------


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int | None, int]]]:
    """Every wait for a child: the name of the thread that waited, and what the wait returned."""
    recorded: list[tuple[str, tuple[int | None, int]]] = []
    real_wait = isolation._Child.wait

    def wait(self: isolation._Child, deadline: float) -> tuple[int | None, int]:
        outcome = real_wait(self, deadline)
        recorded.append((threading.current_thread().name, outcome))
        return outcome

    monkeypatch.setattr(isolation._Child, "wait", wait)
    return recorded


def test_a_child_that_answered_is_reaped_by_a_thread_not_waited_for(
    pdf_path: Path, children: list[int], waits: list[tuple[str, tuple[int | None, int]]]
) -> None:
    run_isolated(PdfExtractor(), pdf_path, limits=LIMITS)
    isolation._join_reapers()

    assert [name for name, _ in waits] == [f"reap-{children[0]}"]
    status = waits[0][1][0]
    assert status is not None
    assert os.WIFEXITED(status)
    assert os.WEXITSTATUS(status) == 0
    assert not isolation._reapers  # and the fixture checks that no zombie is left


def test_children_that_shared_a_file_are_reaped_by_threads(
    pdf_path: Path, children: list[int], waits: list[tuple[str, tuple[int | None, int]]]
) -> None:
    run_isolated(SharingExtractor(), pdf_path, limits=LIMITS, workers=2)
    isolation._join_reapers()

    assert sorted(name for name, _ in waits) == sorted(f"reap-{pid}" for pid in children)
    assert len(children) == 2


def test_a_child_that_ends_without_answering_is_waited_for_to_tell_why(
    pdf_path: Path, children: list[int], waits: list[tuple[str, tuple[int | None, int]]]
) -> None:
    def crash(_: Path) -> ExtractionResult:
        os.kill(os.getpid(), signal.SIGKILL)
        return _pages("never")

    error = _error(CallbackExtractor(crash), pdf_path)

    assert error.code == "unreadable"
    assert [name for name, _ in waits] == [threading.current_thread().name]
    status = waits[0][1][0]
    assert status is not None
    assert os.WTERMSIG(status) == signal.SIGKILL


def test_a_child_still_there_at_the_deadline_after_answering_is_killed(
    children: list[int], waits: list[tuple[str, tuple[int | None, int]]]
) -> None:
    pid = os.fork()
    if pid == 0:  # answered, but does not leave
        time.sleep(60)
        os._exit(0)

    isolation._Child(pid).reap_later(time.monotonic() + 0.2)
    isolation._join_reapers()

    assert waits == [(f"reap-{pid}", (None, 0))]  # killed at the deadline, then reaped


def test_without_a_thread_to_reap_it_the_parent_waits_for_the_child(
    pdf_path: Path,
    children: list[int],
    waits: list[tuple[str, tuple[int | None, int]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = PdfExtractor().extract(pdf_path, limits=LIMITS)

    def no_thread(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)

    assert run_isolated(PdfExtractor(), pdf_path, limits=LIMITS) == expected
    assert [name for name, _ in waits] == [threading.current_thread().name]
    assert not isolation._reapers


def test_an_oversized_answer_is_not_read_whole(pdf_path: Path, children: list[int]) -> None:
    limits = ExtractionLimits(max_chars=10, timeout_seconds=30)
    flood = CallbackExtractor(lambda _: _pages("x" * (isolation._answer_limit(limits) + MIB)))

    error = _error(flood, pdf_path, limits)

    assert error.code == "unreadable"


# --- The parent's state ------------------------------------------------------------------------


def test_the_child_cannot_use_the_parents_sockets(pdf_path: Path, children: list[int]) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:

        def meddle(_: Path) -> ExtractionResult:
            os.write(ours.fileno(), b"from the child")
            with contextlib.suppress(OSError):  # as closing an inherited connection would
                ours.shutdown(socket.SHUT_RDWR)
            return _pages("done")

        assert run_isolated(CallbackExtractor(meddle), pdf_path, limits=LIMITS) == _pages("done")

        ours.sendall(b"from the parent")
        assert theirs.recv(64) == b"from the parent"


def test_no_exit_handler_of_the_parent_runs_in_the_child(
    tmp_path: Path, pdf_path: Path, children: list[int]
) -> None:
    marker = tmp_path / "atexit-ran"

    def handler() -> None:
        marker.write_text("ran")

    atexit.register(handler)
    try:
        run_isolated(CallbackExtractor(lambda _: _pages("ok")), pdf_path, limits=LIMITS)
    finally:
        atexit.unregister(handler)

    assert not marker.exists()


def test_it_works_from_threads(pdf_path: Path, children: list[int]) -> None:
    expected = PdfExtractor().extract(pdf_path, limits=LIMITS)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(
            pool.map(lambda _: run_isolated(PdfExtractor(), pdf_path, limits=LIMITS), range(6))
        )

    assert results == [expected] * 6


def _extract_in_daemon(path: Path, connection: multiprocessing.connection.Connection) -> None:
    result = run_isolated(PdfExtractor(), path, limits=LIMITS)
    connection.send(len(result.pages))
    connection.close()


def test_it_works_in_a_daemonic_process_like_a_celery_worker(pdf_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(target=_extract_in_daemon, args=(pdf_path, sender), daemon=True)

    worker.start()
    try:
        assert receiver.poll(30)
        assert receiver.recv() == 4
    finally:
        worker.join(10)
    assert worker.exitcode == 0


# --- A child stuck before it starts ------------------------------------------------------------


@pytest.fixture
def stuck(monkeypatch: pytest.MonkeyPatch, children: list[int]) -> list[bool]:
    """The children of the first forks (one entry each, True: stuck) hang right after the fork,
    as in an at-fork handler waiting for a lock another thread held; the start wait is short."""
    monkeypatch.setattr(isolation, "_START_SECONDS", 0.3)
    plan: list[bool] = []
    recording_fork = os.fork  # the `children` fixture's, which records each child

    def fork() -> int:
        hang = bool(plan) and plan.pop(0)
        pid = recording_fork()
        if pid == 0 and hang:
            time.sleep(60)  # killed by the parent long before
        return pid

    monkeypatch.setattr(os, "fork", fork)
    return plan


def test_a_child_stuck_before_it_starts_is_killed_and_forked_again(
    pdf_path: Path, children: list[int], stuck: list[bool], caplog: pytest.LogCaptureFixture
) -> None:
    stuck.append(True)
    expected = PdfExtractor().extract(pdf_path, limits=LIMITS)

    result = run_isolated(PdfExtractor(), pdf_path, limits=LIMITS)

    assert result == expected
    assert len(children) == 2  # the stuck one and the one that answered, both reaped
    assert "did not start within 0.3 s (attempt 1); forking again" in caplog.text


def test_a_child_that_never_starts_times_out_at_the_deadline(
    pdf_path: Path, children: list[int], stuck: list[bool]
) -> None:
    stuck.extend([True] * isolation._START_ATTEMPTS)
    limits = ExtractionLimits(timeout_seconds=1.0)

    error = _error(CallbackExtractor(lambda _: _pages("never")), pdf_path, limits)

    # The earlier attempts gave up after the start wait, the last one at the deadline.
    assert error.code == "timeout"
    assert len(children) == isolation._START_ATTEMPTS


def test_a_share_stuck_before_it_starts_has_every_share_forked_again(
    pdf_path: Path, children: list[int], stuck: list[bool]
) -> None:
    stuck.extend([False, True])  # the second share of the first attempt

    result = run_isolated(SharingExtractor(), pdf_path, limits=LIMITS, workers=2)

    assert result == _pages("0:10", "1:10")
    assert len(children) == 4  # two attempts of two shares, all reaped


# --- Shared between children -------------------------------------------------------------------


@dataclass(frozen=True)
class _FakeShare:
    extractor: SharingExtractor
    part: int

    def survey(self) -> Any:
        return self.extractor.survey_with(self.part)

    def finish(self, decision: Any) -> Any:
        return self.extractor.finish_with(self.part, decision)


def _survey_part(part: int) -> Any:
    return 10 * part


def _finish_part(part: int, decision: Any) -> Any:
    return f"{part}:{decision}"


def _add_up(surveys: list[Any]) -> Any:
    return sum(surveys)


@dataclass(frozen=True)
class SharingExtractor:
    """A PartedExtractor whose shares run `survey_with(part)` and `finish_with(part, decision)`
    in the children, and whose decision is `decide_with(surveys)`, to make each step do what a
    test needs. The parts become the pages of the result."""

    survey_with: Callable[[int], Any] = _survey_part
    finish_with: Callable[[int, Any], Any] = _finish_part
    decide_with: Callable[[list[Any]], Any] = _add_up
    name: ClassVar[str] = "sharing"
    parted_min_bytes: ClassVar[int] = 1

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        return _pages("whole")

    def read_share(
        self, path: Path, *, limits: ExtractionLimits, part: int, parts: int
    ) -> _FakeShare:
        return _FakeShare(self, part)

    def decide(self, surveys: list[Any], *, limits: ExtractionLimits) -> Any:
        return self.decide_with(surveys)

    def combine(self, finished: list[Any], *, limits: ExtractionLimits) -> ExtractionResult:
        if not all(isinstance(part, str) for part in finished):
            raise TypeError("parts are strings")
        return _pages(*finished)


def _shared_error(
    extractor: object, path: Path, limits: ExtractionLimits = LIMITS, workers: int = 2
) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        run_isolated(extractor, path, limits=limits, workers=workers)  # type: ignore[arg-type]
    return caught.value


def _in_share(part: int, action: Callable[[], object]) -> Callable[[int], Any]:
    """A survey that runs `action` in share `part` only."""

    def survey(current: int) -> Any:
        if current == part:
            action()
        return current

    return survey


def _bomb_on_the_last_page_pdf(pages: int) -> bytes:
    """`pages` empty pages, the last one with a flate bomb for its content."""
    stream = zlib.compress(samples.deflated_zeros(2048), 9)
    kids = " ".join(f"{3 + index} 0 R" for index in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
    ]
    for index in range(pages):
        content = f" /Contents {3 + pages} 0 R /Resources << >>" if index == pages - 1 else ""
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]{content} >>".encode())
    objects.append(
        b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n" % len(stream)
        + stream
        + b"\nendstream"
    )
    return samples.handmade_pdf(objects)


def test_each_share_gets_the_decision_taken_on_all_surveys(
    pdf_path: Path, children: list[int]
) -> None:
    result = run_isolated(SharingExtractor(), pdf_path, limits=LIMITS, workers=3)

    assert result == _pages("0:30", "1:30", "2:30")
    assert len(children) == 3


@dataclass
class _Describer:
    """Describes a page as [the pid describing it, its Markdown, the pids that prepared it]."""

    prepared: list[int] = dataclasses.field(default_factory=list)

    def prepare(self) -> None:
        self.prepared.append(os.getpid())

    def describe(self, page: ExtractedPage) -> Any:
        return [os.getpid(), page.markdown, self.prepared]


def test_a_describer_has_each_share_describe_its_pages_in_its_own_child(
    pdf_path: Path, children: list[int]
) -> None:
    describer = _Describer()

    result = run_isolated(
        SharingExtractor(), pdf_path, limits=LIMITS, workers=2, describer=describer
    )

    assert result.pages == _pages("0:10", "1:10").pages
    assert describer.prepared == [os.getpid()]  # once, here, before the children forked
    assert result.descriptions == [
        [children[0], "0:10", [os.getpid()]],
        [children[1], "1:10", [os.getpid()]],
    ]


def test_a_file_one_child_reads_is_not_described(pdf_path: Path, children: list[int]) -> None:
    describer = _Describer()

    result = run_isolated(
        SharingExtractor(), pdf_path, limits=LIMITS, workers=1, describer=describer
    )

    assert result == _pages("whole")
    assert result.descriptions is None
    assert describer.prepared == []


@dataclass(frozen=True)
class _JoiningExtractor(SharingExtractor):
    """Joins every share's part into one page: not the pages of its shares, in order."""

    def combine(self, finished: list[Any], *, limits: ExtractionLimits) -> ExtractionResult:
        return _pages(" ".join(finished))


def test_descriptions_that_are_not_one_a_page_are_not_used(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    result = run_isolated(
        _JoiningExtractor(), pdf_path, limits=LIMITS, workers=2, describer=_Describer()
    )

    assert result == _pages("0:10 1:10")
    assert result.descriptions is None
    assert "described its pages wrongly" in caplog.text


def test_a_large_pdf_read_by_two_children_gives_the_same_result(
    tmp_path: Path, children: list[int]
) -> None:
    path = samples.write(tmp_path, samples.report_pdf(24))
    expected = PdfExtractor().extract(path, limits=LIMITS)

    assert run_isolated(PdfExtractor(), path, limits=LIMITS, workers=2) == expected
    assert len(children) == 2


def test_by_default_large_files_are_shared_and_small_ones_are_not(
    tmp_path: Path, pdf_path: Path, children: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(isolation, "default_workers", lambda: 2)
    large = samples.write(tmp_path, samples.benchmark_pdf(40), "large.pdf")
    assert large.stat().st_size >= PdfExtractor.parted_min_bytes > pdf_path.stat().st_size

    run_isolated(PdfExtractor(), large, limits=LIMITS)
    assert len(children) == 2

    run_isolated(PdfExtractor(), pdf_path, limits=LIMITS)
    assert len(children) == 3

    run_isolated(CallbackExtractor(lambda _: _pages("ok")), large, limits=LIMITS, workers=2)
    assert len(children) == 4  # an extractor that cannot share runs in one child


def test_by_default_at_most_two_children_share_a_file() -> None:
    assert 1 <= isolation.default_workers() <= 2


def test_a_flate_bomb_in_one_share_is_refused_and_the_parent_is_unharmed(
    tmp_path: Path, children: list[int]
) -> None:
    bomb = samples.write(tmp_path, _bomb_on_the_last_page_pdf(20), "bomb.pdf")
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    error = _shared_error(PdfExtractor(), bomb)

    assert (error.user_message, error.code) == (isolation.MSG_TOO_COMPLEX, "too_complex")
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024
    assert len(children) == 2


def test_a_memory_error_in_one_share_is_refused_as_too_complex(
    pdf_path: Path, children: list[int]
) -> None:
    def hog() -> None:
        blocks = [bytearray(64 * MIB) for _ in range(16)]
        assert blocks

    error = _shared_error(SharingExtractor(survey_with=_in_share(1, hog)), pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_TOO_COMPLEX, "too_complex")


@pytest.mark.parametrize("stage", ["survey", "finish"])
def test_a_stalled_share_times_out_and_every_child_is_killed(
    pdf_path: Path, children: list[int], stage: str
) -> None:
    def finish_stalling(part: int, decision: Any) -> Any:
        if part == 1:
            time.sleep(60)
        return "never"

    extractor = (
        SharingExtractor(survey_with=_in_share(1, lambda: time.sleep(60)))
        if stage == "survey"
        else SharingExtractor(finish_with=finish_stalling)
    )
    started = time.monotonic()

    error = _shared_error(extractor, pdf_path, ExtractionLimits(timeout_seconds=0.5))

    assert (error.user_message, error.code) == (isolation.MSG_TIMEOUT, "timeout")
    assert time.monotonic() - started < 5
    assert len(children) == 2  # both reaped: the fixture checks it


def test_the_first_failing_share_ends_the_run_at_once(pdf_path: Path, children: list[int]) -> None:
    def refuse_or_wait(part: int) -> Any:
        if part == 0:
            time.sleep(60)
        raise ExtractionError("Nope, not this one.", code="custom")

    started = time.monotonic()

    error = _shared_error(SharingExtractor(survey_with=refuse_or_wait), pdf_path)

    assert (error.user_message, error.code) == ("Nope, not this one.", "custom")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "die",
    [os.abort, lambda: os.kill(os.getpid(), signal.SIGSEGV), lambda: os._exit(0)],
    ids=["abort", "segfault", "silent-exit"],
)
def test_a_share_that_dies_without_answering_gives_the_generic_message(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture, die: Callable[[], None]
) -> None:
    error = _shared_error(SharingExtractor(survey_with=_in_share(1, die)), pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_UNREADABLE, "unreadable")
    assert "Extraction of" in caplog.text


def test_an_unexpected_exception_in_a_share_is_logged_not_shown(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    def broken(part: int, decision: Any) -> Any:
        raise KeyError("internal detail /srv/secret/path")

    error = _shared_error(SharingExtractor(finish_with=broken), pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_UNREADABLE, "unreadable")
    assert "internal detail /srv/secret/path" in caplog.text


def test_an_error_of_the_decision_passes_through(pdf_path: Path, children: list[int]) -> None:
    def refuse(surveys: list[Any]) -> Any:
        raise ExtractionError("Too much, all together.", code="too_long")

    error = _shared_error(SharingExtractor(decide_with=refuse), pdf_path)

    assert (error.user_message, error.code) == ("Too much, all together.", "too_long")
    assert len(children) == 2


@pytest.mark.parametrize("stage", ["survey", "finish"])
def test_malformed_messages_of_a_share_are_unreadable(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture, stage: str
) -> None:
    extractor = (
        SharingExtractor(survey_with=lambda part: "not a number")
        if stage == "survey"
        else SharingExtractor(finish_with=lambda part, decision: [part])
    )

    error = _shared_error(extractor, pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_UNREADABLE, "unreadable")
    assert "could not be joined" in caplog.text


def test_an_oversized_share_answer_is_not_read_whole(pdf_path: Path, children: list[int]) -> None:
    limits = ExtractionLimits(max_chars=10, timeout_seconds=30)
    flood = SharingExtractor(finish_with=lambda part, decision: "x" * (20 * MIB))

    error = _shared_error(flood, pdf_path, limits)

    assert error.code == "unreadable"


def test_log_records_of_every_share_reach_the_parent(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    def chatty_survey(part: int) -> Any:
        logging.getLogger("some.parser").warning("share %d surveyed", part)
        return part

    def chatty_finish(part: int, decision: Any) -> Any:
        logging.getLogger("some.parser").warning("share %d finished", part)
        return str(part)

    with caplog.at_level(logging.INFO):
        run_isolated(
            SharingExtractor(survey_with=chatty_survey, finish_with=chatty_finish),
            pdf_path,
            limits=LIMITS,
            workers=2,
        )

    for event in ("share 0 surveyed", "share 1 surveyed", "share 0 finished", "share 1 finished"):
        assert f"[child some.parser] {event}" in caplog.text


class _Interrupted(BaseException):
    """As Celery's soft time limit arrives: an exception raised in the parent while it waits."""


def test_children_are_reaped_when_the_parent_is_interrupted(
    pdf_path: Path, children: list[int]
) -> None:
    def interrupt(surveys: list[Any]) -> Any:
        raise _Interrupted

    with pytest.raises(_Interrupted):
        run_isolated(SharingExtractor(decide_with=interrupt), pdf_path, limits=LIMITS, workers=2)

    assert len(children) == 2  # and the fixture checks that both were reaped


def test_shares_cannot_use_the_parents_sockets(pdf_path: Path, children: list[int]) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:

        def meddle(part: int) -> Any:
            os.write(ours.fileno(), b"from the child")
            with contextlib.suppress(OSError):
                ours.shutdown(socket.SHUT_RDWR)
            return part

        result = run_isolated(
            SharingExtractor(survey_with=meddle), pdf_path, limits=LIMITS, workers=2
        )

        assert result == _pages("0:1", "1:1")
        ours.sendall(b"from the parent")
        assert theirs.recv(64) == b"from the parent"


def test_shared_extraction_works_from_threads(tmp_path: Path, children: list[int]) -> None:
    path = samples.write(tmp_path, samples.report_pdf(20))
    expected = PdfExtractor().extract(path, limits=LIMITS)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(
            pool.map(
                lambda _: run_isolated(PdfExtractor(), path, limits=LIMITS, workers=2), range(6)
            )
        )

    assert results == [expected] * 6


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_shared_runs_leave_no_descriptor_open(pdf_path: Path, children: list[int]) -> None:
    def open_descriptors() -> int:
        return len(os.listdir("/proc/self/fd"))

    def refuse(part: int, decision: Any) -> Any:
        raise ExtractionError("Nope.", code="custom")

    before = open_descriptors()
    for _ in range(3):
        run_isolated(SharingExtractor(), pdf_path, limits=LIMITS, workers=2)
        _shared_error(SharingExtractor(finish_with=refuse), pdf_path)
        _shared_error(SharingExtractor(survey_with=_in_share(0, lambda: os._exit(0))), pdf_path)

    assert open_descriptors() == before


# --- Covers ------------------------------------------------------------------------------------

COVER = normalise_cover(image_bytes(), limits=ExtractionLimits())
NOT_COVERS = {
    "png": image_bytes(image_format="PNG"),
    "oversized": b"\xff\xd8\xff" + bytes(MAX_COVER_BYTES),
}


def _with_cover(cover: bytes, *texts: str) -> ExtractionResult:
    return dataclasses.replace(_pages(*texts), cover=cover)


def test_a_cover_survives_the_trip(pdf_path: Path, children: list[int]) -> None:
    assert COVER.startswith(b"\xff\xd8\xff")

    result = run_isolated(
        CallbackExtractor(lambda _: _with_cover(COVER, "text")), pdf_path, limits=LIMITS
    )

    assert result == _with_cover(COVER, "text")


@pytest.mark.parametrize("cover", NOT_COVERS.values(), ids=NOT_COVERS.keys())
def test_a_cover_that_is_not_one_is_dropped_not_the_document(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture, cover: bytes
) -> None:
    result = run_isolated(
        CallbackExtractor(lambda _: _with_cover(cover, "text")), pdf_path, limits=LIMITS
    )

    assert result == _pages("text")
    assert "sent a cover that was dropped" in caplog.text


@pytest.mark.parametrize(
    "value",
    [
        3,
        None,
        ["/9j/"],
        "not base64!",
        base64.b64encode(NOT_COVERS["png"]).decode(),
        "A" * (MAX_COVER_JSON_CHARS + 4),
    ],
)
def test_the_parent_checks_the_cover_it_reads(value: Any) -> None:
    answer = {**isolation._result_to_json(_pages("text")), "cover": value}

    result = isolation._result_from_json(json.loads(json.dumps(answer)), path=Path("x.pdf"))

    assert result == _pages("text")


def test_an_answer_without_a_cover_is_read() -> None:
    answer = isolation._result_to_json(_pages("text"))
    del answer["cover"]

    assert isolation._result_from_json(answer, path=Path("x.pdf")) == _pages("text")


def test_a_cover_never_makes_an_answer_of_all_the_text_allowed_oversized(
    pdf_path: Path, children: list[int]
) -> None:
    limits = ExtractionLimits(max_chars=MIB, timeout_seconds=30)
    largest = b"\xff\xd8\xff" + bytes(MAX_COVER_BYTES - 3)
    # As much text as an answer without a cover may hold (JSON and logs take the rest).
    without_cover = (
        limits.max_chars * isolation._ANSWER_BYTES_PER_CHAR + isolation._ANSWER_OVERHEAD_BYTES
    )
    text = "x" * (without_cover - 64 * 1024)

    result = run_isolated(
        CallbackExtractor(lambda _: _with_cover(largest, text)), pdf_path, limits=limits
    )

    assert result.cover == largest
    assert len(result.pages[0].markdown) == len(text)


@dataclass(frozen=True)
class CoverSharingExtractor(SharingExtractor):
    """A SharingExtractor whose `combine` gives the result `cover`."""

    cover: bytes = b""

    def combine(self, finished: list[Any], *, limits: ExtractionLimits) -> ExtractionResult:
        return dataclasses.replace(super().combine(finished, limits=limits), cover=self.cover)


def test_a_cover_joined_from_shares_is_kept(pdf_path: Path, children: list[int]) -> None:
    result = run_isolated(CoverSharingExtractor(cover=COVER), pdf_path, limits=LIMITS, workers=2)

    assert result == _with_cover(COVER, "0:10", "1:10")


@pytest.mark.parametrize("cover", NOT_COVERS.values(), ids=NOT_COVERS.keys())
def test_a_cover_joined_from_shares_that_is_not_one_is_dropped(
    pdf_path: Path, children: list[int], caplog: pytest.LogCaptureFixture, cover: bytes
) -> None:
    result = run_isolated(CoverSharingExtractor(cover=cover), pdf_path, limits=LIMITS, workers=2)

    assert result == _pages("0:10", "1:10")
    assert "sent a cover that was dropped" in caplog.text
