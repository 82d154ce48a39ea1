"""Real Celery worker processes for tests: start them, kill them, and read what the broker holds.

A worker is `celery -A core worker` (prefork) with core/tests/worker_settings.py, on the broker
the test names and on the test's own database, so the test sees every row it writes. Each runs
in its own process group, as under a process supervisor, so that killing "the whole worker"
reaches its pool processes too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from core.celery import app

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("default", "documents", "speech")


def database_url() -> str:
    """The test database, as a URL a worker process can open."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{db['HOST']}{port}/{db['NAME']}"


def children_of(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@dataclass
class Worker:
    """One worker process (its main process is `process`), logging to `log`."""

    process: subprocess.Popen[bytes]
    log: Path
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    def pool_processes(self) -> list[int]:
        """The pool: forks of the main process (the same command line), not the other programs
        it starts, such as the speech engine probe."""
        main = _command_line(self.pid)
        return [pid for pid in children_of(self.pid) if _command_line(pid) == main]

    def kill_pool_processes(self) -> list[int]:
        """SIGKILL every pool process; the main process lives on and replaces them."""
        killed = self.pool_processes()
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        return killed

    def kill(self) -> None:
        """SIGKILL the whole worker, pool processes included, and reap it."""
        os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            self.kill()


class Workers:
    """Starts workers for one test, and stops whatever is left of them when it ends."""

    def __init__(self, *, broker_url: str, cache_url: str, folder: Path, env: dict[str, str]):
        self.broker_url = broker_url
        self.cache_url = cache_url
        self.folder = folder
        self.env = env
        self.started: list[Worker] = []

    def start(self, name: str, *, concurrency: int) -> Worker:
        env = dict(os.environ)
        env.update(
            self.env,
            DJANGO_SETTINGS_MODULE="core.tests.worker_settings",
            DATABASE_URL=database_url(),
            DATABASE_CONN_MAX_AGE="0",
            CELERY_BROKER_URL=self.broker_url,
            CACHE_URL=self.cache_url,
            DATA_DIR=str(settings.DATA_DIR),
            PYTHONPATH=str(ROOT),
        )
        command = [
            sys.executable, "-m", "celery", "-A", "core", "worker",
            "--queues", ",".join(QUEUES), "--pool", "prefork", "--concurrency", str(concurrency),
            "--hostname", f"{name}-{os.getpid()}@%h", "--loglevel", "INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        log = self.folder / f"{name}.log"
        with log.open("ab") as out:
            # Its own process group, as under a supervisor: a kill of the group reaches the pool.
            process = subprocess.Popen(
                command,
                env=env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        worker = Worker(process=process, log=log)
        self.started.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(
            f"--- {worker.log.name}\n{worker.log.read_text()[-4000:]}"
            for worker in self.started
            if worker.log.exists()
        )

    def wait_until(
        self,
        check: Callable[[], bool],
        what: str,
        *,
        timeout: float = 60,
        deadline: float | None = None,
    ) -> None:
        """Poll `check` until it holds; fail with the workers' logs after `timeout` seconds, or
        at `deadline` (a `time.monotonic()` value)."""
        if deadline is None:
            deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.05)
        raise AssertionError(f"{what} did not happen in time\n{self.logs()}")

    def stop_all(self) -> None:
        """Stop the workers, then whatever is left in their process groups (the extraction
        child of a pool process that was killed, say)."""
        for worker in self.started:
            worker.stop()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)


@contextlib.contextmanager
def publishing_to(broker_url: str) -> Iterator[None]:
    """Tasks queued by this process go to `broker_url` (not run eagerly) for the block."""
    conf = app.conf
    saved_env = os.environ.get("CELERY_BROKER_URL")
    saved = (conf.broker_transport_options, conf.task_always_eager)
    # Celery reads CELERY_BROKER_URL from the environment before its own setting.
    os.environ["CELERY_BROKER_URL"] = broker_url
    conf.broker_transport_options = {}
    conf.task_always_eager = False
    _forget_connections()
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        conf.broker_transport_options, conf.task_always_eager = saved
        _forget_connections()


def _forget_connections() -> None:
    """Forget the pooled connections, so the next message goes to the broker now configured
    (the same reset Celery does after a fork). They are not closed: kombu keeps one pool per
    broker for the whole process, and the next test on the same broker finds it again."""
    celery_app: Any = app  # (private attributes, which the stubs do not know)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


# --- What the broker holds --------------------------------------------------------------------


def purge_queues() -> None:
    """Empty the queues and forget messages taken by workers of earlier runs."""
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        for queue in QUEUES:
            channel.queue_purge(queue)
        channel.client.delete(channel.unacked_key, channel.unacked_index_key)


def _task_of(message: dict[str, Any]) -> tuple[str, list[Any]]:
    args = json.loads(base64.b64decode(message["body"]))[0]
    return str(message["headers"]["task"]), list(args)


@dataclass(frozen=True)
class Held:
    """The messages of one task call: waiting in a queue, and taken but not acknowledged."""

    waiting: int
    taken: int


def messages_for(task: str, args: Iterable[Any]) -> Held:
    wanted = (task, list(args))
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        client = channel.client
        waiting = [json.loads(raw) for queue in QUEUES for raw in client.lrange(queue, 0, -1)]
        taken = [json.loads(raw)[0] for raw in client.hvals(channel.unacked_key)]
    return Held(
        waiting=sum(_task_of(message) == wanted for message in waiting),
        taken=sum(_task_of(message) == wanted for message in taken),
    )
