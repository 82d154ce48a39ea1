"""run_isolated: results, errors, memory and time limits, and a parent left as it was."""

from __future__ import annotations

import atexit
import contextlib
import logging
import mmap
import multiprocessing
import os
import resource
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from document_processing.extractors import isolation
from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.tests.extractors import pdf_samples as samples

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


def test_an_oversized_answer_is_not_read_whole(pdf_path: Path, children: list[int]) -> None:
    limits = ExtractionLimits(max_chars=10, timeout_seconds=30)
    flood = CallbackExtractor(lambda _: _pages("x" * (20 * MIB)))

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
