"""run_isolated(fork_server=True): files read by children of a small server process, forked and
warmed up ahead, under the same guarantees as children forked by the worker itself."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from document_processing.extractors import forkserver, isolation
from document_processing.extractors.base import ExtractionError, ExtractionLimits, ExtractionResult
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors import served
from document_processing.tests.extractors.served import (
    Allocates,
    ClosesPipeAndLingers,
    Dies,
    Logs,
    LooksAtDescriptor,
    Sleeps,
    WhoReads,
    forked_since,
    had_warmed_up,
    pages,
    reader,
    readers_parent,
    server_children,
    start_server,
)

MIB = 1024 * 1024
LIMITS = ExtractionLimits(ocr_enabled=False, memory_limit_bytes=256 * MIB, timeout_seconds=30)
WHO_READS = f"{WhoReads.__module__}.WhoReads"


@pytest.fixture(autouse=True)
def _children_forked_here() -> None:
    """(The conftest's, undone: here extraction goes through a server wherever a test starts
    one.)"""


@pytest.fixture
def fork_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[forkserver._Client]:
    """A ready server whose spares warm up with `WhoReads` (the conftest's fixture, with the
    warm-up a test can see); at the end, stopped, and none of its children left."""
    client = start_server(monkeypatch, warm_ups=[WHO_READS])
    yield client
    isolation._join_reapers()
    forkserver._stop_server()


@pytest.fixture
def pdf_path(tmp_path: Path) -> Path:
    return samples.write(tmp_path, samples.report_pdf(4))


def _run(extractor: object, path: Path, limits: ExtractionLimits = LIMITS) -> ExtractionResult:
    return run_isolated(extractor, path, limits=limits, fork_server=True)  # type: ignore[arg-type]


def _error(extractor: object, path: Path, limits: ExtractionLimits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        _run(extractor, path, limits)
    return caught.value


def _wait_until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _running(pid: int) -> bool:
    """Whether process `pid` exists and has not ended (a zombie has)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone while being read, too
        return False
    return stat[stat.rindex(")") + 2] != "Z"


# --- Children of the server --------------------------------------------------------------------


def test_a_file_is_read_by_a_warmed_up_child_of_the_server(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    result = _run(WhoReads(), pdf_path)

    assert readers_parent(result) == fork_server.process.pid
    assert had_warmed_up(result)
    assert not served._warmed_up  # there, not here


def test_each_file_is_read_by_a_child_of_its_own(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    readers = {reader(_run(WhoReads(), pdf_path)) for _ in range(4)}

    assert len(readers) == 4
    _wait_until(lambda: not any(_running(pid) for pid in readers))


def test_a_pdf_is_read_as_in_process(pdf_path: Path, fork_server: forkserver._Client) -> None:
    expected = PdfExtractor().extract(pdf_path, limits=LIMITS)

    assert [_run(PdfExtractor(), pdf_path) for _ in range(3)] == [expected] * 3


def test_the_server_warms_its_spares_up_with_the_pdf_extractor_by_default(
    pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = start_server(monkeypatch)
    try:
        expected = PdfExtractor().extract(pdf_path, limits=LIMITS)
        (spare,) = server_children(client)

        assert _run(PdfExtractor(), pdf_path) == expected
        assert forkserver._warm_ups == tuple(forkserver.DEFAULT_EXTRACTORS.values())
        # It read the file: a new spare is forked for the next one, and it is reaped.
        assert forked_since(client, {spare})
        _wait_until(lambda: spare not in server_children(client))
    finally:
        forkserver._stop_server()


def test_an_extraction_error_passes_through(
    tmp_path: Path, fork_server: forkserver._Client
) -> None:
    encrypted = samples.write(tmp_path, samples.pdf_bytes([["x"]], encrypt="secret"))

    error = _error(PdfExtractor(), encrypted)

    assert error.code == "encrypted"


def test_log_records_of_the_child_reach_the_worker(
    pdf_path: Path, fork_server: forkserver._Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        result = _run(Logs(), pdf_path)

    assert readers_parent(result) == fork_server.process.pid
    assert "[child some.parser] read by a child of the server" in caplog.text


# --- Memory and time ---------------------------------------------------------------------------


def test_a_child_of_the_server_is_held_to_the_memory_limit(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    error = _error(Allocates(1024), pdf_path)  # four times the allowance

    assert (error.user_message, error.code) == (isolation.MSG_TOO_COMPLEX, "too_complex")
    assert readers_parent(_run(WhoReads(), pdf_path)) == fork_server.process.pid


def test_a_child_of_the_server_gets_the_whole_allowance(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    assert _run(Allocates(192), pdf_path) == pages(str(192 * MIB))  # three quarters of it


def test_a_flate_bomb_is_refused_as_too_complex(
    tmp_path: Path, fork_server: forkserver._Client
) -> None:
    bomb = samples.write(tmp_path, samples.flate_bomb_pdf(2048), "bomb.pdf")

    error = _error(PdfExtractor(), bomb)

    assert error.code == "too_complex"


def test_a_stalled_child_times_out_and_is_killed(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    (spare,) = server_children(fork_server)  # the one that will be given the file
    started = time.monotonic()

    error = _error(Sleeps(60), pdf_path, dataclasses.replace(LIMITS, timeout_seconds=0.5))

    assert error.code == "timeout"
    assert time.monotonic() - started < 5
    _wait_until(lambda: not _running(spare))


def test_the_deadline_starts_when_the_file_is_sent(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    time.sleep(1.0)  # the spare waits longer than the file may take

    result = _run(Sleeps(0.2), pdf_path, dataclasses.replace(LIMITS, timeout_seconds=0.8))

    assert result == pages("awake")


@pytest.mark.parametrize("signum", [signal.SIGSEGV, signal.SIGABRT], ids=["segfault", "abort"])
def test_a_child_that_dies_without_answering_is_told_by_how_it_ended(
    pdf_path: Path, fork_server: forkserver._Client, caplog: pytest.LogCaptureFixture, signum: int
) -> None:
    error = _error(Dies(signum), pdf_path)

    assert (error.user_message, error.code) == (isolation.MSG_UNREADABLE, "unreadable")
    assert f"crashed with signal {signum}" in caplog.text  # the server said how it ended


def test_a_child_that_closes_its_pipe_but_lingers_is_killed(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    (spare,) = server_children(fork_server)
    started = time.monotonic()

    limits = dataclasses.replace(LIMITS, timeout_seconds=0.5)
    error = _error(ClosesPipeAndLingers(), pdf_path, limits)

    assert error.code == "unreadable"
    assert time.monotonic() - started < 5
    _wait_until(lambda: not _running(spare))


def test_a_child_that_answered_and_lingers_is_killed_at_the_deadline() -> None:
    pid = os.fork()
    if pid == 0:  # answered, but does not leave
        time.sleep(60)
        os._exit(0)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    theirs.close()
    child = forkserver.ServedChild(pid, os.pidfd_open(pid), ours, rss_before=0)

    child.reap_later(time.monotonic() + 0.2)
    isolation._join_reapers()

    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL


# --- Descriptors -------------------------------------------------------------------------------


def test_neither_the_server_nor_its_children_have_the_workers_descriptors(
    tmp_path: Path, pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "open-in-the-worker.txt"
    with secret.open("w") as handle:
        client = start_server(monkeypatch, warm_ups=[WHO_READS])
        try:
            server_has = {
                os.readlink(fd) for fd in Path(f"/proc/{client.process.pid}/fd").iterdir()
            }
            child_has = _run(LooksAtDescriptor(handle.fileno()), pdf_path).pages[0].markdown
        finally:
            forkserver._stop_server()

    assert str(secret) not in server_has
    assert child_has != str(secret)


# --- When the server cannot take a file --------------------------------------------------------


def test_until_the_server_is_ready_files_are_read_by_children_forked_here(
    pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = start_server(monkeypatch, warm_ups=[WHO_READS], wait=False)
    try:
        result = _run(WhoReads(), pdf_path)

        assert readers_parent(result) == os.getpid()
        assert client.process.poll() is None  # it goes on starting
    finally:
        forkserver._stop_server()


def test_an_extractor_that_does_not_pickle_is_read_by_a_child_forked_here(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    result = _run(_local_class()(), pdf_path)

    assert readers_parent(result) == os.getpid()


def _local_class() -> type[WhoReads]:
    @dataclass(frozen=True)
    class Local(WhoReads):  # a class defined in a function does not pickle
        name: ClassVar[str] = "local"

    return Local


def test_an_extractor_the_child_cannot_load_is_read_by_a_child_forked_here(
    pdf_path: Path, fork_server: forkserver._Client
) -> None:
    result = _run(NotLoadable(), pdf_path)

    assert readers_parent(result) == os.getpid()
    assert fork_server.process.poll() is None  # the server goes on


@dataclass(frozen=True)
class NotLoadable(WhoReads):
    """Pickles here; loading it imports a module the child does not have."""

    name: ClassVar[str] = "not-loadable"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (importlib.import_module, ("document_processing.no_such_module",))


def test_a_server_that_has_gone_is_replaced_after_a_while(
    pdf_path: Path, fork_server: forkserver._Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    fork_server.process.kill()
    fork_server.process.wait()

    result = _run(WhoReads(), pdf_path)

    assert readers_parent(result) == os.getpid()
    assert forkserver._client is None  # dropped, and not started again at once
    assert forkserver._retry_at > time.monotonic()
    monkeypatch.setattr(forkserver, "_retry_at", 0.0)
    assert forkserver._ready_client() is None  # a new one is starting
    assert forkserver._client is not None
    assert forkserver._client is not fork_server


def test_a_spare_not_ready_in_time_is_replaced(
    pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = start_server(
        monkeypatch,
        warm_ups=[f"{WhoReads.__module__}.WarmsUpForever"],
        start_seconds=0.3,
        wait=False,
    )
    try:
        _wait_until(lambda: bool(server_children(client)))
        (first,) = server_children(client)
        _wait_until(lambda: not _running(first))  # killed after 0.3 s
        _wait_until(lambda: bool(server_children(client) - {first}))  # and another forked

        result = _run(WhoReads(), pdf_path)  # never ready: read by a child forked here

        assert readers_parent(result) == os.getpid()
    finally:
        forkserver._stop_server()


def test_a_server_whose_spares_keep_dying_gives_up(
    pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = start_server(monkeypatch, warm_ups=[f"{WhoReads.__module__}.DiesInWarmUp"], wait=False)
    try:
        assert client.process.wait(10) == 0  # after a few spares, not one after another

        result = _run(WhoReads(), pdf_path)

        assert readers_parent(result) == os.getpid()
        assert forkserver._client is None  # dropped, and not started again at once
    finally:
        forkserver._stop_server()


def test_a_spare_whose_warm_up_fails_still_reads(
    pdf_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = start_server(monkeypatch, warm_ups=[f"{WhoReads.__module__}.FailsToWarmUp"])
    try:
        assert readers_parent(_run(WhoReads(), pdf_path)) == client.process.pid
    finally:
        forkserver._stop_server()


def test_a_file_shared_by_several_children_is_read_by_children_forked_here(
    tmp_path: Path, fork_server: forkserver._Client
) -> None:
    large = samples.write(tmp_path, samples.report_pdf(12), "large.pdf")
    expected = PdfExtractor().extract(large, limits=LIMITS)
    spares = server_children(fork_server)

    result = run_isolated(PdfExtractor(), large, limits=LIMITS, workers=2, fork_server=True)

    assert result == expected
    assert server_children(fork_server) == spares  # none of them was given it


def test_a_file_shared_by_several_children_starts_the_server_for_the_files_to_come(
    tmp_path: Path,
) -> None:
    forkserver._stop_server()
    large = samples.write(tmp_path, samples.report_pdf(12), "large.pdf")
    try:
        run_isolated(PdfExtractor(), large, limits=LIMITS, workers=2, fork_server=True)

        assert forkserver._client is not None
    finally:
        forkserver._stop_server()


# --- The worker's side -------------------------------------------------------------------------


def test_it_works_from_threads(pdf_path: Path, fork_server: forkserver._Client) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: _run(WhoReads(), pdf_path), range(6)))

    assert {readers_parent(result) for result in results} <= {fork_server.process.pid, os.getpid()}
    assert len({reader(result) for result in results}) == 6


def test_without_fork_server_no_server_is_started(pdf_path: Path) -> None:
    forkserver._stop_server()

    result = run_isolated(WhoReads(), pdf_path, limits=LIMITS)

    assert readers_parent(result) == os.getpid()
    assert forkserver._client is None


def test_a_forked_process_has_no_server(fork_server: forkserver._Client) -> None:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - reports through its exit status
        os._exit(0 if forkserver._client is None else 1)
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert fork_server.process.poll() is None  # the worker's server is untouched


def test_the_server_ends_with_its_children_when_the_worker_closes_its_socket(
    fork_server: forkserver._Client,
) -> None:
    spares = server_children(fork_server)
    assert spares

    forkserver._stop_server()

    assert fork_server.process.returncode == 0
    _wait_until(lambda: not any(_running(pid) for pid in spares))


def test_the_server_dies_with_the_worker(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from document_processing.extractors import forkserver\n"
        "forkserver._ready_client()\n"
        "while forkserver._ready_client() is None: time.sleep(0.01)\n"
        "print(forkserver._client.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=forkserver._PROJECT_DIR
    )
    try:
        assert worker.stdout is not None
        server_pid = int(worker.stdout.readline())
        assert _running(server_pid)
    finally:
        worker.kill()
        worker.wait()

    _wait_until(lambda: not _running(server_pid))
