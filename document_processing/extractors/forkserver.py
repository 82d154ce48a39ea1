"""The fork server: a small process that forks the children reading a worker's files.

`isolation.run_isolated(fork_server=True)` has a file read by a child of this server rather than
by a child it forks itself. A worker is a large process (Django, the language model, maybe a
speech model): forking it copies its page tables, write-protects all its memory (so it pays a
fault for every page it writes afterwards) and gives a child that pays again for every page of
the parent's it touches. The server is a fresh interpreter that has imported the extractors and
nothing else (no Django, no connection, no thread): forking it costs a millisecond, and the
worker is never forked for a file.

The server keeps a spare child: forked, prepared as `isolation` prepares a child (descriptors
pointed at /dev/null, signals, no core, logs collected, killed with the server), warmed up (each
default extractor's `warm_up`, e.g. `pdf.warm_up`'s page) and waiting. A file goes to it, and
the server forks the next spare while it reads. So a worker's file waits for neither a fork
nor a cold child.

Every guarantee of `isolation` holds for these children:

* memory: the child caps its address space at its size when it is given the file plus
  `limits.memory_limit_bytes`, and its CPU time near the deadline, as any child;
* deadline: the worker waits for the answer until the deadline from when it sends the file,
  and kills the child when it is late, through a pidfd the server sends it (a pidfd names the
  process itself, so a pid used again cannot be hit);
* killed and reaped: the server reaps each child as it ends and tells the worker how it ended
  (wait status, peak size), as `isolation` needs to tell memory from crash; a child that has
  answered is left to end on its own, killed at the deadline if it is still there;
* JSON answers: the child writes its answer, as any child, into a pipe the worker made and
  sent with the file, so the server never sees it; what the worker sends the child (the
  extractor, path and limits) is pickled, in the trusted direction only;
* no descriptor inherited: the server is started with none but its socket, and each child
  points the server's at /dev/null.

The worker and the server talk over a socket pair (no name on disk). The worker starts the
server on first use and goes on forking children itself until the server says it is ready
(its imports take a few tenths of a second); it does so too for an extractor that does not
pickle or that the child cannot load (say, a class defined in a test), and for a file shared
by several children, and where the system has no pidfds (Linux before 5.3, other systems). A
server that is gone or stuck is stopped and, for a while, not started again; one whose spares
keep dying before they are ready gives up. The server ends when the worker closes the socket,
and dies with it.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import functools
import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from document_processing.extractors import isolation
from document_processing.extractors.base import ExtractionLimits, ExtractionResult, Extractor
from document_processing.extractors.registry import DEFAULT_EXTRACTORS, _import_class

# A job (the pickled extractor, path and limits) is small; more than this is not sent.
_MAX_JOB_BYTES = 64 * 1024
# After a server failed, the worker forks its children itself this long before it tries again.
_RETRY_SECONDS = 60.0
# How long the worker gives a stopping server before it kills it.
_STOP_SECONDS = 2.0
# Spares warming up at once when files queue (several threads of a worker sending files).
_MAX_WARMING = 4
# Spares in a row that end before they are ready: the server gives up (it takes no more files,
# lets the children reading files finish and ends; the worker forks its children itself for a
# while) rather than fork spare after spare that cannot work.
_MAX_SPARE_FAILURES = 3
_PROJECT_DIR = str(Path(__file__).resolve().parents[2])

# The server says once that it is ready; a spare says so with its resident size.
_READY = b"R"
_SPARE_READY = struct.Struct(">cQ")
# To the worker, on the file's own socket: the child that took it (pid, resident size then, and
# its pidfd alongside), then how it ended (wait status, peak resident size in bytes).
_TAKEN = struct.Struct(">IQ")
_ENDED = struct.Struct(">iQ")
# The child's first byte on the answer pipe: it has loaded the job (then its answer follows, as
# any child's), or it cannot (the worker reads the file with a child of its own instead).
_LOADED = isolation._STARTED
_NOT_LOADED = b"X"


# --- In the worker -----------------------------------------------------------------------------


def run_served(
    extractor: Extractor, path: Path, *, limits: ExtractionLimits
) -> ExtractionResult | None:
    """`extractor.extract(path, limits=limits)` in a child of this process's fork server, or
    None when the server cannot take it (not ready yet, gone, or the extractor cannot be sent):
    the caller then forks a child itself. Raises ExtractionError as `run_isolated` does."""
    if not _supported():
        return None
    try:
        job = pickle.dumps((extractor, str(path), limits), protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None
    if len(job) > _MAX_JOB_BYTES:
        return None
    client = _ready_client()
    if client is None:
        return None
    deadline = time.monotonic() + limits.timeout_seconds
    taken = client.submit(job, deadline)
    if taken is None:
        return None
    child, read_fd = taken
    return isolation._await_single(
        child,
        read_fd,
        path=path,
        limits=limits,
        deadline=deadline,
        start_deadline=deadline,
        rss_before=child.rss_before,
        started=True,
    )


@dataclass(slots=True)
class ServedChild:
    """A child the server forked, as the worker handles it (`isolation._Process`)."""

    pid: int
    pidfd: int
    reply: socket.socket  # the server says here how the child ended
    rss_before: int  # its resident size when it took the file
    reaped: bool = False  # or left to a thread: either way, no longer ours to handle

    def kill(self) -> None:
        if self.reaped:
            return
        with contextlib.suppress(OSError):  # ProcessLookupError: it has ended already
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        self._close()  # the server reaps it

    def wait(self, deadline: float) -> tuple[int | None, int]:
        """How it ended, as the server tells once it has reaped it; (None, 0) when the server
        does not tell by the deadline (the child is then killed)."""
        if self.reaped:
            return None, 0
        message = _receive(self.reply, deadline, _ENDED.size)
        if message is None or len(message[0]) != _ENDED.size:
            self.kill()
            return None, 0
        self._close()
        status, max_rss = _ENDED.unpack(message[0])
        return status, max_rss

    def reap_later(self, deadline: float) -> None:
        """Leave it to end on its own (the server reaps it); a thread kills it should it still
        be there at the deadline, or the worker waits if no thread can be started."""
        if self.reaped:
            return
        watcher = threading.Thread(
            target=_kill_at_deadline,
            args=(self.pidfd, self.reply, deadline),
            name=f"served-{self.pid}",
            daemon=True,
        )
        with isolation._reapers_lock:
            isolation._reapers.add(watcher)
        try:
            watcher.start()
        except RuntimeError:
            with isolation._reapers_lock:
                isolation._reapers.discard(watcher)
            self.wait(deadline)
            return
        self.reaped = True

    def _close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.pidfd)
        self.reply.close()
        self.reaped = True


def _kill_at_deadline(pidfd: int, reply: socket.socket, deadline: float) -> None:
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(pidfd, selectors.EVENT_READ)  # readable once it has ended
            if not selector.select(max(0.0, deadline - time.monotonic())):
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    finally:
        with contextlib.suppress(OSError):
            os.close(pidfd)
        reply.close()
        with isolation._reapers_lock:
            isolation._reapers.discard(threading.current_thread())


@dataclass(eq=False)
class _Client:
    """This process's server, as the worker sees it."""

    process: subprocess.Popen[bytes]
    control: socket.socket
    ready: bool = False

    def poll_ready(self) -> bool | None:
        """Whether it has said it is ready (None: it is gone)."""
        with contextlib.suppress(BlockingIOError):
            message = self.control.recv(16, socket.MSG_DONTWAIT)
            if message != _READY:
                return None
            self.ready = True
        return self.ready

    def submit(self, job: bytes, deadline: float) -> tuple[ServedChild, int] | None:
        """Send the file; the child that took it and the reading end of its answer, or None
        (nothing left running) when the server cannot take it."""
        read_fd, write_fd = os.pipe()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            socket.send_fds(self.control, [job], [write_fd, theirs.fileno()])
        except OSError:
            os.close(read_fd)
            ours.close()
            _drop(self)
            return None
        finally:
            os.close(write_fd)
            theirs.close()
        started_by = min(deadline, time.monotonic() + isolation._START_SECONDS)
        message = _receive(ours, started_by, _TAKEN.size)
        if message is None or len(message[0]) != _TAKEN.size or len(message[1]) != 1:
            for fd in message[1] if message else ():
                os.close(fd)
            os.close(read_fd)
            ours.close()
            _drop(self)  # gone, or stuck: no file waits for it again
            return None
        pid, rss_before = _TAKEN.unpack(message[0])
        child = ServedChild(pid, message[1][0], ours, rss_before)
        if _first_byte(read_fd, started_by) != _LOADED:  # it cannot load the extractor
            child.kill()
            os.close(read_fd)
            return None
        return child, read_fd

    def stop(self) -> None:
        """Close the socket (the server then kills its children and ends) and reap it."""
        self.control.close()
        try:
            self.process.wait(_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _receive(sock: socket.socket, deadline: float, size: int) -> tuple[bytes, list[int]] | None:
    """One message and the descriptors sent with it, or None at end of file or the deadline."""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        if not selector.select(max(0.0, deadline - time.monotonic())):
            return None
    try:
        message, fds, _, _ = socket.recv_fds(sock, size, 1)
    except OSError:
        return None
    for fd in fds:  # as every descriptor Python makes: not left to a program this one runs
        os.set_inheritable(fd, False)
    if not message:
        for fd in fds:
            os.close(fd)
        return None
    return message, fds


def _first_byte(fd: int, deadline: float) -> bytes:
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        if not selector.select(max(0.0, deadline - time.monotonic())):
            return b""
    return os.read(fd, 1)


_client: _Client | None = None
_client_lock = threading.Lock()
_retry_at = 0.0
# Dotted paths of the extractors whose warm-up each spare runs (tests give others).
_warm_ups: tuple[str, ...] = tuple(DEFAULT_EXTRACTORS.values())
# Clients inherited through a fork: kept so that nothing here ever waits for their server.
_inherited: list[_Client] = []


def start_server() -> None:
    """Start this process's server unless it has one (or one failed lately)."""
    if _supported():
        _ready_client()


@functools.cache
def _supported() -> bool:
    """Whether this system has what the server needs: pidfds (Linux 5.3) and descriptors
    passed over sockets."""
    if not hasattr(os, "pidfd_open") or not hasattr(socket, "send_fds"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def _ready_client() -> _Client | None:
    """This process's server if it is ready; else None, having started one if there is none
    (and none failed lately)."""
    global _client
    with _client_lock:
        client = _client
        if client is None:
            if time.monotonic() >= _retry_at:
                _client = _start()
            return None  # it is starting: this file is read by a child forked here
        ready = client.ready or client.poll_ready()
        if ready is None:
            _drop_locked(client)
            return None
        return client if ready else None


def _start() -> _Client | None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    python_path = [_PROJECT_DIR, *filter(None, [os.environ.get("PYTHONPATH")])]
    command = [
        sys.executable,
        "-m",
        "document_processing.extractors.forkserver",
        str(theirs.fileno()),
        str(os.getpid()),
        repr(isolation._START_SECONDS),
        *_warm_ups,
    ]
    try:
        process = subprocess.Popen(  # noqa: S603 - this interpreter, this module
            command,
            pass_fds=(theirs.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(python_path)},
            # Not in the terminal's process group (^C): it ends with the worker all the same.
            start_new_session=True,
        )
    except OSError:
        ours.close()
        return None
    finally:
        theirs.close()
    return _Client(process, ours)


def _drop(client: _Client) -> None:
    with _client_lock:
        _drop_locked(client)


def _drop_locked(client: _Client) -> None:
    global _client, _retry_at
    if _client is client:
        _client = None
        _retry_at = time.monotonic() + _RETRY_SECONDS
    client.stop()


def _stop_server() -> None:
    """Stop this process's server, if it has one (at exit, and for tests)."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None:
        client.stop()


def _forget_server() -> None:
    # A forked process has no server of its own: the parent's socket is closed here, and its
    # process left alone.
    global _client, _client_lock, _retry_at
    _client_lock = threading.Lock()
    if _client is not None:
        _client.control.close()
        _inherited.append(_client)
    _client = None
    _retry_at = 0.0


os.register_at_fork(after_in_child=_forget_server)
atexit.register(_stop_server)


# --- In the server -----------------------------------------------------------------------------


@dataclass(eq=False)
class _Spare:
    pid: int
    pidfd: int
    sock: socket.socket  # the server's end: "ready" from the spare, then its file
    ready_by: float
    rss: int = 0
    ready: bool = False


@dataclass(eq=False)
class _Job:
    payload: bytes
    answer_fd: int  # the worker's pipe, passed on to the child
    reply: socket.socket  # the worker's socket for this file


@dataclass(eq=False)
class _Running:
    pid: int
    pidfd: int
    reply: socket.socket


class _Server:
    """One loop, one thread (a fork from a process with threads can hang): files in, spares
    out, children reaped."""

    def __init__(
        self, control: socket.socket, warm_ups: Sequence[Any], start_seconds: float
    ) -> None:
        self.control = control
        self.warm_ups = warm_ups
        self.start_seconds = start_seconds
        self.pid = os.getpid()
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ, ("file", None))
        self.spares: list[_Spare] = []
        self.jobs: collections.deque[_Job] = collections.deque()
        self.said_ready = False
        self.failures = 0  # spares in a row that ended before they were ready
        self.giving_up = False

    def serve(self) -> None:
        """Until the worker closes the socket; then every child is killed and reaped."""
        try:
            self._top_up()
            while True:
                for key, _ in self.selector.select(self._until_next_expiry()):
                    kind, item = key.data
                    if kind == "file":
                        if not self._on_file():
                            return
                    elif kind == "spare":
                        self._on_spare(item)
                    else:
                        self._on_end(item)
                self._expire()
                if self.failures >= _MAX_SPARE_FAILURES and not self.giving_up:
                    self._give_up()
                if self.giving_up and not self._reading():
                    return
                self._dispatch()
                self._top_up()
        finally:
            self._stop()

    def _on_file(self) -> bool:
        """Take a file the worker sent; False once the worker has gone."""
        try:
            payload, fds, flags, _ = socket.recv_fds(self.control, _MAX_JOB_BYTES, 2)
        except OSError:
            return False
        if not payload and not fds:
            return False
        if flags & socket.MSG_TRUNC or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            return True
        self.jobs.append(_Job(payload, fds[0], socket.socket(fileno=fds[1])))
        return True

    def _on_spare(self, spare: _Spare) -> None:
        try:
            message = spare.sock.recv(_SPARE_READY.size + 1)
        except OSError:
            message = b""
        if len(message) == _SPARE_READY.size and message[:1] == _READY:
            spare.rss = _SPARE_READY.unpack(message)[1]
            spare.ready = True
            self.failures = 0
            if not self.said_ready:
                with contextlib.suppress(OSError):
                    self.control.send(_READY)
                self.said_ready = True
        else:  # gone, or saying what a spare does not: reaped when it ends
            self.failures += 1
            self._retire(spare)
            _kill(spare.pidfd)

    def _on_end(self, ended: _Spare | _Running) -> None:
        try:
            pid, status, usage = os.wait4(ended.pid, os.WNOHANG)
        except ChildProcessError:
            pid, status, usage = ended.pid, 0, None
        if not pid:
            return
        self.selector.unregister(ended.pidfd)
        os.close(ended.pidfd)
        if isinstance(ended, _Running):
            max_rss = isolation._maxrss_bytes(usage) if usage is not None else 0
            with contextlib.suppress(OSError):
                ended.reply.send(_ENDED.pack(status, max_rss))
            ended.reply.close()
        else:
            self._retire(ended)

    def _retire(self, spare: _Spare) -> None:
        """No longer a spare (it has its file, or is gone); its pidfd stays watched."""
        if spare in self.spares:
            self.spares.remove(spare)
            self.selector.unregister(spare.sock)
            spare.sock.close()

    def _dispatch(self) -> None:
        """Each waiting file to a ready spare, oldest first."""
        while self.jobs:
            spare = next((spare for spare in self.spares if spare.ready), None)
            if spare is None:
                return
            job = self.jobs.popleft()
            try:
                socket.send_fds(spare.sock, [job.payload], [job.answer_fd])
            except OSError:  # it has just died: the file waits for the next one
                self._retire(spare)
                _kill(spare.pidfd)
                self.jobs.appendleft(job)
                continue
            self._retire(spare)
            os.close(job.answer_fd)
            running = _Running(spare.pid, spare.pidfd, job.reply)
            self.selector.modify(spare.pidfd, selectors.EVENT_READ, ("end", running))
            try:
                socket.send_fds(job.reply, [_TAKEN.pack(spare.pid, spare.rss)], [spare.pidfd])
            except OSError:  # the worker gave up on this file: nobody would read the answer
                _kill(spare.pidfd)

    def _give_up(self) -> None:
        """Take no more files: the worker finds the socket closed, and the files waiting here
        without an answer."""
        self.giving_up = True
        self.selector.unregister(self.control)
        self.control.close()
        for job in self.jobs:
            os.close(job.answer_fd)
            job.reply.close()
        self.jobs.clear()
        for spare in list(self.spares):
            self._retire(spare)
            _kill(spare.pidfd)

    def _reading(self) -> bool:
        """Whether any child is reading a file."""
        return any(isinstance(key.data[1], _Running) for key in self.selector.get_map().values())

    def _top_up(self) -> None:
        """A spare for each waiting file, and one more for the next."""
        if self.giving_up:
            return
        while len(self.spares) < len(self.jobs) + 1:
            warming = sum(1 for spare in self.spares if not spare.ready)
            if warming >= _MAX_WARMING or not self._fork_spare():
                return

    def _fork_spare(self) -> bool:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            pid = os.fork()
        except OSError:
            ours.close()
            theirs.close()
            return False
        if pid == 0:  # the spare never returns from here
            ours.close()
            _spare_main(theirs, self.warm_ups, server_pid=self.pid)
        theirs.close()
        spare = _Spare(
            pid, os.pidfd_open(pid), ours, ready_by=time.monotonic() + self.start_seconds
        )
        self.spares.append(spare)
        self.selector.register(ours, selectors.EVENT_READ, ("spare", spare))
        self.selector.register(spare.pidfd, selectors.EVENT_READ, ("end", spare))
        return True

    def _until_next_expiry(self) -> float | None:
        pending = [spare.ready_by for spare in self.spares if not spare.ready]
        return max(0.0, min(pending) - time.monotonic()) if pending else None

    def _expire(self) -> None:
        """Kill a spare not ready in time (stuck where the fork left it, or in its warm-up)."""
        now = time.monotonic()
        for spare in list(self.spares):
            if not spare.ready and spare.ready_by <= now:
                self.failures += 1
                self._retire(spare)
                _kill(spare.pidfd)

    def _stop(self) -> None:
        for key in list(self.selector.get_map().values()):
            if key.data[0] == "end":
                _kill(key.fd)
        while True:
            try:
                os.wait()
            except ChildProcessError:
                return


def _kill(pidfd: int) -> None:
    with contextlib.suppress(OSError):  # ProcessLookupError: it has ended already
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _spare_main(sock: socket.socket, warm_ups: Sequence[Any], *, server_pid: int) -> NoReturn:
    """Prepare and warm up, say so, wait for one file, say whether its extractor loads and
    answer for it as any child does; then leave, whatever happens."""
    code = 0
    answer_fd = -1
    try:
        logs = isolation._CollectingHandler()
        isolation._prepare_child((sock.fileno(),), server_pid, logs)
        for extractor in warm_ups:
            warm_up = getattr(extractor, "warm_up", None)
            if callable(warm_up):
                with contextlib.suppress(Exception):  # a failed warm-up only leaves it cold
                    warm_up(limits=ExtractionLimits())
        logs.records = []
        rss, vm_size = isolation._memory_use()  # the allowance is on top of its size now
        sock.send(_SPARE_READY.pack(_READY, rss))
        payload, fds, _, _ = socket.recv_fds(sock, _MAX_JOB_BYTES, 1)
        sock.close()
        if len(fds) != 1:
            os._exit(0)  # the server is stopping
        answer_fd = fds[0]
        try:
            # The worker's own job, relayed by the server over socket pairs no other process
            # holds; no file has been read in this process yet.
            extractor, path, limits = pickle.loads(payload)  # noqa: S301  # nosec B301
        except Exception:
            isolation._write_all(answer_fd, _NOT_LOADED)
            os._exit(0)
        isolation._write_all(answer_fd, _LOADED)

        def work(logs: isolation._CollectingHandler) -> bytes:
            isolation._set_limits(limits, vm_size)
            return isolation._whole_work(extractor, Path(path), limits)(logs)

        isolation._write_message(answer_fd, isolation._answer(work, logs), False)
    except MemoryError:
        with contextlib.suppress(BaseException):
            isolation._write_all(answer_fd, isolation._MEMORY_ANSWER)
    except BaseException:
        code = 1
    finally:
        with contextlib.suppress(BaseException):
            os.close(answer_fd)
        os._exit(code)


def main(arguments: Sequence[str]) -> None:
    """`python -m document_processing.extractors.forkserver FD WORKER_PID START_SECONDS
    WARM_UP...`: serve the worker on socket FD until it closes it."""
    control = socket.socket(fileno=int(arguments[0]))
    isolation._die_with_parent(int(arguments[1]))
    warm_ups = [_import_class(dotted)() for dotted in arguments[3:]]
    for dotted in DEFAULT_EXTRACTORS.values():  # imported here once, not by every child
        _import_class(dotted)
    isolation._libc()
    _Server(control, warm_ups, start_seconds=float(arguments[2])).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
