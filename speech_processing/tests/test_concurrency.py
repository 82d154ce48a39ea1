"""Races on PostgreSQL, and tasks delivered more than once.

The races run real threads, each with its own database connection, through the whole API (tasks
run eagerly in the thread whose transaction queued them, as a worker would right after).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import client_for
from document_processing.models import Document
from document_processing.tasks import extract_document_task
from document_processing.tests.conftest import stored_originals
from document_processing.tests.factories import document_with_pages
from speech_processing import services
from speech_processing.models import Audio
from speech_processing.tasks import generate_audio_task
from users.models import User
from users.tests.factories import UserFactory


def stored_audio() -> set[str]:
    return set(default_storage.listdir("audio")[1]) if default_storage.exists("audio") else set()


def all_at_once(requests: list[Callable[[], Any]]) -> list[Any]:
    """Run each request in its own thread (and database connection), released together."""
    barrier = threading.Barrier(len(requests))
    results: list[Any] = [None] * len(requests)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = requests[index]()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(requests))]
    for thread in threads:
        thread.start()
    # A guard against a hang, not a speed check: a slow or shared machine may take minutes.
    for thread in threads:
        thread.join(900)
    assert not any(thread.is_alive() for thread in threads)
    return results


# --- Races on PostgreSQL --------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_generate_requests_make_one_audio(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = document_with_pages(owner=alice, pages=1).pages.get()
    queued: list[tuple[int]] = []
    send = generate_audio_task.delay

    def counting_send(audio_id: int) -> object:
        queued.append((audio_id,))
        return send(audio_id)

    monkeypatch.setattr(generate_audio_task, "delay", counting_send)
    files_before = stored_audio()
    clients = [client_for(alice) for _ in range(20)]

    def generate(client: APIClient) -> Callable[[], Any]:
        return lambda: client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"})

    responses = all_at_once([generate(client) for client in clients])

    assert sorted(r.status_code for r in responses) == [202] + [409] * 19
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {"conflict"}
    audio = Audio.objects.get(page=page)
    assert queued == [(audio.pk,)]
    assert audio.status == Audio.Status.COMPLETED
    assert stored_audio() - files_before == {audio.file_key.split("/")[-1]}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_people_uploading_at_once_all_get_their_documents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The uploads race; their extractions run afterwards, one at a time, as a worker process
    # runs its tasks. (Run eagerly, each would fork its parser from one of fifty threads, which
    # no worker does, and a fork from a busy multi-threaded process can hang in the child.)
    queued: list[int] = []
    monkeypatch.setattr(extract_document_task, "delay", queued.append)
    people = UserFactory.create_batch(50)
    clients = [client_for(person) for person in people]
    originals_before = stored_originals()

    def upload(number: int) -> Callable[[], Any]:
        def send() -> Any:
            content = f"# Notes {number}\n\nWhat person {number} wrote down.".encode()
            file = SimpleUploadedFile(f"notes-{number}.md", content, "text/markdown")
            return clients[number].post("/api/v1/documents/", {"file": file}, format="multipart")

        return send

    responses = all_at_once([upload(number) for number in range(50)])

    assert [r.status_code for r in responses] == [202] * 50
    assert sorted(queued) == sorted(r.json()["id"] for r in responses)  # each queued once
    for document_id in queued:
        extract_document_task.apply(args=(document_id,))
    for number, (person, response) in enumerate(zip(people, responses, strict=True)):
        document = Document.objects.get(pk=response.json()["id"])
        assert document.owner_id == person.pk
        assert document.status == Document.Status.COMPLETED, document.error_message
        assert f"What person {number} wrote down." in document.pages.get().text
    assert Document.objects.count() == 50
    assert len(stored_originals() - originals_before) == 50


# --- A task delivered twice -----------------------------------------------------------------
# The broker hands a message out again when the worker holding it died; it may also deliver a
# message twice for other reasons. Only the first kind may take over a claim.


@pytest.fixture
def generating(alice: User) -> Audio:
    """An audio whose worker claimed it and then vanished."""
    page = document_with_pages(owner=alice, pages=1).pages.get()
    return Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", created_by=alice,
        status=Audio.Status.GENERATING, attempts=1, started_at=timezone.now(),
    )  # fmt: skip


def deliver(audio: Audio, *, redelivered: bool) -> None:
    """The synthesis task, run as a worker runs a message with this delivery flag."""
    task: Any = generate_audio_task  # (the stubs do not know the request's fields)
    task.push_request(
        id="a-task", args=[audio.pk], kwargs={}, retries=0, is_eager=False,
        called_directly=False, delivery_info={"routing_key": "speech", "redelivered": redelivered},
    )  # fmt: skip
    try:
        task.run(audio.pk)
    finally:
        task.pop_request()
    audio.refresh_from_db()


@pytest.mark.django_db
def test_a_redelivered_task_takes_over_the_claim_of_its_dead_worker(generating: Audio) -> None:
    files_before = stored_audio()
    deliver(generating, redelivered=True)
    assert generating.status == Audio.Status.COMPLETED
    assert generating.attempts == 2
    assert stored_audio() - files_before == {generating.file_key.split("/")[-1]}


@pytest.mark.django_db
def test_a_duplicate_delivery_leaves_a_running_claim_alone(generating: Audio) -> None:
    deliver(generating, redelivered=False)
    assert generating.status == Audio.Status.GENERATING
    assert generating.attempts == 1


@pytest.mark.django_db
def test_an_audio_whose_workers_keep_dying_fails_clearly(generating: Audio, settings: Any) -> None:
    settings.SPEECH_MAX_RETRIES = 2
    Audio.objects.filter(pk=generating.pk).update(attempts=3)
    deliver(generating, redelivered=True)
    assert generating.status == Audio.Status.FAILED
    assert generating.error_message == services.INTERRUPTED
    assert generating.error_message == "Making this audio was interrupted too many times."
    # Completed audio is never taken over, however often its message comes back.
    Audio.objects.filter(pk=generating.pk).update(status=Audio.Status.COMPLETED, attempts=1)
    deliver(generating, redelivered=True)
    assert (generating.status, generating.attempts) == (Audio.Status.COMPLETED, 1)
