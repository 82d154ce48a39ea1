"""Listening progress: GET/PUT/POST /api/v1/documents/{id}/progress/ and "continue listening"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from document_processing.models import Document
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from speech_processing.models import Audio, ListeningProgress
from speech_processing.progress import continue_listening
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(alice: User) -> Document:
    return document_with_pages(owner=alice, pages=3)


def url(document: Document) -> str:
    return f"/api/v1/documents/{document.pk}/progress/"


def test_no_progress_yet_is_an_empty_place(alice_client: APIClient, document: Document) -> None:
    body = alice_client.get(url(document)).json()
    assert body == {
        "document": document.pk, "page": None, "page_number": None, "audio": None,
        "voice": "", "position_seconds": 0.0, "device": "", "saved_at": None, "updated_at": None,
    }  # fmt: skip


def test_progress_is_saved_and_read_back_from_any_client(
    alice: User, alice_client: APIClient, document: Document
) -> None:
    second = document.pages.get(number=2)
    audio = AudioFactory.create(page=second, voice="fake:beta", duration_seconds=90)
    response = alice_client.put(
        url(document), {"page": second.pk, "audio": audio.pk, "position_seconds": 42.25}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["page"], body["page_number"], body["audio"]) == (second.pk, 2, audio.pk)
    assert body["voice"] == "fake:beta"  # the audio's
    assert body["position_seconds"] == 42.25
    other_device = APIClient()
    other_device.force_authenticate(alice)
    assert other_device.get(url(document)).json() == body
    # A later save replaces it: one place per person and document.
    alice_client.put(url(document), {"page": document.pages.get(number=3).pk})
    assert ListeningProgress.objects.filter(user=alice, document=document).count() == 1
    assert alice_client.get(url(document)).json()["page_number"] == 3


def test_positions_stay_inside_the_audio(alice_client: APIClient, document: Document) -> None:
    page = document.pages.get(number=1)
    audio = AudioFactory.create(page=page, duration_seconds=10)
    body = alice_client.put(
        url(document), {"page": page.pk, "audio": audio.pk, "position_seconds": 99}
    ).json()
    assert body["position_seconds"] == 10


def test_each_person_has_their_own_place(
    alice: User, bob: User, alice_client: APIClient, bob_client: APIClient, document: Document
) -> None:
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="view_only", shared_by=alice
    )
    first, second = document.pages.get(number=1), document.pages.get(number=2)
    alice_client.put(url(document), {"page": first.pk, "position_seconds": 1})
    assert (
        bob_client.put(url(document), {"page": second.pk, "position_seconds": 2}).status_code == 200
    )
    assert alice_client.get(url(document)).json()["page"] == first.pk
    assert bob_client.get(url(document)).json()["page"] == second.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "page"),
        ({"page": "1"}, "page"),
        ({"page": True}, "page"),
        ({"page": 10**19}, "page"),
        ({"page": "PAGE", "position_seconds": -1}, "position_seconds"),
        ({"page": "PAGE", "position_seconds": "soon"}, "position_seconds"),
        ({"page": "OTHER"}, "page"),  # a page of another document
        ({"page": "PAGE", "audio": "AUDIO_ELSEWHERE"}, "audio"),  # an audio of another page
        ({"page": "PAGE", "audio": "DELETED"}, "audio"),
        ({"page": "PAGE", "voice": "nobody:here"}, "voice"),
    ],
)
def test_bad_input_is_a_400_that_names_the_field_and_saves_nothing(
    alice: User, alice_client: APIClient, document: Document, body: dict[str, object], field: str
) -> None:
    page = document.pages.get(number=1)
    ids = {
        "PAGE": page.pk,
        "OTHER": document_with_pages(owner=alice, pages=1).pages.get().pk,
        "AUDIO_ELSEWHERE": AudioFactory.create(page=document.pages.get(number=2)).pk,
        "DELETED": AudioFactory.create(page=page, lifetime_status=Audio.Lifetime.DELETED).pk,
    }
    sent = {
        key: ids.get(value, value) if isinstance(value, str) else value
        for key, value in body.items()
    }
    response = alice_client.put(url(document), sent, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]
    assert not ListeningProgress.objects.exists()


def test_strangers_learn_nothing(
    charlie_client: APIClient, anon_client: APIClient, document: Document
) -> None:
    page = document.pages.get(number=1)
    for client, status in ((charlie_client, 404), (anon_client, 401)):
        assert client.get(url(document)).status_code == status
        assert client.put(url(document), {"page": page.pk}).status_code == status
    assert not ListeningProgress.objects.exists()


def test_continue_listening_lists_the_latest_unfinished_documents_still_visible(
    alice: User, bob: User, charlie: User
) -> None:
    documents = [document_with_pages(owner=alice, pages=2, title=f"Doc {n}") for n in range(5)]
    now = timezone.now()
    for age, document in enumerate(documents):
        page = document.pages.get(number=1)
        ListeningProgress.objects.create(user=alice, document=document, page=page)
        ListeningProgress.objects.filter(document=document).update(
            updated_at=now - timedelta(minutes=age)
        )
    # Doc 0, the latest, is finished: the end of its last page's audio.
    last = documents[0].pages.get(number=2)
    ended = AudioFactory.create(page=last, duration_seconds=30)
    ListeningProgress.objects.filter(document=documents[0]).update(
        page=last, audio=ended, position_seconds=29.5
    )
    assert [p.document.title for p in continue_listening(user=alice)] == ["Doc 1", "Doc 2", "Doc 3"]

    # Bob's progress in a document no longer shared with him is not offered.
    share = DocumentShare.objects.create(
        document=documents[4], shared_with=bob, permission="view_only", shared_by=alice
    )
    ListeningProgress.objects.create(
        user=bob, document=documents[4], page=documents[4].pages.get(number=2)
    )
    assert [p.document.title for p in continue_listening(user=bob)] == ["Doc 4"]
    share.delete()
    assert continue_listening(user=bob) == []
    assert continue_listening(user=charlie) == []


def test_continue_listening_is_one_query(alice: User) -> None:
    for n in range(4):
        document = document_with_pages(owner=alice, pages=1, title=f"Doc {n}")
        ListeningProgress.objects.create(user=alice, document=document, page=document.pages.get())
    with CaptureQueriesContext(connection) as queries:
        rows = continue_listening(user=alice)
        titles = [(row.document.title, row.page.number) for row in rows]
    assert len(titles) == 3
    assert len(queries) == 1


# --- Saves in order, and the save sent as a page is left ----------------------------------------


def at(seconds: float) -> str:
    """A time `seconds` from now, as a client's clock gives it (ISO 8601)."""
    return (timezone.now() + timedelta(seconds=seconds)).isoformat()


def test_a_save_that_arrives_after_a_later_one_of_the_same_device_is_ignored(
    alice: User, alice_client: APIClient, document: Document
) -> None:
    first, second = document.pages.get(number=1), document.pages.get(number=2)
    later = alice_client.put(
        url(document),
        {"page": second.pk, "position_seconds": 5, "device": "laptop", "saved_at": at(-1)},
    )
    assert later.status_code == 200
    # Sent before it (as the first page was left), it arrives after.
    late = alice_client.put(
        url(document),
        {"page": first.pk, "position_seconds": 80, "device": "laptop", "saved_at": at(-2)},
    )
    assert late.status_code == 200
    body = late.json()
    assert (body["page_number"], body["position_seconds"]) == (2, 5.0)  # the later one stays
    stored = ListeningProgress.objects.get(user=alice, document=document)
    assert (stored.page_id, stored.position_seconds, stored.device) == (second.pk, 5.0, "laptop")

    # Another device's save arriving later wins, whatever its clock says.
    alice_client.put(
        url(document),
        {"page": first.pk, "position_seconds": 7, "device": "phone", "saved_at": at(-60)},
    )
    assert alice_client.get(url(document)).json()["page_number"] == 1
    # So does a save that names no device (a client that keeps no order).
    alice_client.put(url(document), {"page": second.pk, "position_seconds": 9})
    assert alice_client.get(url(document)).json()["position_seconds"] == 9.0


def test_a_clock_ahead_counts_as_now(
    alice: User, alice_client: APIClient, document: Document
) -> None:
    first, second = document.pages.get(number=1), document.pages.get(number=2)
    before = timezone.now()
    body = alice_client.put(
        url(document), {"page": first.pk, "device": "fast", "saved_at": at(3600)}
    ).json()
    saved_at = ListeningProgress.objects.get(user=alice).saved_at
    assert saved_at is not None
    assert before <= saved_at <= timezone.now()
    assert body["saved_at"] is not None
    # Its next save, made a second later by a clock put right, is kept.
    alice_client.put(url(document), {"page": second.pk, "device": "fast", "saved_at": at(1)})
    assert alice_client.get(url(document)).json()["page_number"] == 2


def test_a_save_made_at_the_moment_of_the_stored_one_is_ignored(
    alice: User, alice_client: APIClient, document: Document
) -> None:
    first = document.pages.get(number=1)
    moment = at(-1)
    alice_client.put(url(document), {"page": first.pk, "device": "d", "saved_at": moment})
    body = alice_client.put(
        url(document), {"page": document.pages.get(number=3).pk, "device": "d", "saved_at": moment}
    ).json()
    assert body["page"] == first.pk  # the same moment again: not later, so not kept
    assert ListeningProgress.objects.filter(user=alice).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"device": "a b"}, "device"),
        ({"device": "x" * 65}, "device"),
        ({"saved_at": "soon"}, "saved_at"),
    ],
)
def test_a_bad_device_or_time_is_a_400(
    alice_client: APIClient, document: Document, body: dict[str, object], field: str
) -> None:
    sent = {"page": document.pages.get(number=1).pk, **body}
    response = alice_client.put(url(document), sent, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not ListeningProgress.objects.exists()


CSRF_SECRET = "k" * 32  # the browser's csrftoken cookie (a token the form may repeat as it is)


def browser_session(user: User) -> APIClient:
    """A signed-in browser: the session cookie, and CSRF checked as for any browser."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.cookies["csrftoken"] = CSRF_SECRET
    return client


def beacon(client: APIClient, document: Document, fields: dict[str, object]) -> Any:
    """What navigator.sendBeacon sends: a POST with a form body and no headers of its own."""
    return client.post(
        url(document),
        urlencode({name: str(value) for name, value in fields.items()}),
        content_type="application/x-www-form-urlencoded;charset=UTF-8",
    )


def test_a_beacon_saves_with_the_csrf_token_in_its_form(alice: User, document: Document) -> None:
    page = document.pages.get(number=2)
    audio = AudioFactory.create(page=page, voice="fake:beta", duration_seconds=300)
    response = beacon(
        browser_session(alice),
        document,
        {
            "csrfmiddlewaretoken": CSRF_SECRET,
            "page": page.pk,
            "audio": audio.pk,
            "position_seconds": "135.5",
            "device": "tab1",
            "saved_at": at(-1),
        },
    )
    assert response.status_code == 200, response.json()
    stored = ListeningProgress.objects.get(user=alice, document=document)
    assert (stored.page_id, stored.audio_id, stored.position_seconds) == (page.pk, audio.pk, 135.5)
    assert stored.device == "tab1"


def test_a_beacon_without_the_csrf_token_is_refused(alice: User, document: Document) -> None:
    fields: dict[str, object] = {"page": document.pages.get(number=1).pk}
    for token in ({}, {"csrfmiddlewaretoken": "w" * 32}):
        response = beacon(browser_session(alice), document, {**token, **fields})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert not ListeningProgress.objects.exists()


def test_a_beacon_is_checked_as_a_put_is(alice: User, charlie: User, document: Document) -> None:
    token = {"csrfmiddlewaretoken": CSRF_SECRET}
    bad = beacon(browser_session(alice), document, {**token, "page": "first"})
    assert bad.status_code == 400
    assert "page" in bad.json()["error"]["fields"]
    elsewhere = beacon(
        browser_session(charlie), document, {**token, "page": document.pages.get(number=1).pk}
    )
    assert elsewhere.status_code == 404
    assert not ListeningProgress.objects.exists()


def test_post_takes_the_same_json_as_put(alice_client: APIClient, document: Document) -> None:
    page = document.pages.get(number=3)
    response = alice_client.post(url(document), {"page": page.pk, "position_seconds": 2})
    assert response.status_code == 200
    assert response.json()["page_number"] == 3
    # As strict as PUT: ids are JSON numbers.
    assert alice_client.post(url(document), {"page": str(page.pk)}).status_code == 400
