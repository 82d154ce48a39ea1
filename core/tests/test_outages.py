"""Outages of the database, the broker and the speech service: clear answers, nothing lost.

The database and the broker are made unreachable for real: their address is pointed at a port
nothing listens on (a SQLite database at a folder that does not exist), so every new connection
is refused, exactly as when the server is down. Putting the address back is the recovery; nothing
is restarted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import Retry
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from kombu import Message
from rest_framework.test import APIClient

from conftest import client_for
from core.celery import app
from core.tests.outage import broker_down, closed_port
from document_processing import services as document_services
from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from speech_processing import services as speech_services
from speech_processing.engines.fake import TRANSIENT_MARKER
from speech_processing.models import Audio
from speech_processing.tasks import generate_audio_task
from users.models import User

# --- The database -------------------------------------------------------------------------------


@contextmanager
def database_down() -> Iterator[None]:
    """Every new database connection, in any thread, fails until the block ends.

    The settings dict is the one every thread's connection is built from, so the health check's
    threads see the outage too.
    """
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        key, unreachable = "PORT", str(closed_port())
    else:
        key, unreachable = "NAME", str(Path(db["NAME"]).parent / "no-such-folder" / "db.sqlite3")
    saved = db[key]
    connection.close()
    db[key] = unreachable
    try:
        yield
    finally:
        connection.close()
        db[key] = saved


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.content
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["error_id"]
    assert response["Retry-After"]
    text = response.content.decode().lower()
    for leak in ("refused", "connection", "port", "sqlite", "traceback", "operationalerror"):
        assert leak not in text


def health() -> tuple[int, dict[str, Any]]:
    response = APIClient().get("/health/")
    return response.status_code, response.json()


ALL_OK = {
    "database": "ok",
    "broker": "ok",
    "storage": "ok",
    "tts": "ok",
    "worker": "ok",
    "queue": "ok",
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("live_worker")
def test_health_names_the_database_while_it_is_down_and_recovers() -> None:
    assert health() == (200, {"status": "ok", "checks": ALL_OK})
    with database_down():
        status, body = health()
        assert status == 503
        # The workers' reports (alive, voice speaking) are in the database too.
        assert body == {
            "status": "error",
            "checks": {**ALL_OK, "database": "error", "worker": "error", "tts": "error"},
        }
    assert health() == (200, {"status": "ok", "checks": ALL_OK})


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_503_while_the_database_is_down_and_recovers(alice: User) -> None:
    page = document_with_pages(owner=alice, pages=1, title="Kept").pages.get()
    by_token = client_for(alice)
    by_session = APIClient()
    by_session.force_login(alice)
    with database_down():
        assert_unavailable(by_token.get("/api/v1/documents/"))
        assert_unavailable(by_session.get("/api/v1/documents/"))
        assert_unavailable(by_token.get(f"/api/v1/pages/{page.pk}/"))
        assert_unavailable(
            by_token.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"})
        )
    # Back, without a restart: the same clients are answered, and nothing was half-written.
    for client in (by_token, by_session):
        response = client.get("/api/v1/documents/")
        assert response.status_code == 200
        assert [d["title"] for d in response.json()["results"]] == ["Kept"]
    assert Audio.objects.count() == 0
    response = by_token.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"})
    assert response.status_code == 202
    assert Audio.objects.get().status == Audio.Status.COMPLETED


def stored_originals() -> set[str]:
    if not default_storage.exists("originals"):
        return set()
    return set(default_storage.listdir("originals")[1])


@pytest.mark.django_db(transaction=True)
def test_an_upload_that_meets_a_database_outage_leaves_no_file_behind(alice: User) -> None:
    client = client_for(alice)
    before = stored_originals()
    saved: list[str] = []
    real_save = default_storage.save

    def upload() -> Any:
        file = SimpleUploadedFile("notes.md", b"# Notes\n\nA few words.", "text/markdown")
        return client.post("/api/v1/documents/", {"file": file}, format="multipart")

    with ExitStack() as outage, pytest.MonkeyPatch.context() as patch:

        def save_then_lose_the_database(name: str, content: Any, **kwargs: Any) -> str:
            saved.append(real_save(name, content, **kwargs))
            outage.enter_context(database_down())
            return saved[-1]

        patch.setattr(default_storage, "save", save_then_lose_the_database)
        assert_unavailable(upload())
    # The original was stored, then removed again when its row could not be written.
    assert len(saved) == 1
    assert not default_storage.exists(saved[0])
    assert stored_originals() == before
    assert Document.objects.count() == 0

    response = upload()
    assert response.status_code == 202
    document = Document.objects.get()
    assert document.status == Document.Status.COMPLETED
    assert stored_originals() == before | {document.file_key.split("/")[-1]}


# --- The broker ---------------------------------------------------------------------------------


def test_a_broker_outage_at_enqueue_loses_no_work(
    alice: User,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    client = client_for(alice)
    page = document_with_pages(owner=alice, pages=1).pages.get()
    with broker_down(), django_capture_on_commit_callbacks(execute=True):
        generated = client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"})
        uploaded = client.post("/api/v1/documents/", {"title": "Later", "text": "Read me."})
    # Accepted and kept: the rows wait, pending, and the log says why.
    assert generated.status_code == 202
    assert uploaded.status_code == 202
    audio = Audio.objects.get(pk=generated.json()["id"])
    document = Document.objects.get(pk=uploaded.json()["id"])
    assert audio.status == Audio.Status.PENDING
    assert document.status == Document.Status.PENDING
    assert "queueing speech_processing.tasks.generate_audio_task" in caplog.text
    assert "queueing document_processing.tasks.extract_document_task" in caplog.text

    # The broker is back: the stuck-job sweep queues both, and both are done.
    later = timezone.now() + timedelta(seconds=settings.STUCK_PENDING_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert speech_services.sweep_stuck_audio(now=later) == {"failed": 0, "requeued": 1}
        assert document_services.sweep_stuck_documents(now=later) == {"failed": 0, "requeued": 1}
    audio.refresh_from_db()
    document.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert document.status == Document.Status.COMPLETED


# --- The speech service, throttling for minutes ---------------------------------------------------

THROTTLED_TASKS = 50


@pytest.fixture
def published_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Retries are published to the broker (the test's own: in memory, or Redis in CI)."""
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    with app.connection_for_write() as conn:
        channel: Any = conn.default_channel
        channel.queue_purge("speech")
        yield
        channel.queue_purge("speech")


def run_like_a_worker(audio_id: int, *, task_id: str, retries: int) -> None:
    """One delivery of the synthesis task, run as a worker runs it: a retry is published."""
    task: Any = generate_audio_task  # (the stubs do not know the request's fields)
    task.push_request(
        id=task_id, args=[audio_id], kwargs={}, retries=retries, is_eager=False,
        called_directly=False,
        delivery_info={"exchange": "", "routing_key": "speech", "redelivered": False},
    )  # fmt: skip
    try:
        task.run(audio_id)
    except Retry:
        pass
    finally:
        task.pop_request()


def take_retries() -> list[Message]:
    messages = []
    with app.connection_for_read() as conn:
        channel: Any = conn.default_channel
        while (message := channel.basic_get("speech", no_ack=True)) is not None:
            messages.append(message)
    return messages


def test_retries_of_throttled_synthesis_spread_out_instead_of_firing_together(
    alice: User, settings: Any, published_tasks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SPEECH_MAX_RETRIES = 3
    settings.SPEECH_RETRY_BASE_SECONDS = 10
    # The worst case: every task was throttled in the same instant.
    instant = datetime(2030, 1, 1, 12, 0, 0, tzinfo=UTC)
    monkeypatch.setattr(app, "now", lambda: instant)
    document = document_with_pages(owner=alice, pages=THROTTLED_TASKS)
    Page.objects.filter(document=document).update(text=f"Busy {TRANSIENT_MARKER} service.")
    audios = [
        Audio.objects.create(page=page, voice="fake:alpha", engine="fake", created_by=alice)
        for page in document.pages.all()
    ]
    # (audio id, task id, retries so far) of each delivery in a round
    deliveries: list[tuple[int, str, int]] = [(a.pk, f"task-{a.pk}", 0) for a in audios]
    spans = []
    for retries in range(settings.SPEECH_MAX_RETRIES):
        for audio_id, task_id, count in deliveries:
            run_like_a_worker(audio_id, task_id=task_id, retries=count)
        messages = take_retries()
        assert len(messages) == THROTTLED_TASKS
        fire_times = [datetime.fromisoformat(m.headers["eta"]) for m in messages]
        per_second = Counter(int((t - instant).total_seconds()) for t in fire_times)
        assert len(per_second) >= 3, per_second
        assert max(per_second.values()) <= THROTTLED_TASKS // 2, per_second
        spans.append(max(fire_times) - min(fire_times))
        deliveries = [
            (int(m.decode()[0][0]), str(m.headers["id"]), int(m.headers["retries"]))
            for m in messages
        ]
        assert {count for _, _, count in deliveries} == {retries + 1}
        assert {audio_id for audio_id, _, _ in deliveries} == {a.pk for a in audios}
    # Each round waits longer and spreads wider (exponential backoff).
    assert spans == sorted(spans)
    assert len(set(spans)) == len(spans)
    # Still throttled after the last retry: every audio fails with a sentence a user can act on.
    for audio_id, task_id, count in deliveries:
        run_like_a_worker(audio_id, task_id=task_id, retries=count)
    assert take_retries() == []
    assert set(Audio.objects.values_list("status", "error_message")) == {
        (Audio.Status.FAILED, "The speech service stayed unavailable. Please retry later.")
    }
