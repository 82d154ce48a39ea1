"""A worker killed with SIGKILL half-way through a synthesis loses nothing and duplicates nothing.

Real worker processes (`celery -A core worker`, prefork) on the real broker and on a database
the test shares with them: the test queues one synthesis, waits until a worker has claimed it,
kills the worker, and checks that the audio is then made exactly once (one completed row, one
stored file, no message left behind).

Tasks are acknowledged late, so a message whose worker died stays unacknowledged: on Redis it is
delivered again after the broker's visibility timeout (BROKER_VISIBILITY_TIMEOUT, a few seconds
here); when only the pool process dies, the worker itself hands the message back at once
(reject_on_worker_lost). Either way the delivery is marked as redelivered, and the task takes
over the abandoned claim.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from core.celery import app
from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from speech_processing import services
from speech_processing.models import Audio
from users.models import User

pytestmark = [
    pytest.mark.broker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parents[2]
TASK = "speech_processing.generate_audio"
QUEUE = "speech"
# Short limits so that a lost message comes back within seconds; the visibility timeout must
# outlast the hard time limit (the settings refuse anything else).
TIME_LIMITS = {
    "CELERY_TASK_SOFT_TIME_LIMIT": "4",
    "CELERY_TASK_TIME_LIMIT": "5",
    "BROKER_VISIBILITY_TIMEOUT": "6",
}
# With the fake voice at 0.4 s a sentence (core/tests/worker_settings.py), about 2 s of work:
# long enough to be interrupted, well inside the soft time limit.
SENTENCES = 5


@pytest.fixture
def broker_url() -> Iterator[str]:
    url = os.environ["CELERY_BROKER_URL"]
    if not url.startswith("redis://"):
        pytest.skip("reads the queue and the unacknowledged messages in Redis")
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        channel.queue_purge(QUEUE)
    try:
        yield url
    finally:
        app.conf.task_always_eager = eager


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


def start_worker(name: str, broker_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        TIME_LIMITS,
        DJANGO_SETTINGS_MODULE="core.tests.worker_settings",
        DATABASE_URL=database_url(),
        DATABASE_CONN_MAX_AGE="0",
        CELERY_BROKER_URL=broker_url,
        DATA_DIR=str(settings.DATA_DIR),
        PYTHONPATH=str(ROOT),
    )
    command = [
        sys.executable, "-m", "celery", "-A", "core", "worker",
        "--queues", QUEUE, "--pool", "prefork", "--concurrency", "1",
        "--hostname", f"{name}-{os.getpid()}@%h", "--loglevel", "INFO",
        "--without-mingle", "--without-gossip", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("ab") as out:
        # Its own process group, so that a kill reaches the pool process too.
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is not None:
        return
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:  # pragma: no cover
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)


def kill_process_group(worker: subprocess.Popen[bytes]) -> None:
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(10)


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


def wait_until(check: Callable[[], bool], what: str, logs: list[Path], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists())
    raise AssertionError(f"{what} did not happen within {timeout} s\n{tails}")


def state(audio: Audio) -> tuple[str, int]:
    return Audio.objects.filter(pk=audio.pk).values_list("status", "attempts").get()


def audio_files() -> set[str]:
    folder = Path(settings.MEDIA_ROOT) / "audio"
    return {path.name for path in folder.iterdir()} if folder.exists() else set()


def messages_of(client: redis.Redis, audio_id: int) -> tuple[list[str], list[str]]:
    """Ids of this audio's synthesis messages: (waiting in the queue, taken and unacknowledged)."""

    def ours(message: dict[str, Any]) -> bool:
        args = json.loads(base64.b64decode(message["body"]))[0]
        return bool(message["headers"]["task"] == TASK and args == [audio_id])

    waiting = [json.loads(raw) for raw in client.lrange(QUEUE, 0, -1)]
    taken = [json.loads(raw)[0] for raw in client.hvals("unacked")]
    return (
        [m["headers"]["id"] for m in waiting if ours(m)],
        [m["headers"]["id"] for m in taken if ours(m)],
    )


def queue_synthesis(owner: User) -> Audio:
    page = document_with_pages(owner=owner, pages=1).pages.get()
    text = " ".join(f"Sentence number {n} is read aloud." for n in range(1, SENTENCES + 1))
    Page.objects.filter(pk=page.pk).update(text=text, char_count=len(text))
    page.refresh_from_db()
    # Committed at once (no test transaction), and queued on the broker on commit.
    return services.create_audio_record(page=page, voice="fake:alpha", user=owner)


def assert_made_exactly_once(audio: Audio, new_files: set[str], client: redis.Redis) -> None:
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED, audio.error_message
    assert audio.attempts == 2
    assert audio.error_message == ""
    assert len(new_files) == 1
    assert audio.file_key == f"audio/{next(iter(new_files))}"
    head = (Path(settings.MEDIA_ROOT) / audio.file_key).read_bytes()[:3]
    assert head == b"ID3" or head[0] == 0xFF
    assert Audio.objects.filter(page=audio.page_id).count() == 1


def test_a_worker_killed_mid_synthesis_is_replaced_and_the_audio_made_once(
    alice: User, broker_url: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(broker_url)
    files_before = audio_files()
    audio = queue_synthesis(alice)
    waiting, _ = messages_of(client, audio.pk)
    assert len(waiting) == 1  # one task queued
    task_id = waiting[0]
    logs = [tmp_path / "first-worker.log", tmp_path / "second-worker.log"]

    first = start_worker("crash-first", broker_url, logs[0])
    try:
        wait_until(lambda: state(audio)[0] == Audio.Status.GENERATING, "the first claim", logs)
        kill_process_group(first)
    finally:
        if first.poll() is None:  # pragma: no cover
            kill_process_group(first)
    # Killed half-way: claimed, nothing stored, the message taken and not acknowledged.
    assert state(audio) == (Audio.Status.GENERATING, 1)
    assert audio_files() == files_before
    assert messages_of(client, audio.pk) == ([], [task_id])

    second = start_worker("crash-second", broker_url, logs[1])
    try:
        wait_until(lambda: state(audio)[0] == Audio.Status.COMPLETED, "the completion", logs)
        # Acknowledged, so it is never delivered again.
        wait_until(lambda: messages_of(client, audio.pk) == ([], []), "the acknowledgement", logs)
    finally:
        stop_worker(second)
    assert_made_exactly_once(audio, audio_files() - files_before, client)


def test_a_pool_process_killed_mid_synthesis_gives_its_task_back_at_once(
    alice: User, broker_url: str, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(broker_url)
    files_before = audio_files()
    audio = queue_synthesis(alice)
    log = tmp_path / "worker.log"
    worker = start_worker("crash-child", broker_url, log)
    try:
        wait_until(lambda: state(audio)[0] == Audio.Status.GENERATING, "the first claim", [log])
        (pool_process,) = children_of(worker.pid)
        os.kill(pool_process, signal.SIGKILL)
        # The worker notices its lost process and puts the message back (reject_on_worker_lost);
        # a new pool process takes it over.
        wait_until(lambda: state(audio)[0] == Audio.Status.COMPLETED, "the completion", [log])
        wait_until(lambda: messages_of(client, audio.pk) == ([], []), "the acknowledgement", [log])
    finally:
        stop_worker(worker)
    assert "WorkerLostError" in log.read_text()
    assert_made_exactly_once(audio, audio_files() - files_before, client)
