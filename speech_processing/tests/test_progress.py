"""Listening progress: GET/PUT /api/v1/documents/{id}/progress/ and "continue listening"."""

from __future__ import annotations

from datetime import timedelta

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
        "voice": "", "position_seconds": 0.0, "updated_at": None,
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
