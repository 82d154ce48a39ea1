"""How far a whole document's audio in one voice has got: pages made of all, and the time left."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from core.exceptions import ValidationError
from document_processing.models import Document, Page
from document_processing.tests.factories import PageFactory, document_with_pages
from sharing.models import DocumentShare
from speech_processing import services
from speech_processing.audio_progress import audio_progress
from speech_processing.models import Audio
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[Any]]

NOW = timezone.make_aware(datetime(2026, 3, 1, 12, 0, 0))


@pytest.fixture
def document(alice: User) -> Document:
    return document_with_pages(owner=alice, pages=4, title="Four pages")


def pages_of(document: Document) -> list[Page]:
    return list(document.pages.order_by("number"))


def audio(page: Page, status: str, *, voice: str = "fake:alpha", chars: int = 100,
          created: datetime | None = None, started: datetime | None = None,
          completed: datetime | None = None, **fields: Any) -> Audio:  # fmt: skip
    made = AudioFactory.create(page=page, voice=voice, status=status, char_count=chars, **fields)
    # auto_now_add ignores a value given at creation.
    Audio.objects.filter(pk=made.pk).update(
        created_at=created or NOW - timedelta(minutes=5), started_at=started, completed_at=completed
    )
    return made


def url(document: Document, voice: str | None = "fake:alpha") -> str:
    query = f"?voice={voice}" if voice else ""
    return f"/api/v1/documents/{document.pk}/audio-progress/{query}"


# --- What is counted ----------------------------------------------------------------------------


def test_pages_are_counted_made_being_made_failed_or_without_audio(document: Document) -> None:
    first, second, third, fourth = pages_of(document)
    audio(first, Audio.Status.COMPLETED)
    audio(second, Audio.Status.FAILED)  # tried before, and being made again now
    audio(second, Audio.Status.PENDING)
    audio(third, Audio.Status.FAILED)
    audio(fourth, Audio.Status.COMPLETED, voice="fake:beta")  # another voice does not count
    audio(first, Audio.Status.COMPLETED, voice="fake:alpha", lifetime_status="deleted")

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    assert (found.pages_total, found.pages_done, found.pages_in_progress, found.pages_failed) == (
        4, 1, 1, 1,
    )  # fmt: skip
    assert found.pages_without_audio == 1
    assert found.finished is False


def test_contents_pages_are_not_waited_for(document: Document) -> None:
    first, second, third, _fourth = pages_of(document)
    Page.objects.filter(pk=first.pk).update(is_contents=True)
    audio(first, Audio.Status.COMPLETED)  # asked for by name: not part of the whole
    for page in (second, third):
        audio(page, Audio.Status.COMPLETED)

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    assert (found.pages_total, found.pages_done, found.pages_without_audio) == (3, 2, 1)


def test_nothing_being_made_is_finished_with_no_time_left(document: Document) -> None:
    for page in pages_of(document):
        audio(page, Audio.Status.COMPLETED)

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    assert (found.pages_done, found.pages_in_progress, found.finished) == (4, 0, True)
    assert found.seconds_left == 0
    empty = audio_progress(document=document, voice="fake:beta", now=NOW)
    assert (empty.pages_done, empty.pages_without_audio, empty.finished) == (0, 4, True)


def test_pages_with_nothing_on_them_are_not_waiting_for_audio(document: Document) -> None:
    first, *others = pages_of(document)
    Page.objects.filter(pk=first.pk).update(markdown="", text="", char_count=0)
    for page in others:
        audio(page, Audio.Status.COMPLETED)

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    assert (found.pages_total, found.pages_done, found.pages_without_audio) == (3, 3, 0)


def test_an_unknown_voice_is_refused(document: Document) -> None:
    with pytest.raises(ValidationError):
        audio_progress(document=document, voice="nobody:here")


# --- The time left ------------------------------------------------------------------------------


def test_the_time_left_comes_from_the_pages_made_since_the_work_began(document: Document) -> None:
    first, second, third, fourth = pages_of(document)
    began = NOW - timedelta(seconds=60)
    # In the minute since the pages were queued, two of 300 characters each were made…
    for page in (first, second):
        audio(page, Audio.Status.COMPLETED, chars=300, created=began,
              started=began, completed=NOW - timedelta(seconds=10))  # fmt: skip
    # …so the 600 characters left take about another minute.
    audio(third, Audio.Status.GENERATING, chars=200, created=began, started=NOW)
    audio(fourth, Audio.Status.PENDING, chars=400, created=began)

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    assert found.seconds_left == 60


def test_audio_reused_or_made_before_the_work_began_does_not_count_as_speed(
    document: Document,
) -> None:
    first, second, third, _fourth = pages_of(document)
    began = NOW - timedelta(seconds=30)
    # Made at once from an identical audio: nothing was synthesised.
    audio(first, Audio.Status.COMPLETED, chars=5000, created=began, completed=NOW, reused=True)
    # Made an hour ago, before this work: no measure of it.
    audio(second, Audio.Status.COMPLETED, chars=5000, created=NOW - timedelta(hours=1),
          started=NOW - timedelta(hours=1), completed=NOW - timedelta(minutes=59))  # fmt: skip
    audio(third, Audio.Status.PENDING, chars=300, created=began)

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    # Not 2 s (the reused audio's "speed"): the speed of the synthesis an hour ago, 5,000
    # characters a minute, gives 300 / 83.3 = 3.6 s.
    assert found.seconds_left == 4


def test_with_nothing_measured_no_time_is_claimed(document: Document) -> None:
    audio(pages_of(document)[0], Audio.Status.PENDING, created=NOW - timedelta(seconds=5))

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    assert (found.pages_in_progress, found.seconds_left) == (1, None)


def test_before_a_page_is_made_the_voices_recent_speed_is_shared_among_the_pages_being_made(
    alice: User, document: Document
) -> None:
    first, second, third, _fourth = pages_of(document)
    # Another document, made an hour ago in this voice: 1,000 characters in 10 s of synthesis.
    elsewhere = PageFactory.create(document=document_with_pages(owner=alice, pages=0))
    audio(elsewhere, Audio.Status.COMPLETED, chars=1000, created=NOW - timedelta(hours=1),
          started=NOW - timedelta(hours=1),
          completed=NOW - timedelta(hours=1) + timedelta(seconds=10))  # fmt: skip
    audio(elsewhere, Audio.Status.COMPLETED, chars=9000, voice="fake:beta",
          started=NOW - timedelta(hours=1), completed=NOW - timedelta(minutes=59))  # fmt: skip
    began = NOW - timedelta(seconds=5)
    # 1,500 characters to make, two pages at a time: 1,500 / 100 a second / 2 workers.
    audio(first, Audio.Status.GENERATING, chars=500, created=began, started=began)
    audio(second, Audio.Status.GENERATING, chars=500, created=began, started=began)
    audio(third, Audio.Status.PENDING, chars=500, created=began)

    found = audio_progress(document=document, voice="fake:alpha", now=NOW)

    assert found.seconds_left == 8  # 7.5, rounded up


# --- The endpoint -------------------------------------------------------------------------------


def test_the_endpoint_follows_bulk_creation_from_queued_to_made(
    alice: User, alice_client: APIClient, document: Document, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    queued: list[int] = []
    monkeypatch.setattr(services, "_enqueue_on_commit", queued.append)  # the workers wait
    before = alice_client.get(url(document)).json()
    assert before == {
        "voice": "fake:alpha", "pages_total": 4, "pages_done": 0, "pages_in_progress": 0,
        "pages_failed": 0, "pages_without_audio": 4, "finished": True, "seconds_left": 0,
    }  # fmt: skip

    asked = alice_client.post(
        f"/api/v1/documents/{document.pk}/audios/", {"voice": "fake:alpha", "pages": "all"},
        format="json",
    )  # fmt: skip
    assert asked.status_code == 202
    assert len(queued) == 4

    waiting = alice_client.get(url(document))
    assert waiting.status_code == 200
    assert waiting["Cache-Control"] == "no-store"
    body = waiting.json()
    assert (body["pages_done"], body["pages_in_progress"], body["finished"]) == (0, 4, False)

    services.synthesize_audio(audio_id=queued[0])
    services.synthesize_audio(audio_id=queued[1])
    body = alice_client.get(url(document)).json()
    assert (body["pages_done"], body["pages_in_progress"], body["finished"]) == (2, 2, False)
    assert body["seconds_left"] is not None
    assert body["seconds_left"] >= 1

    for audio_id in queued[2:]:
        services.synthesize_audio(audio_id=audio_id)
    body = alice_client.get(url(document)).json()
    assert (body["pages_done"], body["pages_in_progress"], body["finished"]) == (4, 0, True)
    assert body["seconds_left"] == 0


def test_the_default_voice_is_the_callers_preferred_one(
    alice: User, alice_client: APIClient, document: Document
) -> None:
    alice.preferred_voice = "fake:beta"
    alice.save(update_fields=["preferred_voice"])
    audio(pages_of(document)[0], Audio.Status.COMPLETED, voice="fake:beta")

    body = alice_client.get(url(document, voice=None)).json()

    assert (body["voice"], body["pages_done"]) == ("fake:beta", 1)


def test_anyone_who_may_see_the_document_may_read_it_and_nobody_else(
    alice: User, bob: User, bob_client: APIClient, charlie_client: APIClient,
    anon_client: APIClient, document: Document,
) -> None:  # fmt: skip
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    assert bob_client.get(url(document)).status_code == 200
    stranger = charlie_client.get(url(document))
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "not_found"
    assert anon_client.get(url(document)).status_code == 401


def test_an_unknown_voice_is_a_400_naming_the_field(
    alice_client: APIClient, document: Document
) -> None:
    response = alice_client.get(url(document, voice="nobody:here"))

    assert response.status_code == 400
    assert "voice" in response.json()["error"]["fields"]


def test_the_queries_are_as_few_for_many_pages_as_for_few(
    alice: User, alice_client: APIClient
) -> None:
    def queries(pages: int) -> int:
        document = document_with_pages(owner=alice, pages=pages)
        now = timezone.now()
        began = now - timedelta(seconds=30)
        for number, page in enumerate(pages_of(document)):
            status = Audio.Status.COMPLETED if number % 2 else Audio.Status.PENDING
            audio(page, status, created=began, started=began, completed=now)
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get(url(document)).status_code == 200
        return len(captured)

    few = queries(2)
    assert few == queries(40)
    # The caller and the document (the policy), the page count, the audio rows; no more.
    assert 0 < few <= 4
