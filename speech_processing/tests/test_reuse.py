"""Never pay twice: identical audio shares one file, within what the caller may already see."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from document_processing.models import Document, Page
from document_processing.services import delete_document, delete_stored_files, stored_files_of
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from speech_processing import reuse, services, voices
from speech_processing.engines.fake import FakeEngine
from speech_processing.models import Audio
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[Any]]

TEXT = "The same words, read twice. Nobody should pay for them again!"
# The same words as spoken, written differently: emphasis marks and extra spaces.
SAME_SPOKEN = "The **same** words, read twice.   Nobody should pay for them again!"


def page_with(owner: User, text: str) -> Page:
    page = document_with_pages(owner=owner, pages=1).pages.get()
    Page.objects.filter(pk=page.pk).update(text=text, char_count=len(text))
    return Page.objects.select_related("document").get(pk=page.pk)


def engine_calls() -> int:
    engine = voices.get_engine("fake")
    assert isinstance(engine, FakeEngine)
    return len(engine.calls)


def generate(page: Page, user: User, capture: Capture, voice: str = "fake:alpha") -> Audio:
    with capture(execute=True):
        audio = services.create_audio_record(page=page, voice=voice, user=user)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED, audio.error_message
    return audio


def test_an_identical_audio_in_ones_own_documents_is_reused_at_no_cost(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    first = generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    assert len(first.content_hash) == 64
    calls = engine_calls()
    page = page_with(alice, SAME_SPOKEN)
    with django_capture_on_commit_callbacks() as queued:
        twin = services.create_audio_record(page=page, voice="fake:alpha", user=alice)
    assert queued == []  # nothing to synthesise
    twin.refresh_from_db()
    assert twin.status == Audio.Status.COMPLETED
    assert twin.reused is True
    assert engine_calls() == calls
    assert (twin.file_key, twin.size_bytes, twin.duration_seconds) == (
        first.file_key, first.size_bytes, first.duration_seconds,
    )  # fmt: skip
    assert twin.content_hash == first.content_hash
    assert twin.expires_at is not None
    # Its timings are the twin's times over this page's own text.
    assert [(t["start"], t["end"]) for t in twin.timings] == [
        (t["start"], t["end"]) for t in first.timings
    ]
    assert [SAME_SPOKEN[t["char_start"] : t["char_end"]] for t in twin.timings] == [
        "The **same** words, read twice.", "Nobody should pay for them again!",
    ]  # fmt: skip
    timings = alice_client.get(f"/api/v1/audios/{twin.pk}/timings/")
    assert timings.status_code == 200
    # No quota is charged for it, and it downloads like any other.
    assert alice_client.get(f"/api/v1/pages/{page.pk}/audios/").json()["quota"]["used"] == 0
    download = alice_client.get(f"/api/v1/audios/{twin.pk}/download/")
    assert download.status_code == 200
    with default_storage.open(first.file_key, "rb") as stored:
        assert b"".join(download.streaming_content) == stored.read()  # type: ignore[attr-defined]


def test_a_page_at_its_quota_may_still_reuse(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.AUDIO_MAX_PER_PAGE = 1
    generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    page = page_with(alice, TEXT)
    AudioFactory.create(page=page, voice="fake:beta", lifetime_status=Audio.Lifetime.DELETED)
    assert services.quota_for(page=page)["available"] == 0
    reused = services.create_audio_record(page=page, voice="fake:alpha", user=alice)
    assert reused.reused is True
    assert reused.status == Audio.Status.COMPLETED


def test_audio_in_a_document_shared_with_the_caller_is_reused(
    alice: User, bob: User, django_capture_on_commit_callbacks: Capture
) -> None:
    first = generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    DocumentShare.objects.create(
        document=first.page.document, shared_with=bob, permission="view_only", shared_by=alice
    )
    calls = engine_calls()
    own = generate(page_with(bob, TEXT), bob, django_capture_on_commit_callbacks)
    assert own.reused is True
    assert own.file_key == first.file_key
    assert engine_calls() == calls


def test_nothing_is_reused_across_people_who_share_nothing(
    alice: User, charlie: User, django_capture_on_commit_callbacks: Capture
) -> None:
    first = generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    calls = engine_calls()
    with django_capture_on_commit_callbacks() as queued:
        theirs = services.create_audio_record(
            page=page_with(charlie, TEXT), voice="fake:alpha", user=charlie
        )
    assert theirs.status == Audio.Status.PENDING  # made afresh, in the background
    assert len(queued) == 1
    for callback in queued:
        callback()
    theirs.refresh_from_db()
    assert theirs.reused is False
    assert theirs.file_key != first.file_key
    assert theirs.content_hash == first.content_hash  # identical, and still not shared
    assert engine_calls() > calls


@pytest.mark.parametrize(
    "difference", ["voice", "text", "bitrate", "deleted twin", "failed twin", "expired twin"]
)
def test_only_an_exact_live_twin_is_reused(
    alice: User, settings: Any, difference: str, django_capture_on_commit_callbacks: Capture
) -> None:
    first = generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    voice, text = "fake:alpha", TEXT
    if difference == "voice":
        voice = "fake:beta"
    elif difference == "text":
        text = TEXT.replace("twice", "three times")
    elif difference == "bitrate":
        settings.AUDIO_MP3_BITRATE_KBPS = 96
    elif difference == "deleted twin":
        services.delete_audio(user=alice, audio=first)
    elif difference == "failed twin":
        Audio.objects.filter(pk=first.pk).update(status=Audio.Status.FAILED)
    else:
        Audio.objects.filter(pk=first.pk).update(
            lifetime_status=Audio.Lifetime.EXPIRED, file_key=""
        )
    again = services.create_audio_record(page=page_with(alice, text), voice=voice, user=alice)
    assert again.status == Audio.Status.PENDING
    assert again.reused is False


def test_the_hash_recorded_is_of_what_was_spoken(
    alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    page = page_with(alice, "Words before an edit.")
    with django_capture_on_commit_callbacks() as queued:
        audio = services.create_audio_record(page=page, voice="fake:alpha", user=alice)
    Page.objects.filter(pk=page.pk).update(text=TEXT)  # edited before the worker got to it
    for callback in queued:
        callback()
    audio.refresh_from_db()
    alpha = voices.resolve_voice("fake:alpha")
    assert audio.content_hash == reuse.content_hash(text=TEXT, voice=alpha)
    assert audio.content_hash != reuse.content_hash(text="Words before an edit.", voice=alpha)


def test_deleting_one_user_of_a_shared_file_keeps_it_for_the_others(
    alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    first = generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    second = services.create_audio_record(
        page=page_with(alice, TEXT), voice="fake:alpha", user=alice
    )
    third = services.create_audio_record(
        page=page_with(alice, TEXT), voice="fake:alpha", user=alice
    )
    key = first.file_key
    assert second.file_key == third.file_key == key

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_audio(user=alice, audio=first)
    assert default_storage.exists(key)

    # Deleting a whole document keeps what other documents share...
    assert stored_files_of(second.page.document) == []
    with django_capture_on_commit_callbacks(execute=True):
        delete_document(user=alice, document=Document.objects.get(pk=second.page.document_id))
    assert default_storage.exists(key)

    # ...and the last one to go takes the file with it.
    assert stored_files_of(third.page.document) == [key]
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_audio(user=alice, audio=Audio.objects.get(pk=third.pk))
    assert not default_storage.exists(key)


def test_any_deletion_path_keeps_a_file_a_row_still_names(
    alice: User, django_capture_on_commit_callbacks: Capture
) -> None:
    # Retention, staff deletions and the like all end in delete_stored_files.
    first = generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    second = services.create_audio_record(
        page=page_with(alice, TEXT), voice="fake:alpha", user=alice
    )
    Audio.objects.filter(pk=first.pk).update(lifetime_status=Audio.Lifetime.EXPIRED, file_key="")
    delete_stored_files(keys=[first.file_key])
    assert default_storage.exists(second.file_key)
    Audio.objects.filter(pk=second.pk).update(lifetime_status=Audio.Lifetime.EXPIRED, file_key="")
    delete_stored_files(keys=[first.file_key])
    assert not default_storage.exists(first.file_key)


def test_the_api_answers_a_reused_audio_as_made(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    generate(page_with(alice, TEXT), alice, django_capture_on_commit_callbacks)
    page = page_with(alice, TEXT)
    response = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "completed"
    assert body["download_url"] == f"/api/v1/audios/{body['id']}/download/"
    # The slot of that voice is taken like any other audio's.
    again = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": "fake:alpha"})
    assert again.status_code == 409
