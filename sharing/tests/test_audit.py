"""What the audit trail records for listening and deleting."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from document_processing.tests.factories import document_with_pages
from sharing.models import AccessLog, DocumentShare
from users.models import User

pytestmark = pytest.mark.django_db


def test_generate_play_download_and_delete_are_recorded_with_the_audio(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    document = document_with_pages(owner=alice, pages=1)
    DocumentShare.objects.create(document=document, shared_with=bob, permission="view_only")
    page_id = document.pages.get().pk
    with django_capture_on_commit_callbacks(execute=True):
        audio_id = alice_client.post(f"/api/v1/pages/{page_id}/audios/", {}).json()["id"]
    assert bob_client.post(f"/api/v1/audios/{audio_id}/played/", {}).status_code == 204
    assert bob_client.get(f"/api/v1/audios/{audio_id}/download/").status_code == 200
    assert bob_client.delete(f"/api/v1/audios/{audio_id}/").status_code == 403
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/v1/audios/{audio_id}/").status_code == 204
    entries = list(
        AccessLog.objects.order_by("id").values_list("action", "outcome", "user_id", "audio_id")
    )
    assert entries == [
        ("generate", "success", alice.pk, audio_id),
        ("play", "success", bob.pk, audio_id),
        ("download", "success", bob.pk, audio_id),
        ("delete", "denied", bob.pk, audio_id),
        ("delete", "success", alice.pk, audio_id),
    ]


def test_deleting_a_document_is_recorded_and_the_entry_outlives_it(
    alice: User, alice_client: APIClient
) -> None:
    document = document_with_pages(owner=alice, pages=1, title="Gone")
    document_id = document.pk
    assert alice_client.delete(f"/api/v1/documents/{document_id}/").status_code == 204
    entry = AccessLog.objects.get()
    assert (entry.action, entry.outcome, entry.user_id) == ("delete", "success", alice.pk)
    assert entry.details == {"document_id": document_id, "title": "Gone"}


def test_position_saves_while_listening_are_one_play_per_half_hour(
    alice: User, alice_client: APIClient
) -> None:
    from datetime import timedelta

    from speech_processing.tests.factories import AudioFactory

    page = document_with_pages(owner=alice, pages=1).pages.get()
    audio = AudioFactory.create(
        page=page, created_by=alice, file_key="audio/a.mp3", duration_seconds=120.0
    )
    for position in (0, 30, 60, 90):
        response = alice_client.post(
            f"/api/v1/audios/{audio.pk}/played/", {"position_seconds": position}, format="json"
        )
        assert response.status_code == 204
    plays = AccessLog.objects.filter(action="play", audio_id=audio.pk)
    assert plays.count() == 1
    # Half an hour later it is a new listening session.
    plays.update(created_at=plays.get().created_at - timedelta(minutes=31))
    alice_client.post(f"/api/v1/audios/{audio.pk}/played/", {}, format="json")
    assert plays.count() == 2
