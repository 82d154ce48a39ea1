"""Workers report in, and the jobs a dead worker had taken go back to the queue at once.

Each Celery worker's main process runs a reporter thread (started when the worker is ready)
that every WORKER_HEARTBEAT_SECONDS writes a `WorkerHeartbeat`: who it is, and the delivery tags
of the messages it holds unacknowledged (running, waiting for a pool process, or waiting for
their countdown). `/health/` reads these rows to know that some worker is alive.

On Redis (the embedded broker is one too) a message a worker took stays in the broker's
`unacked` hash until the worker acknowledges it. When the worker dies whole (SIGKILL, the OOM
killer, a power cut), nobody acknowledges it, and Redis would hand it out again only after the
visibility timeout: longer than the longest task, half an hour by default. So each reporter also
looks at that hash: a message that no living worker holds has lost its worker, and is put back
on its queue, marked as redelivered, so the task takes over the dead worker's claim
(extract_document, synthesize_audio…). A message a dead worker listed in its last report goes
back at once; any other waits WORKER_RECOVERY_GRACE_SECONDS, for a live worker that took it a
moment ago to list it. (When only a pool process dies, the worker itself gives its message back
at once: CELERY_TASK_REJECT_ON_WORKER_LOST.)

RabbitMQ gives back a dead consumer's messages by itself; there is nothing to do there.

Each worker also says whether its speech engine works, so that `/health/` can tell without a web
process loading an engine: once it has reported in, the reporter tries the default voice in a
process of its own (speech_processing/probe.py: load it, speak a word) and records when that
last worked, or when and why it failed. It tries again every WORKER_ENGINE_CHECK_SECONDS, and
every minute while it fails.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import Q
from django.utils import timezone

from core.embedded_broker import REDIS_SCHEMES
from operations.models import WorkerHeartbeat

logger = logging.getLogger(__name__)


# --- Reports ---------------------------------------------------------------------------------


def record_heartbeat(
    *,
    instance: str,
    nodename: str,
    pid: int,
    started_at: datetime,
    held: list[str],
    host: str | None = None,
    now: datetime | None = None,
) -> None:
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        instance=instance,
        defaults={
            "nodename": nodename,
            "host": host or socket.gethostname(),
            "pid": pid,
            "started_at": started_at,
            "last_seen_at": now,
            "stopped_at": None,
            "held": held,
        },
    )


def record_stopped(*, instance: str, now: datetime | None = None) -> None:
    """A worker that shut down cleanly gave its messages back itself (kombu restores them)."""
    WorkerHeartbeat.objects.filter(instance=instance).update(
        stopped_at=now or timezone.now(), held=[]
    )


def live_workers(*, now: datetime | None = None) -> Any:
    now = now or timezone.now()
    return WorkerHeartbeat.objects.filter(
        stopped_at__isnull=True,
        last_seen_at__gte=now - timedelta(seconds=settings.WORKER_LOST_SECONDS),
    )


# --- The speech engine -------------------------------------------------------------------------

# A probe that takes longer has failed (a remote engine that does not answer, a machine that
# cannot load the voice).
ENGINE_PROBE_TIMEOUT_SECONDS = 120.0
# While its engine fails, a worker tries again this often: a repaired installation (a voice file
# put back, credentials fixed) turns healthy without a restart.
ENGINE_RETRY_SECONDS = 60.0
ENGINE_ERROR_MAX_CHARS = 500


def record_engine_state(
    *, instance: str, voice: str, error: str | None, now: datetime | None = None
) -> None:
    """What the worker `instance` found when it last tried `voice`: it spoke (`error` None), or
    it failed, and why."""
    now = now or timezone.now()
    if error is None:
        fields: dict[str, Any] = {"engine_ok_at": now, "engine_error": ""}
    else:
        fields = {"engine_failed_at": now, "engine_error": error[:ENGINE_ERROR_MAX_CHARS]}
    WorkerHeartbeat.objects.filter(instance=instance).update(engine_voice=voice, **fields)


@dataclass(frozen=True)
class EngineState:
    ok: bool
    detail: str


def engine_state(*, voice: str, now: datetime | None = None) -> EngineState:
    """Whether some live worker last found `voice` working; else what each of them said."""
    live = list(live_workers(now=now).order_by("-last_seen_at"))
    if not live:
        return EngineState(False, f"no worker has reported in to speak with {voice}")
    for worker in live:
        if worker.engine_voice == voice and _spoke_last(worker):
            return EngineState(True, f"{worker} spoke with {voice} at {worker.engine_ok_at}")
    return EngineState(False, "; ".join(_engine_detail(worker, voice) for worker in live[:3]))


def _spoke_last(worker: WorkerHeartbeat) -> bool:
    if worker.engine_ok_at is None:
        return False
    return worker.engine_failed_at is None or worker.engine_ok_at >= worker.engine_failed_at


def _engine_detail(worker: WorkerHeartbeat, voice: str) -> str:
    if not worker.engine_voice:
        return f"{worker} has not tried its voice yet"
    if worker.engine_voice != voice:
        return f"{worker} speaks with {worker.engine_voice}, not {voice}"
    return (
        f"{worker} could not speak with {voice} at {worker.engine_failed_at}: {worker.engine_error}"
    )


def probe_engine(voice: str, *, timeout: float = ENGINE_PROBE_TIMEOUT_SECONDS) -> str | None:
    """Try `voice` in a process of its own (speech_processing/probe.py): None when it spoke,
    else why not. The probe's log lines go to this worker's log."""
    root = str(settings.BASE_DIR)
    path = os.environ.get("PYTHONPATH", "")
    env = dict(os.environ, PYTHONPATH=f"{root}{os.pathsep}{path}" if path else root)
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "speech_processing.probe", voice],
            cwd=root, env=env, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        )  # fmt: skip
    except OSError as exc:
        return f"the probe could not start ({type(exc).__name__})"
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return f"the voice did not speak within {timeout:g} s"
    try:
        answer = json.loads(output.strip().splitlines()[-1])
        error = answer["error"]
    except (IndexError, ValueError, KeyError, TypeError):
        return f"the probe ended without an answer (exit status {process.returncode})"
    return None if error is None else str(error)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def mark_dead_on_this_host(*, instance: str, now: datetime | None = None) -> int:
    """Workers of this host whose process is gone are dead now, not in a minute: a worker that
    a supervisor restarts gives back at once what its predecessor held."""
    now = now or timezone.now()
    host = socket.gethostname()
    dead = [
        worker.pk
        for worker in WorkerHeartbeat.objects.filter(host=host, stopped_at__isnull=True).exclude(
            instance=instance
        )
        if not _pid_alive(worker.pid)
    ]
    return WorkerHeartbeat.objects.filter(pk__in=dead).update(stopped_at=now)


def forget_old(*, now: datetime | None = None) -> int:
    """Reports of workers gone for a day are of no use any more."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=1)
    count, _ = WorkerHeartbeat.objects.filter(
        Q(stopped_at__lt=cutoff) | Q(last_seen_at__lt=cutoff)
    ).delete()
    return count


# --- Recovery ---------------------------------------------------------------------------------


def _tags(values: list[Any]) -> set[str]:
    return {value.decode() if isinstance(value, bytes) else str(value) for value in values}


def recover_lost_messages(*, now: datetime | None = None) -> int:
    """Put back on their queues the messages that no living worker holds; returns how many."""
    if not str(settings.CELERY_BROKER_URL).startswith(REDIS_SCHEMES):
        return 0
    from core.celery import app

    now = now or timezone.now()
    live = live_workers(now=now)
    held: set[str] = set()
    for tags in live.values_list("held", flat=True):
        held |= _tags(list(tags or []))
    dead_held: set[str] = set()
    recently_dead = WorkerHeartbeat.objects.exclude(pk__in=live.values("pk")).filter(
        last_seen_at__gte=now - timedelta(days=1)
    )
    for tags in recently_dead.values_list("held", flat=True):
        dead_held |= _tags(list(tags or []))
    grace_before = time.time() - settings.WORKER_RECOVERY_GRACE_SECONDS
    restored = 0
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        client = channel.client
        for raw_tag, delivered_at in client.zrange(
            channel.unacked_index_key, 0, -1, withscores=True
        ):
            tag = raw_tag.decode() if isinstance(raw_tag, bytes) else str(raw_tag)
            if tag in held:
                continue
            if tag not in dead_held and delivered_at > grace_before:
                continue
            channel.qos.restore_by_tag(tag, client=client)
            restored += 1
    if restored:
        logger.warning("Gave back to the queue %d job(s) that a stopped worker had taken", restored)
    return restored


# --- The reporter thread in each worker --------------------------------------------------------

# SQLite must not be carried across fork() (https://www.sqlite.org/howtocorrupt.html, 2.6): a pool
# process that the worker forks (to replace one that died, or one recycled for its memory) while
# the reporter is inside a transaction inherits SQLite's record of that transaction's lock, and
# every write it makes fails, "database is locked", for as long as it lives. On SQLite, forks
# wait for the reporter to be done with the database (a local file: a few milliseconds).
_using_database = threading.Lock()
os.register_at_fork(
    before=_using_database.acquire,
    after_in_parent=_using_database.release,
    after_in_child=_using_database.release,
)


class Reporter(threading.Thread):
    """Runs in a worker's main process: reports in, then gives back dead workers' messages."""

    def __init__(self, *, consumer: Any, nodename: str) -> None:
        super().__init__(name="pagecast-heartbeat", daemon=True)
        self.consumer = consumer
        self.nodename = nodename
        self.instance = uuid.uuid4().hex
        self.pid = os.getpid()
        self.started_at = timezone.now()
        self.stopping = threading.Event()
        self.engine_due = 0.0  # time.monotonic() of the next engine probe
        self.engine_probe: threading.Thread | None = None

    def held_tags(self) -> list[str]:
        try:
            qos = self.consumer.task_consumer.channel.qos
            return [str(tag) for tag in list(getattr(qos, "_delivered", {}).keys())]
        except (AttributeError, RuntimeError):  # not connected yet, or changed while read
            return []

    def beat(self) -> None:
        record_heartbeat(
            instance=self.instance,
            nodename=self.nodename,
            pid=self.pid,
            started_at=self.started_at,
            held=self.held_tags(),
        )

    def run(self) -> None:
        first = True
        while not self.stopping.is_set():
            reported = False
            with _using_database if connection.vendor == "sqlite" else nullcontext():
                try:
                    close_old_connections()
                    self.beat()
                    reported = True
                    if first:
                        mark_dead_on_this_host(instance=self.instance)
                        forget_old()
                        first = False
                    recover_lost_messages()
                except Exception:
                    # A database or broker hiccup: report again at the next beat.
                    logger.exception("Could not report this worker in")
                finally:
                    connection.close()
            if reported:
                self.start_engine_probe()
            self.stopping.wait(settings.WORKER_HEARTBEAT_SECONDS)

    def start_engine_probe(self) -> None:
        """Probe the engine when it is due, beside the reports: a slow probe must not hold them
        up, or other workers would take this one for dead."""
        busy = self.engine_probe is not None and self.engine_probe.is_alive()
        if busy or time.monotonic() < self.engine_due:
            return
        self.engine_due = float("inf")  # until this probe has said when the next is due
        self.engine_probe = threading.Thread(
            target=self.check_engine, name="pagecast-engine-probe", daemon=True
        )
        self.engine_probe.start()

    def check_engine(self) -> None:
        voice = str(settings.SPEECH_DEFAULT_VOICE)
        try:
            error = probe_engine(voice)
        except Exception as exc:
            logger.exception("Could not probe voice %s", voice)
            error = f"the probe failed ({type(exc).__name__})"
        if error is None:
            every = settings.WORKER_ENGINE_CHECK_SECONDS
            self.engine_due = time.monotonic() + every if every > 0 else float("inf")
        else:
            logger.error("This worker cannot speak with voice %s: %s", voice, error)
            self.engine_due = time.monotonic() + ENGINE_RETRY_SECONDS
        if self.stopping.is_set():  # the worker stopped meanwhile, and said so
            return
        with _using_database if connection.vendor == "sqlite" else nullcontext():
            try:
                record_engine_state(instance=self.instance, voice=voice, error=error)
            except Exception:
                logger.exception("Could not record whether this worker's voice speaks")
                self.engine_due = time.monotonic()  # try again at the next beat
            finally:
                connection.close()

    def stop(self) -> None:
        self.stopping.set()
        try:
            record_stopped(instance=self.instance)
        except Exception:
            logger.exception("Could not record that this worker stopped")
        finally:
            connection.close()


_reporter: Reporter | None = None


def start_reporter(sender: Any = None, **kwargs: Any) -> None:
    """celery `worker_ready`: `sender` is the worker's consumer."""
    global _reporter
    if _reporter is not None or sender is None or settings.WORKER_HEARTBEAT_SECONDS <= 0:
        return
    nodename = str(getattr(sender, "hostname", "") or socket.gethostname())
    _reporter = Reporter(consumer=sender, nodename=nodename)
    _reporter.start()


def stop_reporter(**kwargs: Any) -> None:
    """celery `worker_shutdown`."""
    global _reporter
    if _reporter is None:
        return
    _reporter.stop()
    _reporter = None
