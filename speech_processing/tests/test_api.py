"""The Voices and audio section of API.md, with synthesis run on commit by the fake engine."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from speech_processing.models import Audio, PlaybackPosition
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def page(alice: User) -> Page:
    document = document_with_pages(owner=alice, pages=2)
    return document.pages.order_by("number").first()  # type: ignore[return-value]


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def generate(client: APIClient, page: Page, capture: Capture, **body: object) -> Any:
    with capture(execute=True):
        return client.post(f"/api/v1/pages/{page.pk}/audios/", body, format="json")


def test_generate_makes_audio_that_downloads_and_seeks(
    alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    response = generate(alice_client, page, django_capture_on_commit_callbacks, voice="fake:beta")
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "pending"
    assert body["voice"] == "fake:beta"
    assert body["voice_display_name"] == "Beta (English (GB), Test tones)"
    assert body["engine"] == "fake"
    audio = alice_client.get(f"/api/v1/audios/{body['id']}/").json()
    assert audio["voice_display_name"] == "Beta (English (GB), Test tones)"
    assert audio["status"] == "completed", audio["error_message"]
    assert audio["lifetime_status"] == "active"
    assert audio["duration_seconds"] > 0
    assert audio["size_bytes"] > 0
    assert audio["download_url"] == f"/api/v1/audios/{body['id']}/download/"
    assert audio["expires_at"]

    download = alice_client.get(audio["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"] == "audio/mpeg"
    assert download["Accept-Ranges"] == "bytes"
    data = body_of(download)
    assert len(data) == audio["size_bytes"]
    assert data[:3] == b"ID3" or data[0] == 0xFF

    part = alice_client.get(audio["download_url"], HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 10-19/{len(data)}"
    assert body_of(part) == data[10:20]
    tail = alice_client.get(audio["download_url"], HTTP_RANGE="bytes=-5")
    assert body_of(tail) == data[-5:]
    beyond = alice_client.get(audio["download_url"], HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416
    assert beyond["Content-Range"] == f"bytes */{len(data)}"
    # A download counts as a play.
    assert Audio.objects.get(pk=body["id"]).last_played_at is not None


def test_the_preferred_voice_is_the_default(
    alice: User, alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    alice.preferred_voice = "fake:beta"
    alice.save()
    response = generate(alice_client, page, django_capture_on_commit_callbacks)
    assert response.status_code == 202
    assert response.json()["voice"] == "fake:beta"


def test_without_a_preference_the_site_default_voice_is_used(
    alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    response = generate(alice_client, page, django_capture_on_commit_callbacks)
    assert response.json()["voice"] == "fake:alpha"


@pytest.mark.parametrize(
    ("voice", "words"),
    [
        ("fake:nobody", "not available"),
        ("polly:Joanna", "not configured"),
        ("no-colon", "engine:name"),
        ("", "blank"),
    ],
)
def test_unknown_voices_are_400(
    alice_client: APIClient, page: Page, voice: str, words: str
) -> None:
    response = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": voice})
    assert response.status_code == 400
    assert words in response.json()["error"]["message"]
    assert not Audio.objects.exists()


def test_wrong_types_are_400(alice_client: APIClient, page: Page) -> None:
    response = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": 5}, format="json")
    assert response.status_code == 400


def test_a_page_with_nothing_to_say_is_400(alice_client: APIClient, page: Page) -> None:
    Page.objects.filter(pk=page.pk).update(text="  --- *** 🙂 ")
    response = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "This page has no text that can be spoken."


def test_a_second_generate_for_the_same_voice_is_409(
    alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    assert (
        generate(
            alice_client, page, django_capture_on_commit_callbacks, voice="fake:alpha"
        ).status_code
        == 202
    )
    again = generate(alice_client, page, django_capture_on_commit_callbacks, voice="fake:alpha")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    assert Audio.objects.count() == 1


def test_quota_counts_deleted_audio_but_not_failed_attempts(
    alice_client: APIClient, page: Page, settings: Any
) -> None:
    settings.AUDIO_MAX_PER_PAGE = 2
    AudioFactory.create(page=page, voice="fake:alpha", lifetime_status=Audio.Lifetime.DELETED)
    AudioFactory.create(page=page, voice="fake:alpha", status=Audio.Status.FAILED)
    listing = alice_client.get(f"/api/v1/pages/{page.pk}/audios/").json()
    assert listing["quota"] == {"used": 1, "max": 2, "available": 1}
    assert len(listing["audios"]) == 2
    assert (
        alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"}).status_code
        == 202
    )
    response = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:beta"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "quota_exceeded"


def test_delete_is_soft_and_removes_the_file(
    alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    audio_id = generate(alice_client, page, django_capture_on_commit_callbacks).json()["id"]
    key = Audio.objects.get(pk=audio_id).file_key
    assert default_storage.exists(key)
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/v1/audios/{audio_id}/").status_code == 204
    assert not default_storage.exists(key)
    body = alice_client.get(f"/api/v1/audios/{audio_id}/").json()
    assert body["lifetime_status"] == "deleted"
    assert body["download_url"] is None
    assert alice_client.get(f"/api/v1/audios/{audio_id}/download/").status_code == 404
    assert alice_client.get(f"/api/v1/pages/{page.pk}/audios/").json()["quota"]["used"] == 1
    # The voice's slot is free again.
    assert generate(alice_client, page, django_capture_on_commit_callbacks).status_code == 202


def test_played_renews_retention_and_keeps_the_position(
    alice: User, alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    audio_id = generate(alice_client, page, django_capture_on_commit_callbacks).json()["id"]
    before = Audio.objects.get(pk=audio_id).expires_at
    response = alice_client.post(f"/api/v1/audios/{audio_id}/played/", {"position_seconds": 1.25})
    assert response.status_code == 204
    audio = Audio.objects.get(pk=audio_id)
    assert audio.last_played_at is not None
    assert audio.expires_at is not None
    assert before is not None
    assert audio.expires_at >= before
    assert PlaybackPosition.objects.get(user=alice, audio=audio).position_seconds == 1.25
    assert alice_client.post(f"/api/v1/audios/{audio_id}/played/", {}).status_code == 204
    bad = alice_client.post(f"/api/v1/audios/{audio_id}/played/", {"position_seconds": "soon"})
    assert bad.status_code == 400


def test_audio_not_ready_yet_cannot_be_played_or_downloaded(
    alice_client: APIClient, page: Page
) -> None:
    audio = AudioFactory.create(page=page, status=Audio.Status.PENDING)
    assert alice_client.post(f"/api/v1/audios/{audio.pk}/played/").status_code == 409
    assert alice_client.get(f"/api/v1/audios/{audio.pk}/download/").status_code == 409


def test_retry_only_when_failed(
    alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    done = AudioFactory.create(page=page, voice="fake:beta")
    assert alice_client.post(f"/api/v1/audios/{done.pk}/retry/").status_code == 409
    failed = AudioFactory.create(page=page, voice="fake:alpha", status=Audio.Status.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"/api/v1/audios/{failed.pk}/retry/")
    assert response.status_code == 202
    failed.refresh_from_db()
    assert failed.status == Audio.Status.COMPLETED


def test_strangers_see_nothing_and_anonymous_callers_are_401(
    charlie_client: APIClient, anon_client: APIClient, page: Page
) -> None:
    audio = AudioFactory.create(page=page)
    paths = [
        ("get", f"/api/v1/pages/{page.pk}/audios/"),
        ("post", f"/api/v1/pages/{page.pk}/audios/"),
        ("get", f"/api/v1/audios/{audio.pk}/"),
        ("get", f"/api/v1/audios/{audio.pk}/download/"),
        ("post", f"/api/v1/audios/{audio.pk}/played/"),
        ("post", f"/api/v1/audios/{audio.pk}/retry/"),
        ("delete", f"/api/v1/audios/{audio.pk}/"),
    ]
    for method, path in paths:
        assert getattr(charlie_client, method)(path).status_code == 404, (method, path)
        assert getattr(anon_client, method)(path).status_code == 401, (method, path)
    assert Audio.objects.get(pk=audio.pk).lifetime_status == Audio.Lifetime.ACTIVE


def test_voices_list_and_samples(alice_client: APIClient) -> None:
    voices = alice_client.get("/api/v1/voices/").json()
    ids = {voice["id"] for voice in voices}
    assert {"piper:en_US-joe-medium", "fake:alpha", "fake:beta"} <= ids
    joe = next(voice for voice in voices if voice["id"] == "piper:en_US-joe-medium")
    assert joe["language"] == "en-US"
    assert joe["engine"] == "piper"
    assert joe["display_name"] == "Joe (English (US), Piper, medium)"
    fake = next(voice for voice in voices if voice["id"] == "fake:alpha")
    sample = alice_client.get(fake["sample_url"])
    assert sample.status_code == 200
    assert sample["Content-Type"] == "audio/mpeg"
    assert len(body_of(sample)) > 100
    assert alice_client.get("/api/v1/voices/fake:nobody/sample/").status_code == 400


def test_deleting_a_document_removes_its_audio_files(
    alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    audio_id = generate(alice_client, page, django_capture_on_commit_callbacks).json()["id"]
    key = Audio.objects.get(pk=audio_id).file_key
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_client.delete(f"/api/v1/documents/{page.document_id}/").status_code == 204
    assert not default_storage.exists(key)
    assert not Audio.objects.exists()
    assert not Document.objects.exists()


# --- Outdated audio and its replacement ----------------------------------------------------------


def edit(client: APIClient, page: Page, markdown: str = "# Changed\n\nOther words now.") -> None:
    response = client.patch(f"/api/v1/pages/{page.pk}/", {"markdown": markdown}, format="json")
    assert response.status_code == 200, response.json()


def test_audio_of_an_edited_page_is_outdated(
    alice_client: APIClient, page: Page, django_capture_on_commit_callbacks: Capture
) -> None:
    audio_id = generate(alice_client, page, django_capture_on_commit_callbacks).json()["id"]
    assert alice_client.get(f"/api/v1/audios/{audio_id}/").json()["outdated"] is False
    edit(alice_client, page)
    assert alice_client.get(f"/api/v1/audios/{audio_id}/").json()["outdated"] is True
    listed = alice_client.get(f"/api/v1/pages/{page.pk}/audios/").json()["audios"]
    assert [audio["outdated"] for audio in listed] == [True]
    # Back to the words it was made from: it matches again.
    edit(alice_client, page, "# Page 1\n\nSome words to read.")
    assert alice_client.get(f"/api/v1/audios/{audio_id}/").json()["outdated"] is False


@pytest.mark.parametrize("max_per_page", [1, 4])
def test_generating_over_outdated_audio_replaces_it_without_a_new_quota_slot(
    alice_client: APIClient,
    page: Page,
    settings: Any,
    max_per_page: int,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.AUDIO_MAX_PER_PAGE = max_per_page
    old_id = generate(alice_client, page, django_capture_on_commit_callbacks).json()["id"]
    old_key = Audio.objects.get(pk=old_id).file_key
    assert default_storage.exists(old_key)
    edit(alice_client, page)

    response = generate(alice_client, page, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    new = Audio.objects.get(pk=response.json()["id"])
    assert new.pk != old_id
    assert new.replaces_id == old_id
    assert new.status == Audio.Status.COMPLETED
    old = alice_client.get(f"/api/v1/audios/{old_id}/").json()
    assert old["lifetime_status"] == "deleted"
    assert not default_storage.exists(old_key)
    listing = alice_client.get(f"/api/v1/pages/{page.pk}/audios/").json()
    assert listing["quota"]["used"] == 1
    assert [(audio["id"], audio["outdated"]) for audio in listing["audios"]] == [
        (new.pk, False),
        (old_id, True),
    ]
    timings = alice_client.get(f"/api/v1/audios/{new.pk}/timings/").json()
    assert timings != []
    # Up to date again: a second request is the usual conflict.
    again = generate(alice_client, page, django_capture_on_commit_callbacks)
    assert again.status_code == 409


def test_who_may_generate_may_replace_outdated_audio(
    alice: User,
    bob: User,
    bob_client: APIClient,
    page: Page,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    from sharing.models import DocumentShare

    share = DocumentShare.objects.create(
        document=page.document, shared_with=bob, permission="view_only", shared_by=alice
    )
    old = AudioFactory.create(page=page, voice="fake:alpha", text_digest="0" * 64, created_by=alice)
    refused = generate(bob_client, page, django_capture_on_commit_callbacks)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    share.permission = "collaborator"
    share.save()
    response = generate(bob_client, page, django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    old.refresh_from_db()
    assert old.lifetime_status == Audio.Lifetime.DELETED


# --- The language of the page and of the voice --------------------------------------------------


def test_generating_in_a_voice_of_another_language_warns_but_makes_the_audio(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_with_pages(owner=alice, pages=2, language="ar")
    arabic, english = document.pages.order_by("number")
    Page.objects.filter(pk=english.pk).update(language="en")
    response = generate(
        alice_client, arabic, django_capture_on_commit_callbacks, voice="fake:alpha"
    )
    assert response.status_code == 202
    (warning,) = response.json()["warnings"]
    assert "Arabic" in warning
    assert Audio.objects.filter(page=arabic, voice="fake:alpha").exists()
    english.refresh_from_db()
    response = generate(
        alice_client, english, django_capture_on_commit_callbacks, voice="fake:alpha"
    )
    assert response.status_code == 202
    assert response.json()["warnings"] == []


def test_without_a_voice_the_page_is_read_in_one_that_speaks_the_documents_language(
    alice: User, alice_client: APIClient, settings: Any
) -> None:
    from speech_processing import voices

    settings.SPEECH_ENGINE_CLASSES = {"listed": "speech_processing.tests.test_voices.ListedEngine"}
    settings.SPEECH_ENGINES = {"fake": {}, "listed": {}}
    voices.reset_caches()
    document = document_with_pages(owner=alice, pages=1, language="ar")
    page = document.pages.get()
    # Made later by a worker; what matters here is the voice it is asked in.
    response = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {}, format="json")
    assert response.status_code == 202
    assert response.json()["voice"] == "listed:ar"
    assert response.json()["warnings"] == []


def test_audio_names_its_voice_in_lists_and_after_the_voice_is_gone(
    alice_client: APIClient, page: Page
) -> None:
    AudioFactory.create(page=page, voice="fake:alpha")
    AudioFactory.create(page=page, voice="piper:fr_FR-siwis-low")  # not installed here
    audios = alice_client.get(f"/api/v1/pages/{page.pk}/audios/").json()["audios"]
    assert {audio["voice"]: audio["voice_display_name"] for audio in audios} == {
        "fake:alpha": "Alpha (English (US), Test tones)",
        "piper:fr_FR-siwis-low": "Siwis (French (FR), Piper, low)",
    }
