"""Run an extractor in a child process with a memory limit and a deadline.

Parsers are native code fed with hostile bytes: a flate bomb can ask for gigabytes, a crafted file
can loop forever or crash. `run_isolated` forks a child that parses under limits and answers
through a pipe, so the worst a file can do is fail its own extraction.

Why `os.fork()` and a pipe, not `multiprocessing` or `subprocess`:

* Celery's prefork workers are daemonic processes, where `multiprocessing` refuses to start
  children; a bare fork has no such rule and works from threads too.
* A fork costs a millisecond and shares the imported modules; `sys.executable -m ...` would pay
  for a new interpreter and its imports on every document.

The child:

* caps its address space at its size at fork time plus `limits.memory_limit_bytes` (the parent may
  already be large, e.g. with a speech model loaded), its CPU time near the deadline, and writes
  no core dumps;
* points every inherited descriptor except the pipe and stdio at /dev/null, so the parent's
  database connections and sockets can be neither used nor shut down from it, and freezes the
  inherited objects so that the garbage collector runs none of their finalisers;
* sends every log record, whichever logger makes it, to the parent with its answer; none of the
  parent's handlers runs in it;
* answers in JSON, not pickle: if a file ever took over the parser, unpickling its answer would
  hand it the parent too; the result's cover travels in it in base64, and the parent keeps it
  only if it could be a cover the child made (a JPEG of at most `cover.MAX_COVER_BYTES`);
* closes its end of the pipe once it has answered, then leaves with `os._exit`, so no atexit
  handler or cleanup of the parent's state runs.

The parent waits for the answer until the deadline, kills the child when it is late and always
reaps it, whatever happens (including an exception such as Celery's soft time limit arriving
while it waits). A child that has answered is only leaving, and its leaving (unmapping all it
shares with a large parent) takes milliseconds: the parent goes on with the answer and a thread
of its own reaps the child, killing it should it still be there at the deadline. A child that
ends without an answer is waited for, since how it ended (signal, memory grown) tells why.

A child first says that it has started: forked from a parent with threads, it can hang before it
runs any of this (in an at-fork handler, on a lock another thread held at the fork); one that has
not said so within `_START_SECONDS` is killed and forked again, and the last of `_START_ATTEMPTS`
is given until the deadline.

An extractor that can share a file between processes (a `PartedExtractor`: the PDF extractor,
page ranges) has large files read by several children at once, each forked as above, under the
same limits and the same deadline, each reading its share. What needs the whole document (a
PDF's running headers, its body text size) is settled between two messages of each child:

1. each child reads its share and sends a survey of it, in JSON;
2. the parent takes one decision from all the surveys (`decide`: plain Python on small data)
   and sends it to every child, followed by end of file;
3. each child finishes its share with it and answers in JSON; the parent joins the answers
   (`combine`).

A describer (`run_isolated(describer=...)`, a `PageDescriber`) has the children of a shared
extraction also do what the parent would otherwise do page by page once every answer is in
(the spoken text of each page, its language): each describes its own pages after step 3, at
the same time as the others, and the parent gets the descriptions in the result. The parent
prepares the describer before it forks (a model loaded once, then shared by every child).

Each message is framed (its length, then the JSON), and all of a run's messages together are
held to the size one child's answer may have (twice that with a describer: a page's
description may repeat its text). The first failure of any child (its error, a
crash, the memory or the deadline) ends the run: every child is killed and reaped, and the
failure maps to the same errors as with a single child.

A worker, which extracts one document after another, can have each file that one child reads
read by a child of its fork server instead (`run_isolated(fork_server=True)`, `forkserver`):
forked from a small process rather than from the worker, ahead of the file, and warmed up; once
it has the file, it is and does all the above.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import enum
import faulthandler
import functools
import gc
import json
import logging
import math
import os
import resource
import selectors
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, NoReturn, Protocol, TypeVar, runtime_checkable

from document_processing.extractors.base import (
    ExtractedPage,
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
    Extractor,
)
from document_processing.extractors.cover import (
    MAX_COVER_JSON_CHARS,
    InvalidCoverError,
    check_cover,
    cover_from_json,
    cover_to_json,
)

logger = logging.getLogger(__name__)

MSG_TOO_COMPLEX = (
    "This file needs more memory to read than allowed. It may be damaged, or built to be "
    "unusually complex."
)
MSG_TIMEOUT = "Reading this file took too long. It may be damaged, or unusually complex."
MSG_UNREADABLE = "This file could not be read. It may be damaged or in a form we cannot handle."

# The answer may be large (all the text), but not unboundedly: a child writing more than this
# is broken and is stopped before the parent's memory suffers.
_ANSWER_BYTES_PER_CHAR = 8
_ANSWER_OVERHEAD_BYTES = 16 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
# Signals a child that ran out of memory dies of: the kernel's OOM killer sends SIGKILL, and
# pdfium, like most native code, aborts or crashes when an allocation fails.
_MEMORY_SIGNALS = frozenset(
    {signal.SIGKILL, signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGTRAP}
)
# Of those, only a child whose resident size grew by this share of its allowance is taken to have
# run out of memory; the others just crashed. Not more: the allocation that fails may be the one
# that would have doubled a buffer, and address space runs out before resident memory does.
_MEMORY_GROWTH_SHARE = 0.25
# Sent as is on MemoryError: built in advance because building it then might fail.
_MEMORY_ANSWER = b'{"kind": "memory"}'
# What a child writes first, right after the fork, before its answer (or its first message).
_STARTED = b"S"
# A child starts within milliseconds; one silent this long is stuck where the fork left it.
_START_SECONDS = 5.0
_START_ATTEMPTS = 3
_MAX_LOG_RECORDS = 100
_MAX_LOG_CHARS = 2_000
_PR_SET_PDEATHSIG = 1
# Shared extraction: each message is its length (8 bytes, big-endian), then the JSON.
_FRAME_HEADER = struct.Struct(">Q")
_MEMORY_FRAME = _FRAME_HEADER.pack(len(_MEMORY_ANSWER)) + _MEMORY_ANSWER
# Two children where two CPUs may be used: the second halves the time of a long document; more
# would crowd out the other work of a server (other extractions, speech synthesis).
_DEFAULT_WORKERS = 2
_MAX_WORKERS = 16
# What a malformed answer or survey raises while it is decoded, checked or combined.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError)

_T = TypeVar("_T")


class Share(Protocol):
    """One child's share of a file in a shared extraction, between its two messages."""

    def survey(self) -> Any:
        """What the decision needs to know of this share (JSON-compatible)."""
        ...

    def finish(self, decision: Any) -> Any:
        """This share's part of the result, given the decision (both JSON-compatible)."""
        ...


@runtime_checkable
class PartedExtractor(Protocol):
    """An extractor whose work on one file can be shared between processes.

    `extract(path)` must equal `combine([s.finish(d) for s in shares])` where
    `shares = [read_share(path, part=i, parts=n) for i in range(n)]` and
    `d = decide([s.survey() for s in shares])`, for any n, after a trip through JSON.
    `decide` and `combine` run in the parent on what children sent: they must check its shape
    (raising ValueError, TypeError, KeyError...) and do only light work. The pages `combine`
    gives are the shares' pages in order: those of `combine([finished])` for each share's.
    """

    name: ClassVar[str]
    # Smaller files are read by one child: forking a second one would cost more than it saves.
    parted_min_bytes: ClassVar[int]

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult: ...

    def read_share(
        self, path: Path, *, limits: ExtractionLimits, part: int, parts: int
    ) -> Share: ...

    def decide(self, surveys: list[Any], *, limits: ExtractionLimits) -> Any: ...

    def combine(self, finished: list[Any], *, limits: ExtractionLimits) -> ExtractionResult: ...


class PageDescriber(Protocol):
    """Work on each page that the children of a shared extraction do beside their reading."""

    def prepare(self) -> None:
        """Load what `describe` needs, in the parent before it forks, so that the children
        share it rather than load it each."""
        ...

    def describe(self, page: ExtractedPage) -> Any:
        """What the parent needs to know of `page`, JSON-compatible; run in a child."""
        ...


def default_workers() -> int:
    """How many children share a large file by default: two where two CPUs may be used."""
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        usable = os.cpu_count() or 1
    return max(1, min(_DEFAULT_WORKERS, usable))


def run_isolated(
    extractor: Extractor,
    path: Path,
    *,
    limits: ExtractionLimits,
    workers: int | None = None,
    fork_server: bool = False,
    describer: PageDescriber | None = None,
) -> ExtractionResult:
    """`extractor.extract(path, limits=limits)` in a child process under `limits`.

    `workers`: for an extractor that can share a file (`PartedExtractor`), at most this many
    children read it at once, each under `limits`; None: `default_workers()` for a file of at
    least the extractor's `parted_min_bytes`, one for a smaller one. Other extractors always
    run in one child.

    `fork_server`: a file read by one child is read by a child of this process's fork server
    (`forkserver`), forked and warmed up ahead, rather than by one forked here; the server is
    started on first use, and until it is ready (or when it cannot take the extractor) a child
    is forked here as without it. For a process that extracts one document after another (a
    worker), not for one that extracts a single document and ends.

    `describer`: when children share the file, each describes its pages, and the result holds
    the descriptions (`ExtractionResult.descriptions`); otherwise they are None.

    Raises ExtractionError: the extractor's own, passed through with its message and code, or
    code "too_complex" (memory), "timeout" or "unreadable" (crash or unexpected exception; the
    cause is logged here, never shown).
    """
    _libc()  # loaded here, once, rather than in every child
    parts = 1
    if isinstance(extractor, PartedExtractor):
        parts = _share_count(extractor, path, workers)
    if fork_server:
        from document_processing.extractors import forkserver  # it imports this module

        if parts == 1:
            served = forkserver.run_served(extractor, path, limits=limits)
            if served is not None:
                return served
        else:  # started now all the same, to be ready for the smaller files to come
            forkserver.start_server()
    if parts == 1:
        describer = None
    elif describer is not None:
        describer.prepare()
    run = partial(_run, extractor, path, limits=limits, parts=parts, describer=describer)
    for attempt in range(1, _START_ATTEMPTS):
        try:
            return run(start_seconds=_START_SECONDS)
        except _NotStarted:
            logger.warning(
                "A child extracting %s did not start within %.1f s (attempt %d); forking again",
                path,
                _START_SECONDS,
                attempt,
            )
    return run(start_seconds=math.inf)


def _run(
    extractor: Extractor,
    path: Path,
    *,
    limits: ExtractionLimits,
    parts: int,
    describer: PageDescriber | None,
    start_seconds: float,
) -> ExtractionResult:
    """One attempt; raises _NotStarted when a child has not started within `start_seconds`
    (every child killed and reaped)."""
    if parts > 1 and isinstance(extractor, PartedExtractor):
        crew = _Crew(path, limits, start_seconds, describer)
        return _run_shared(extractor, crew, parts=parts)
    return _run_single(extractor, path, limits=limits, start_seconds=start_seconds)


class _NotStarted(Exception):
    """A child did not say it had started in time (see the module's docstring)."""


def _share_count(extractor: PartedExtractor, path: Path, workers: int | None) -> int:
    if workers is not None:
        return max(1, min(workers, _MAX_WORKERS))
    try:
        size = path.stat().st_size
    except OSError:
        return 1  # the child says what is wrong with the file
    return default_workers() if size >= extractor.parted_min_bytes else 1


def _run_single(
    extractor: Extractor, path: Path, *, limits: ExtractionLimits, start_seconds: float
) -> ExtractionResult:
    deadline = time.monotonic() + limits.timeout_seconds
    start_deadline = min(deadline, time.monotonic() + start_seconds)
    rss_before, vm_size = _memory_use()
    read_fd, write_fd = os.pipe()
    parent_pid = os.getpid()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        raise  # the server is short of processes or memory: not the file's fault
    if pid == 0:  # the child never returns from here
        os.close(read_fd)
        _child_main(
            _whole_work(extractor, path, limits),
            write_fd=write_fd,
            keep=(write_fd,),
            limits=limits,
            vm_size=vm_size,
            parent_pid=parent_pid,
            framed=False,
        )
    os.close(write_fd)
    return _await_single(
        _Child(pid),
        read_fd,
        path=path,
        limits=limits,
        deadline=deadline,
        start_deadline=start_deadline,
        rss_before=rss_before,
    )


class _Process(Protocol):
    """A child reading a file, as the parent handles it: one forked here (`_Child`), or one its
    fork server forked (`forkserver.ServedChild`)."""

    def kill(self) -> None:
        """Kill it (if it has not been reaped) and make sure it is reaped."""
        ...

    def wait(self, deadline: float) -> tuple[int | None, int]:
        """(wait status or None if that cannot be told, peak RSS in bytes) once it has ended;
        killed at the deadline."""
        ...

    def reap_later(self, deadline: float) -> None:
        """Leave it to be reaped without waiting, killed should it still be there at the
        deadline."""
        ...


def _await_single(
    child: _Process,
    read_fd: int,
    *,
    path: Path,
    limits: ExtractionLimits,
    deadline: float,
    start_deadline: float,
    rss_before: int,
    started: bool = False,
) -> ExtractionResult:
    """The result `child` answers on `read_fd` (closed here), or the error for how it failed;
    the child is reaped or left to a reaper thread, whatever happens. `started`: its start
    mark has been read already."""
    try:
        try:
            answer = _read_answer(
                read_fd, deadline, _answer_limit(limits), start_deadline, started=started
            )
        finally:
            os.close(read_fd)
        if answer is _Stop.NOT_STARTED:
            child.kill()
            raise _NotStarted
        if answer is _Stop.DEADLINE:
            child.kill()
            logger.warning("Extraction of %s timed out after %.1f s", path, limits.timeout_seconds)
            raise ExtractionError(MSG_TIMEOUT, code="timeout")
        if answer is _Stop.OVERSIZED:
            child.kill()
            logger.error("Extraction of %s answered with more than it may; stopped", path)
            raise ExtractionError(MSG_UNREADABLE, code="unreadable")
        if not answer:  # how it ended tells why
            status, max_rss = child.wait(deadline)
            raise _silent_failure(status, max_rss - rss_before, limits, path)
        child.reap_later(deadline)
    finally:
        child.kill()  # does nothing once reaped: here for exceptions raised while waiting
    return _decode(answer, path, partial(_result_from_json, path=path))


# --- Parent ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Child:
    pid: int
    reaped: bool = False  # or left to a reaper thread: either way, no longer ours to kill

    def wait(self, deadline: float) -> tuple[int | None, int]:
        """(wait status or None if it was reaped elsewhere, peak RSS in bytes).

        The answer is complete only at end of file, so the child is exiting; it still gets until
        the deadline before it is killed.
        """
        delay = 0.0005
        while True:
            try:
                pid, status, usage = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped by someone else (a SIGCHLD handler)
                self.reaped = True
                return None, 0
            if pid:
                self.reaped = True
                return status, _maxrss_bytes(usage)
            if time.monotonic() >= deadline:
                self.kill()
                return None, 0
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def kill(self) -> None:
        if self.reaped:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.reaped = True

    def reap_later(self, deadline: float) -> None:
        """Leave a child that has answered (and closed its pipe) to a thread that reaps it, or
        kills and reaps it at the deadline; reaped here if no thread can be started."""
        if self.reaped:
            return
        reaper = threading.Thread(
            target=_reap, args=(_Child(self.pid), deadline), name=f"reap-{self.pid}", daemon=True
        )
        with _reapers_lock:
            _reapers.add(reaper)
        try:
            reaper.start()
        except RuntimeError:  # no thread to be had: the parent waits, as it must then
            with _reapers_lock:
                _reapers.discard(reaper)
            self.wait(deadline)
            return
        self.reaped = True


# The threads reaping children that have answered (see `_Child.reap_later`).
_reapers: set[threading.Thread] = set()
_reapers_lock = threading.Lock()


def _forget_reapers() -> None:
    # A forked process has none of its parent's threads, and the lock may have been held by one.
    global _reapers_lock
    _reapers_lock = threading.Lock()
    _reapers.clear()


os.register_at_fork(after_in_child=_forget_reapers)


def _reap(child: _Child, deadline: float) -> None:
    try:
        _wait_for_exit(child.pid, deadline)
        child.wait(deadline)
    finally:
        with _reapers_lock:
            _reapers.discard(threading.current_thread())


def _wait_for_exit(pid: int, deadline: float) -> None:
    """Sleep until the child has exited or the deadline has come, waking once: a thread polling
    instead would take the interpreter lock from the parent's work again and again."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux 5.3+, or already reaped: `wait` polls
        return
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(pidfd, selectors.EVENT_READ)
            selector.select(max(0.0, deadline - time.monotonic()))
    finally:
        os.close(pidfd)


def _join_reapers() -> None:
    """Wait until every child left to a reaper thread is reaped (for tests and shutdown)."""
    while True:
        with _reapers_lock:
            pending = next(iter(_reapers), None)
        if pending is None:
            return
        pending.join()


class _Stop(enum.Enum):
    """Why the parent stopped reading before the end of the answer."""

    DEADLINE = "deadline"
    OVERSIZED = "oversized"
    NOT_STARTED = "not started"


def _read_answer(
    fd: int, deadline: float, limit: int, start_deadline: float, *, started: bool = False
) -> bytes | _Stop:
    """Everything the child writes after its start mark, up to end of file, unless it has not
    started by `start_deadline` (at most `deadline`), or the deadline or `limit` comes first.
    `started`: the start mark has been read already."""
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            until = deadline if started else start_deadline
            remaining = until - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return _Stop.NOT_STARTED if until < deadline else _Stop.DEADLINE
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            if not started:
                started = True
                chunk = chunk.removeprefix(_STARTED)
            size += len(chunk)
            if size > limit:
                return _Stop.OVERSIZED
            chunks.append(chunk)


def _answer_limit(limits: ExtractionLimits) -> int:
    # A cover is on top: it never makes an answer that holds all the text allowed oversized.
    return limits.max_chars * _ANSWER_BYTES_PER_CHAR + _ANSWER_OVERHEAD_BYTES + MAX_COVER_JSON_CHARS


def _silent_failure(
    status: int | None, growth: int, limits: ExtractionLimits, path: Path
) -> ExtractionError:
    """The error for a child that ended without a (complete) answer, from how it ended."""
    if status is not None and os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        if signum == signal.SIGXCPU:
            logger.warning("Extraction of %s used up its CPU time", path)
            return ExtractionError(MSG_TIMEOUT, code="timeout")
        if signum in _MEMORY_SIGNALS and growth >= _MEMORY_GROWTH_SHARE * limits.memory_limit_bytes:
            logger.warning(
                "Extraction of %s ran out of memory (signal %d after growing by %d MiB)",
                path,
                signum,
                growth >> 20,
            )
            return ExtractionError(MSG_TOO_COMPLEX, code="too_complex")
        logger.error(
            "Extraction of %s crashed with signal %d (grew by %d MiB)", path, signum, growth >> 20
        )
    else:
        logger.error("Extraction of %s ended without an answer (status %s)", path, status)
    return ExtractionError(MSG_UNREADABLE, code="unreadable")


def _decode(answer: bytes, path: Path, convert: Callable[[Any], _T]) -> _T:
    """Turn the child's JSON into `convert(result)` or an exception, trusting none of its
    shape."""
    try:
        message = json.loads(answer)
        _relay_logs(message.get("logs", []))
        kind = message["kind"]
        if kind == "ok":
            return convert(message["result"])
        if kind == "error":
            raise ExtractionError(_string(message["message"]), code=_string(message["code"]))
        if kind == "memory":
            logger.warning("Extraction of %s ran out of memory", path)
            raise ExtractionError(MSG_TOO_COMPLEX, code="too_complex")
        if kind == "crash":
            logger.error(
                "Extraction of %s failed: %s\n%s",
                path,
                _string(message["type"]),
                _string(message["traceback"]),
            )
        else:
            logger.error("Extraction of %s answered with unknown kind %r", path, kind)
    except ExtractionError:
        raise
    except _MALFORMED:
        logger.exception("Extraction of %s gave an answer that could not be read", path)
    raise ExtractionError(MSG_UNREADABLE, code="unreadable")


def _result_from_json(data: Any, *, path: Path) -> ExtractionResult:
    pages = [
        ExtractedPage(
            markdown=_string(markdown), title=_string(title), contents=_flag(contents[:1])
        )
        for markdown, title, *contents in data["pages"]
    ]
    try:
        cover = cover_from_json(data.get("cover"))
    except InvalidCoverError as problem:
        logger.warning("Extraction of %s sent a cover that was dropped: %s", path, problem)
        cover = b""
    return ExtractionResult(
        pages=pages,
        title=_string(data["title"]),
        author=_string(data["author"]),
        notes=[_string(note) for note in data["notes"]],
        cover=cover,
        language=_string(data.get("language", ""))[:100],
    )


def _with_checked_cover(result: ExtractionResult, path: Path) -> ExtractionResult:
    """`result`, without its cover unless that could be one a child made: `combine` takes it
    from what a child sent."""
    try:
        check_cover(result.cover)
    except InvalidCoverError as problem:
        logger.warning("Extraction of %s sent a cover that was dropped: %s", path, problem)
        return dataclasses.replace(result, cover=b"")
    return result


def _flag(values: list[Any]) -> bool:
    """An optional true/false a child sent (absent: false)."""
    if values and not isinstance(values[0], bool):
        raise TypeError(f"expected a boolean, got {type(values[0]).__name__}")
    return bool(values and values[0])


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _relay_logs(records: Any) -> None:
    if not isinstance(records, list):
        return
    for record in records[:_MAX_LOG_RECORDS]:
        match record:
            case [int(level), str(name), str(text)]:
                logger.log(level, "[child %s] %s", name[:200], text[:_MAX_LOG_CHARS])


def _memory_use() -> tuple[int, int]:
    """(resident size, address space size) of this process in bytes, from one reading of
    /proc/self/status; 0 for what cannot be read (no /proc: not Linux).

    Read by the parent just before it forks: the resident size is what a child's growth is
    measured from, and the address space is what the child's allowance is added to (a child
    starts with the parent's, so it need not read /proc itself)."""
    sizes = {b"VmRSS:": 0, b"VmSize:": 0}
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                name = line[: line.find(b":") + 1]
                if name in sizes:
                    sizes[name] = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return sizes[b"VmRSS:"], sizes[b"VmSize:"]


def _maxrss_bytes(usage: resource.struct_rusage) -> int:
    # Linux reports kilobytes, macOS bytes.
    return usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024


# --- Parent of a shared extraction -------------------------------------------------------------


def _run_shared(extractor: PartedExtractor, crew: _Crew, *, parts: int) -> ExtractionResult:
    path, limits = crew.path, crew.limits
    try:
        for part in range(parts):
            crew.start(extractor, part, parts)
        surveys = crew.gather()
        decision = _in_parent(path, lambda: extractor.decide(surveys, limits=limits))
        crew.deliver(json.dumps(decision).encode("ascii"))
        answers = crew.gather()
        crew.reap()
    finally:
        crew.stop()  # does nothing once all are reaped: here for failures and exceptions
    if crew.describer is None:
        result = _in_parent(path, lambda: extractor.combine(answers, limits=limits))
        return _with_checked_cover(result, path)
    finished = _in_parent(path, lambda: [answer["finished"] for answer in answers])
    result = _with_checked_cover(
        _in_parent(path, lambda: extractor.combine(finished, limits=limits)), path
    )
    return dataclasses.replace(result, descriptions=_descriptions(answers, result, path))


def _descriptions(answers: list[Any], result: ExtractionResult, path: Path) -> list[Any] | None:
    """Every share's page descriptions in order, or None (logged) unless there is one for each
    page of the result."""
    descriptions: list[Any] = []
    for answer in answers:
        described = answer.get("described")
        if not isinstance(described, list):
            break
        descriptions.extend(described)
    else:
        if len(descriptions) == len(result.pages):
            return descriptions
    logger.warning("Extraction of %s described its pages wrongly; they are not used", path)
    return None


def _in_parent(path: Path, step: Callable[[], _T]) -> _T:
    """`step()`, a decision or join on what the children sent: a malformed message is the
    file's failure, not the server's."""
    try:
        return step()
    except ExtractionError:
        raise
    except _MALFORMED:
        logger.exception("Extraction of %s gave answers that could not be joined", path)
    raise ExtractionError(MSG_UNREADABLE, code="unreadable")


@dataclass(slots=True)
class _Member:
    child: _Child
    up: int  # the parent's end of the pipe from the child
    down: int  # the parent's end of the pipe to the child; -1 once closed
    inbox: bytearray = field(default_factory=bytearray)
    started: bool = False  # it has written its start mark (or anything)

    def close(self) -> None:
        for fd in (self.up, self.down):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.up = self.down = -1


class _Crew:
    """The children of one shared extraction: started, questioned, answered, reaped."""

    def __init__(
        self,
        path: Path,
        limits: ExtractionLimits,
        start_seconds: float,
        describer: PageDescriber | None = None,
    ) -> None:
        self.path = path
        self.limits = limits
        self.describer = describer
        self.deadline = time.monotonic() + limits.timeout_seconds
        self.start_deadline = min(self.deadline, time.monotonic() + start_seconds)
        self.rss_before, self.vm_size = _memory_use()
        # For every message of every child together.
        self.budget = _answer_limit(limits) * (1 if describer is None else 2)
        self.members: list[_Member] = []

    def start(self, extractor: PartedExtractor, part: int, parts: int) -> None:
        up_read, up_write = os.pipe()
        try:
            down_read, down_write = os.pipe()
        except OSError:
            os.close(up_read)
            os.close(up_write)
            raise
        parent_pid = os.getpid()
        try:
            pid = os.fork()
        except OSError:
            for fd in (up_read, up_write, down_read, down_write):
                os.close(fd)
            raise  # the server is short of processes or memory: not the file's fault
        if pid == 0:  # the child never returns from here
            os.close(up_read)
            os.close(down_write)
            # The parent's ends of the other children's pipes are pointed at /dev/null with
            # every other inherited descriptor, so each child alone holds its pipes open.
            work = _share_work(
                extractor,
                path=self.path,
                limits=self.limits,
                part=part,
                parts=parts,
                up_fd=up_write,
                down_fd=down_read,
                describer=self.describer,
            )
            _child_main(
                work,
                write_fd=up_write,
                keep=(up_write, down_read),
                limits=self.limits,
                vm_size=self.vm_size,
                parent_pid=parent_pid,
                framed=True,
            )
        os.close(up_write)
        os.close(down_read)
        self.members.append(_Member(_Child(pid), up=up_read, down=down_write))

    def gather(self) -> list[Any]:
        """One message from every child, in the order of their parts. The first child that
        fails (an error, a crash, too long or too much) ends the run: raises its error."""
        results: list[Any] = [None] * len(self.members)
        with selectors.DefaultSelector() as selector:
            for index, member in enumerate(self.members):
                selector.register(member.up, selectors.EVENT_READ, index)
            while selector.get_map():
                waiting = not all(member.started for member in self.members)
                until = self.start_deadline if waiting else self.deadline
                remaining = until - time.monotonic()
                events = selector.select(remaining) if remaining > 0 else []
                if not events:
                    if until < self.deadline:
                        self.stop()
                        raise _NotStarted
                    raise self._timed_out()
                for key, _ in events:
                    index = key.data
                    message = self._receive(self.members[index])
                    if message is not None:
                        selector.unregister(key.fd)
                        results[index] = _decode(message, self.path, _unchanged)
        return results

    def _receive(self, member: _Member) -> bytes | None:
        """What the child has written so far: its message once complete, else None."""
        chunk = os.read(member.up, _READ_CHUNK)
        if not chunk:  # ended, with part of a message at most: how it ended tells why
            status, max_rss = member.child.wait(self.deadline)
            raise _silent_failure(status, max_rss - self.rss_before, self.limits, self.path)
        if not member.started:
            member.started = True
            chunk = chunk.removeprefix(_STARTED)
        self.budget -= len(chunk)
        if self.budget < 0:
            raise self._oversized()
        inbox = member.inbox
        inbox += chunk
        if len(inbox) < _FRAME_HEADER.size:
            return None
        (size,) = _FRAME_HEADER.unpack_from(inbox)
        end = _FRAME_HEADER.size + size
        if len(inbox) > end or end - len(inbox) > self.budget:
            raise self._oversized()  # more than one message, or more than may come
        if len(inbox) < end:
            return None
        message = bytes(inbox[_FRAME_HEADER.size :])
        inbox.clear()
        return message

    def deliver(self, decision: bytes) -> None:
        """Send the decision to every child, then end of file."""
        for member in self.members:
            sent = _send(member.down, decision, self.deadline)
            os.close(member.down)
            member.down = -1
            if not sent:
                raise self._timed_out()

    def reap(self) -> None:
        for member in self.members:
            member.child.reap_later(self.deadline)  # all have answered, so all are leaving

    def stop(self) -> None:
        for member in self.members:
            member.close()
            member.child.kill()

    def _timed_out(self) -> ExtractionError:
        self.stop()
        logger.warning(
            "Extraction of %s timed out after %.1f s", self.path, self.limits.timeout_seconds
        )
        return ExtractionError(MSG_TIMEOUT, code="timeout")

    def _oversized(self) -> ExtractionError:
        self.stop()
        logger.error("Extraction of %s answered with more than it may; stopped", self.path)
        return ExtractionError(MSG_UNREADABLE, code="unreadable")


def _unchanged(value: Any) -> Any:
    return value


def _send(fd: int, data: bytes, deadline: float) -> bool:
    """Write all of `data` unless the deadline comes first (False). A child that is gone has
    its pipe closed; how it ended shows when its answer is read."""
    os.set_blocking(fd, False)
    view = memoryview(data)
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_WRITE)
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return False
            except BrokenPipeError:
                return True
    return True


# --- Child -------------------------------------------------------------------------------------


def _whole_work(
    extractor: Extractor, path: Path, limits: ExtractionLimits
) -> Callable[[_CollectingHandler], bytes]:
    def work(logs: _CollectingHandler) -> bytes:
        result = extractor.extract(path, limits=limits)
        return _encode({"kind": "ok", "result": _result_to_json(result)}, logs)

    return work


def _share_work(
    extractor: PartedExtractor,
    *,
    path: Path,
    limits: ExtractionLimits,
    part: int,
    parts: int,
    up_fd: int,
    down_fd: int,
    describer: PageDescriber | None = None,
) -> Callable[[_CollectingHandler], bytes]:
    def work(logs: _CollectingHandler) -> bytes:
        share = extractor.read_share(path, limits=limits, part=part, parts=parts)
        _write_message(up_fd, _encode({"kind": "ok", "result": share.survey()}, logs), True)
        logs.records = []
        decision = _read_to_end(down_fd)
        if not decision:  # the parent gave up on this run
            os._exit(0)
        finished = share.finish(json.loads(decision))
        if describer is None:
            return _encode({"kind": "ok", "result": finished}, logs)
        pages = extractor.combine([finished], limits=limits).pages
        described = [describer.describe(page) for page in pages]
        return _encode(
            {"kind": "ok", "result": {"finished": finished, "described": described}}, logs
        )

    return work


def _read_to_end(fd: int) -> bytes:
    chunks: list[bytes] = []
    while chunk := os.read(fd, _READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def _child_main(
    work: Callable[[_CollectingHandler], bytes],
    *,
    write_fd: int,
    keep: Collection[int],
    limits: ExtractionLimits,
    vm_size: int,
    parent_pid: int,
    framed: bool,
) -> NoReturn:
    """Run `work` and write its answer (framed or not), or the error it raised, to `write_fd`;
    then leave, whatever happens."""
    code = 0
    try:
        _write_all(write_fd, _STARTED)
        logs = _CollectingHandler()

        def prepared_work(logs: _CollectingHandler) -> bytes:
            _prepare_child(keep, parent_pid, logs)
            _set_limits(limits, vm_size)
            return work(logs)

        _write_message(write_fd, _answer(prepared_work, logs), framed)
    except MemoryError:
        with contextlib.suppress(BaseException):
            _write_all(write_fd, _MEMORY_FRAME if framed else _MEMORY_ANSWER)
    except BaseException:
        code = 1
    finally:
        # End of file for the parent now, not once this process has unmapped all it shares
        # with the parent: an answer is complete, and the parent need not wait for the rest.
        with contextlib.suppress(BaseException):
            os.close(write_fd)
        os._exit(code)


def _answer(work: Callable[[_CollectingHandler], bytes], logs: _CollectingHandler) -> bytes:
    """What `work` answers, or the answer for the error it raised."""
    try:
        return work(logs)
    except ExtractionError as exc:
        return _encode({"kind": "error", "message": exc.user_message, "code": exc.code}, logs)
    except MemoryError:
        return _MEMORY_ANSWER
    except BaseException as exc:  # the parent logs it; nothing may escape a forked child
        crash = {
            "kind": "crash",
            "type": type(exc).__name__,
            "traceback": "".join(traceback.format_exception(exc))[-20_000:],
        }
        return _encode(crash, logs)


def _write_message(fd: int, message: bytes, framed: bool) -> None:
    if framed:
        _write_all(fd, _FRAME_HEADER.pack(len(message)))
    _write_all(fd, message)


def _prepare_child(keep: Collection[int], parent_pid: int, logs: _CollectingHandler) -> None:
    """Leave the parent's state behind (all but the limits, which come with the file)."""
    # Objects inherited from the parent are never collected here, so no finaliser of theirs
    # (closing a database connection, say) runs in the child; new objects are collected as usual.
    gc.freeze()
    # No Python handler of the parent's (Celery's, say) runs here; SIGCHLD as subprocess needs.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    _die_with_parent(parent_pid)
    _neutralise_inherited_descriptors(keep)
    if faulthandler.is_enabled():  # its stream may have been one of them: stderr instead
        faulthandler.enable(file=sys.__stderr__ or 2)
    _capture_logs(logs)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: be killed when the thread that forked us dies, rather than run on as an orphan."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(AttributeError):
        libc = _libc()
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library (for prctl) on Linux, loaded once per process: the parent loads it before
    forking, so that no child pays for it (or takes the loader's lock a thread may hold)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    # ctypes looks a function up on first use and keeps it: here, not in every child.
    with contextlib.suppress(AttributeError):
        libc.prctl  # noqa: B018
    return libc


def _neutralise_inherited_descriptors(keep: Collection[int]) -> None:
    """Point every inherited descriptor but stdio and those in `keep` at /dev/null.

    Not closed: a number closed here could be reused by a file the extractor opens, and an
    inherited object that still holds the old number (a socket, faulthandler's stream) would
    then read, write or close the wrong file. Sockets and database connections of the parent
    stay open in the parent; here they lead nowhere.
    """
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for fd in _open_descriptors():
            if fd > 2 and fd != null and fd not in keep:
                with contextlib.suppress(OSError):
                    os.dup2(null, fd)
    finally:
        os.close(null)


def _open_descriptors() -> list[int]:
    for listing in ("/proc/self/fd", "/dev/fd"):
        with contextlib.suppress(OSError):
            return [int(name) for name in os.listdir(listing)]
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return list(range(3, 4096 if limit == resource.RLIM_INFINITY else min(limit, 65536)))


def _set_limits(limits: ExtractionLimits, vm_size: int) -> None:
    """`vm_size`: the address space the allowance is added to, as the parent read it just
    before the fork (or a fork server's spare once warmed up); 0: unknown, no cap."""
    if vm_size:
        _lower_limit(resource.RLIMIT_AS, vm_size + limits.memory_limit_bytes)
    # The parent kills the child at the deadline; this also stops a spinning child whose parent
    # is gone. Wall-clock time is at least CPU time, so it never fires first.
    _lower_limit(resource.RLIMIT_CPU, math.ceil(limits.timeout_seconds) + 5)
    _lower_limit(resource.RLIMIT_CORE, 0)


def _lower_limit(which: int, value: int) -> None:
    """Set soft and hard limits to `value`, or keep a lower limit already in place."""
    for current in resource.getrlimit(which):
        if current != resource.RLIM_INFINITY:
            value = min(value, current)
    resource.setrlimit(which, (value, value))


class _CollectingHandler(logging.Handler):
    """Keeps the child's log records to send them to the parent with the answer."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[int, str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < _MAX_LOG_RECORDS:
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info))
            self.records.append((record.levelno, record.name, text[-_MAX_LOG_CHARS:]))


def _capture_logs(handler: _CollectingHandler) -> None:
    """Send every record, whichever logger makes it, to `handler` alone.

    The parent's handlers may write to descriptors just pointed at /dev/null, so none of them
    runs here; a logger that does not propagate is collected too. Done once on the class, not
    on each of the inherited loggers: changing every one would copy the memory each lies in
    from the parent (a few hundred pages, a millisecond or two).
    """

    def call_handlers(logger: logging.Logger, record: logging.LogRecord) -> None:
        handler.handle(record)

    logging.Logger.callHandlers = call_handlers  # type: ignore[method-assign, assignment]


def _result_to_json(result: ExtractionResult) -> dict[str, Any]:
    return {
        "pages": [[page.markdown, page.title, page.contents] for page in result.pages],
        "title": result.title,
        "author": result.author,
        "notes": list(result.notes),
        "cover": cover_to_json(result.cover),
        "language": result.language,
    }


def _encode(message: dict[str, Any], logs: _CollectingHandler) -> bytes:
    message["logs"] = logs.records
    # ASCII escapes carry any string, lone surrogates included, through strict UTF-8 decoding.
    return json.dumps(message).encode("ascii")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
