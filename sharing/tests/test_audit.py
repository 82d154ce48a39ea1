"""What the audit trail records for listening and deleting."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
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


# --- Activity worth reading: plays, downloads, refusals, and what changed ------------------------


def _made_audio(owner: User) -> Any:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from speech_processing.tests.factories import AudioFactory

    page = document_with_pages(owner=owner, pages=1).pages.get()
    key = default_storage.save("audio/activity.mp3", ContentFile(b"\xff\xfb\x90\x00" * 256))
    return AudioFactory.create(
        page=page, created_by=owner, file_key=key, size_bytes=1024, duration_seconds=4.0
    )


def test_a_players_requests_are_no_download_and_an_explicit_download_is_one(
    alice: User, alice_client: APIClient
) -> None:
    audio = _made_audio(alice)
    url = f"/api/v1/audios/{audio.pk}/download/"
    # The reader's player: preloading from the start, then seeking (Chromium's own headers).
    for byte_range in ("bytes=0-", "bytes=512-", "bytes=0-"):
        response = alice_client.get(url, HTTP_RANGE=byte_range, HTTP_SEC_FETCH_DEST="audio")
        assert response.status_code == 206
        assert response["Content-Disposition"].startswith("inline")
    assert not AccessLog.objects.filter(audio_id=audio.pk).exists()

    # The download link (a navigation: Sec-Fetch-Dest "empty"), then the same download resumed.
    link = alice_client.get(url, HTTP_SEC_FETCH_DEST="empty")
    assert link.status_code == 200
    assert link["Content-Disposition"].startswith("attachment")
    assert alice_client.get(url, HTTP_RANGE="bytes=600-").status_code == 206
    # `?download=1` is a download even from a media element.
    asked = alice_client.get(f"{url}?download=1", HTTP_SEC_FETCH_DEST="audio")
    assert asked["Content-Disposition"].startswith("attachment")
    entries = AccessLog.objects.filter(audio_id=audio.pk).values_list("action", "outcome")
    assert list(entries) == [("download", "success"), ("download", "success")]


def test_listening_through_the_stream_is_one_play_per_session(
    alice: User, alice_client: APIClient
) -> None:
    audio = _made_audio(alice)
    url = f"/api/v1/audios/{audio.pk}/stream/"
    for byte_range in ("", "bytes=0-", "bytes=100-"):
        response = alice_client.get(url, HTTP_RANGE=byte_range)
        assert response.status_code in (200, 206)
        assert response["Content-Disposition"].startswith("inline")
    # The player's own report of the same session adds nothing either.
    alice_client.post(f"/api/v1/audios/{audio.pk}/played/", {"position_seconds": 2}, format="json")
    entries = AccessLog.objects.filter(audio_id=audio.pk).values_list("action", flat=True)
    assert list(entries) == ["play"]


def test_a_refused_duplicate_is_already_made_not_a_failure(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    from django.test import Client

    document = document_with_pages(owner=alice, pages=1)
    page_id = document.pages.get().pk
    with django_capture_on_commit_callbacks(execute=True):
        first = alice_client.post(f"/api/v1/pages/{page_id}/audios/", {}, format="json")
    again = alice_client.post(f"/api/v1/pages/{page_id}/audios/", {}, format="json")
    assert (first.status_code, again.status_code) == (202, 409)
    # The envelope is unchanged: a conflict.
    assert again.json()["error"]["code"] == "conflict"
    outcomes = AccessLog.objects.filter(action="generate").values_list("outcome", flat=True)
    assert sorted(outcomes) == ["exists", "success"]

    browser = Client()
    browser.force_login(alice)
    html = browser.get(f"/documents/{document.pk}/").content.decode()
    activity = html[html.index('id="activity"') :]
    assert "Already made" in activity
    assert "Failed" not in activity


def test_adding_renaming_editing_and_sharing_are_in_the_activity(
    alice: User, bob: User, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        created = alice_client.post(
            "/api/v1/documents/", {"title": "Notes", "text": "# One\n\nHello there."},
            format="json",
        )  # fmt: skip
    assert created.status_code == 202
    document_id = created.json()["id"]
    document_url = f"/api/v1/documents/{document_id}/"
    for _twice in range(2):  # the same title again changes nothing, and is no line
        renamed = alice_client.patch(document_url, {"title": "Better notes"}, format="json")
        assert renamed.status_code == 200
    page_id = alice_client.get(f"{document_url}pages/").json()["results"][0]["id"]
    edit = alice_client.patch(
        f"/api/v1/pages/{page_id}/", {"markdown": "# One\n\nHi."}, format="json"
    )
    assert edit.status_code == 200
    added = alice_client.post(
        f"{document_url}pages/", {"markdown": "# Two\n\nMore."}, format="json"
    )
    assert added.status_code == 201
    shared = alice_client.post(
        f"{document_url}shares/", {"email": bob.email, "permission": "view_only"}, format="json"
    )
    assert shared.status_code == 201
    Client().force_login(bob)  # signing in accepts the invitation
    share_url = f"/api/v1/shares/{DocumentShare.objects.get(shared_with=bob).pk}/"
    changed = alice_client.patch(share_url, {"permission": "collaborator"}, format="json")
    assert changed.status_code == 200
    assert alice_client.delete(share_url).status_code == 204

    entries = AccessLog.objects.filter(document_id=document_id).order_by("id")
    assert [(entry.action, entry.outcome) for entry in entries] == [
        ("add", "success"),
        ("rename", "success"),
        ("page_edit", "success"),
        ("page_edit", "success"),
        ("invite", "success"),
        ("invite_accept", "success"),
        ("permission_change", "success"),
        ("unshare", "success"),
    ]
    assert entries[0].details == {"source": "text"}
    assert [entry.user_id for entry in entries if entry.user_id != alice.pk] == [bob.pk]
    assert entries[5].action == "invite_accept"
    # How the activity reads, in the API and on the page.
    actions = [
        entry["action"] for entry in alice_client.get(f"{document_url}activity/").json()["results"]
    ]
    assert actions[-1] == "add"
    assert [label for _value, label in AccessLog.Action.choices][:3] == [
        "Added", "Renamed", "Edited a page",
    ]  # fmt: skip


def test_an_uploaded_file_is_added_by_its_owner(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    import io

    upload = io.BytesIO(b"# Title\n\nSome words to read.\n")
    upload.name = "notes.md"
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/documents/", {"file": upload}, format="multipart")
    assert response.status_code == 202
    entry = AccessLog.objects.get(action="add")
    assert (entry.document_id, entry.user_id, entry.details) == (
        response.json()["id"], alice.pk, {"source": "file"},
    )  # fmt: skip
