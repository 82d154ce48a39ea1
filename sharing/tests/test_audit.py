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
