"""Listening to a whole document: the playlist, and asking for several pages' audio at once."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from sharing.models import AccessLog, DocumentShare
from speech_processing.models import Audio
from speech_processing.playlist import speakable
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def document(alice: User) -> Document:
    return document_with_pages(owner=alice, pages=4, title="Four pages")


def pages_of(document: Document) -> list[Page]:
    return list(document.pages.order_by("number"))


def set_text(page: Page, text: str) -> None:
    Page.objects.filter(pk=page.pk).update(text=text, markdown=text, char_count=len(text))
    page.refresh_from_db()


def share(document: Document, person: User, permission: str) -> None:
    DocumentShare.objects.create(
        document=document, shared_with=person, permission=permission, shared_by=document.owner
    )


def made(page: Page, voice: str = "fake:alpha", **fields: Any) -> Audio:
    key = default_storage.save("audio/made.mp3", ContentFile(b"\xff\xfb\x90\x00" * 16))
    fields.setdefault("status", Audio.Status.COMPLETED)
    return AudioFactory.create(page=page, voice=voice, file_key=key, size_bytes=64, **fields)


def playlist(client: APIClient, document: Document, query: str = "") -> Any:
    return client.get(f"/api/v1/documents/{document.pk}/playlist/{query}")


def ask(client: APIClient, document: Document, capture: Capture, **body: Any) -> Any:
    with capture(execute=True):
        return client.post(f"/api/v1/documents/{document.pk}/audios/", body, format="json")


# --- The playlist ---------------------------------------------------------------------------


def test_the_playlist_gives_each_page_its_audio_or_the_reason_there_is_none(
    alice_client: APIClient, document: Document, settings: Any
) -> None:
    settings.AUDIO_MAX_PER_PAGE = 1
    first, second, third, fourth = pages_of(document)
    done = made(first)
    being_made = made(second, status=Audio.Status.GENERATING)
    made(second, voice="fake:beta")  # another voice: not in this playlist
    made(third, lifetime_status=Audio.Lifetime.DELETED)  # the page's only quota slot
    set_text(fourth, "* * *")

    response = playlist(alice_client, document)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["voice"] == "fake:alpha"  # the site's voice: alice chose none
    assert [entry["page"] for entry in body["pages"]] == [
        {"id": page.pk, "number": page.number, "title": page.title, "is_contents": False}
        for page in (first, second, third, fourth)
    ]
    assert [entry["reason"] for entry in body["pages"]] == [
        None, None, "quota_exceeded", "no_text",
    ]  # fmt: skip
    audio = body["pages"][0]["audio"]
    assert audio["id"] == done.pk
    assert audio["status"] == "completed"
    assert audio["outdated"] is False
    assert audio["download_url"] == f"/api/v1/audios/{done.pk}/download/"
    assert audio["stream_url"] == f"/api/v1/audios/{done.pk}/stream/"
    streaming = body["pages"][1]["audio"]
    assert streaming["id"] == being_made.pk
    assert streaming["download_url"] is None
    assert streaming["stream_url"] == f"/api/v1/audios/{being_made.pk}/stream/"
    assert body["pages"][2]["audio"] is None

    settings.AUDIO_MAX_PER_PAGE = 4
    assert [entry["reason"] for entry in playlist(alice_client, document).json()["pages"]] == [
        None, None, "not_made", "no_text",
    ]  # fmt: skip


def test_a_table_of_contents_is_passed_over_unless_asked_for_or_started_from(
    alice_client: APIClient, document: Document
) -> None:
    _, second, third, fourth = pages_of(document)
    Page.objects.filter(pk=second.pk).update(is_contents=True)
    made(second)  # even made, it is not played by default

    entries = playlist(alice_client, document).json()["pages"]
    assert [entry["reason"] for entry in entries] == [
        "not_made", "skipped_contents", "not_made", "not_made",
    ]  # fmt: skip
    assert entries[1]["audio"] is None
    assert entries[1]["page"]["is_contents"] is True

    # Asked for, it is played like any page.
    entries = playlist(alice_client, document, "?include_contents=true").json()["pages"]
    assert entries[1]["reason"] is None
    assert entries[1]["audio"]["status"] == "completed"

    # Starting from it means hearing it; the pages after it are as usual.
    entries = playlist(alice_client, document, f"?from_page={second.pk}").json()["pages"]
    assert [entry["page"]["id"] for entry in entries] == [second.pk, third.pk, fourth.pk]
    assert entries[0]["audio"] is not None


def test_the_playlist_starts_at_from_page_and_speaks_in_the_voice_asked_for(
    alice: User, alice_client: APIClient, document: Document
) -> None:
    third = pages_of(document)[2]
    beta = made(third, voice="fake:beta")
    body = playlist(alice_client, document, f"?voice=fake:beta&from_page={third.pk}").json()
    assert body["voice"] == "fake:beta"
    # The player says "Now playing" with the voice's display name.
    assert body["voice_display_name"] == "Beta (English (GB), Test tones)"
    assert [entry["page"]["number"] for entry in body["pages"]] == [3, 4]
    assert body["pages"][0]["audio"]["id"] == beta.pk
    assert body["pages"][0]["audio"]["voice_display_name"] == "Beta (English (GB), Test tones)"
    # Without a voice: the caller's preferred one, the same rule as generating.
    alice.preferred_voice = "fake:beta"
    alice.save()
    assert playlist(alice_client, document).json()["voice"] == "fake:beta"


def test_outdated_audio_stays_in_the_playlist_marked_as_such(
    alice_client: APIClient, document: Document
) -> None:
    first = pages_of(document)[0]
    made(first, text_digest="0" * 64)
    audio = playlist(alice_client, document).json()["pages"][0]["audio"]
    assert audio["outdated"] is True
    assert audio["download_url"]


def test_who_may_not_generate_is_told_so_and_a_stranger_sees_nothing(
    alice: User,
    bob: User,
    bob_client: APIClient,
    charlie_client: APIClient,
    document: Document,
) -> None:
    first = pages_of(document)[0]
    made(first)
    share(document, bob, "view_only")
    reasons = [entry["reason"] for entry in playlist(bob_client, document).json()["pages"]]
    assert reasons == [None, "not_permitted", "not_permitted", "not_permitted"]
    DocumentShare.objects.filter(shared_with=bob).update(permission="collaborator")
    reasons = [entry["reason"] for entry in playlist(bob_client, document).json()["pages"]]
    assert reasons == [None, "not_made", "not_made", "not_made"]

    hidden = playlist(charlie_client, document, "?voice=nobody:nothing&from_page=x")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("?voice=fake:nobody", "voice"),
        ("?voice=nowhere", "voice"),
        ("?from_page=abc", "from_page"),
        ("?from_page=0", "from_page"),
        ("?from_page=99999999999999999999999", "from_page"),
        ("?from_page={other}", "from_page"),
    ],
)
def test_bad_playlist_requests_are_400(
    alice: User, alice_client: APIClient, document: Document, query: str, field: str
) -> None:
    other = document_with_pages(owner=alice, pages=1).pages.get()
    response = playlist(alice_client, document, query.format(other=other.pk))
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]


def test_the_playlist_costs_the_same_queries_for_2_and_20_pages(
    alice: User, alice_client: APIClient, settings: Any
) -> None:
    settings.AUDIO_MAX_PER_PAGE = 1

    def queries(pages: int) -> int:
        document = document_with_pages(owner=alice, pages=pages)
        for number, page in enumerate(pages_of(document)):
            if number % 3 == 0:
                made(page, created_by=alice)
            elif number % 3 == 1:
                made(page, voice="fake:beta", lifetime_status=Audio.Lifetime.DELETED)
        with CaptureQueriesContext(connection) as captured:
            response = playlist(alice_client, document)
        assert response.status_code == 200
        assert len(response.json()["pages"]) == pages
        return len(captured)

    queries(2)  # the first request also loads what is cached (the site's settings)
    assert queries(2) == queries(20)


# --- Asking for several pages at once -------------------------------------------------------


def test_each_page_gets_its_own_outcome_and_one_refusal_undoes_nothing(
    alice: User,
    alice_client: APIClient,
    settings: Any,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.AUDIO_MAX_PER_PAGE = 1
    document = document_with_pages(owner=alice, pages=7)
    created, exists, reused, twin, replaced, full, empty = pages_of(document)
    existing = made(exists)
    set_text(reused, "Words said before, in the same voice.")
    set_text(twin, "Words said before, in the same voice.")
    twin_response = ask(
        alice_client, document, django_capture_on_commit_callbacks,
        voice="fake:alpha", pages=[twin.pk],
    )  # fmt: skip
    assert twin_response.json()["results"][0]["outcome"] == "created"
    old = made(replaced, text_digest="0" * 64)
    made(full, voice="fake:beta", lifetime_status=Audio.Lifetime.DELETED)
    set_text(empty, "- - -")

    response = ask(
        alice_client, document, django_capture_on_commit_callbacks, voice="fake:alpha",
        pages=[page.pk for page in (empty, full, replaced, reused, exists, created)],
    )  # fmt: skip
    assert response.status_code == 202, response.json()
    results = response.json()["results"]
    # In reading order, whatever order they were named in.
    assert [(result["page"], result["outcome"]) for result in results] == [
        (created.pk, "created"),
        (exists.pk, "exists"),
        (reused.pk, "reused"),
        (replaced.pk, "replaced"),
        (full.pk, "quota_exceeded"),
        (empty.pk, "no_text"),
    ]
    by_page = {result["page"]: result["audio"] for result in results}
    assert by_page[exists.pk]["id"] == existing.pk
    assert by_page[full.pk] is None
    assert by_page[empty.pk] is None
    created_id = by_page[created.pk]["id"]
    assert by_page[created.pk]["stream_url"] == f"/api/v1/audios/{created_id}/stream/"
    for page in (created, reused, replaced):
        audio = Audio.objects.get(pk=by_page[page.pk]["id"])
        assert audio.status == Audio.Status.COMPLETED
    old.refresh_from_db()
    assert old.lifetime_status == Audio.Lifetime.DELETED
    assert not Audio.objects.filter(page__in=[full, empty], voice="fake:alpha").exists()
    # Each page made is in the document's activity, as a single "Generate" is.
    made_ids = {by_page[page.pk]["id"] for page in (created, reused, replaced)}
    logged = AccessLog.objects.filter(
        document=document, action=AccessLog.Action.GENERATE, outcome=AccessLog.Outcome.SUCCESS
    )
    assert made_ids <= set(logged.values_list("audio_id", flat=True))
    # Asked again: everything that can be is there.
    again = ask(
        alice_client, document, django_capture_on_commit_callbacks, voice="fake:alpha",
        pages="all",
    )  # fmt: skip
    assert [result["outcome"] for result in again.json()["results"]] == [
        "exists", "exists", "exists", "exists", "exists", "quota_exceeded", "no_text",
    ]  # fmt: skip


def test_every_page_means_every_page_a_listener_hears_not_the_contents(
    alice_client: APIClient, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    first, second, third, fourth = pages_of(document)
    Page.objects.filter(pk=second.pk).update(is_contents=True)
    response = ask(
        alice_client, document, django_capture_on_commit_callbacks, voice="fake:alpha",
        pages="all",
    )  # fmt: skip
    assert response.status_code == 202
    assert [result["page"] for result in response.json()["results"]] == [
        first.pk, third.pk, fourth.pk,
    ]  # fmt: skip
    assert not Audio.objects.filter(page=second).exists()
    # Named, it is made like any page.
    named = ask(
        alice_client, document, django_capture_on_commit_callbacks, voice="fake:alpha",
        pages=[second.pk],
    )  # fmt: skip
    assert [result["page"] for result in named.json()["results"]] == [second.pk]
    assert Audio.objects.filter(page=second).exists()
    # A document of nothing but contents is still read to whoever asks for all of it.
    Page.objects.filter(document=document).update(is_contents=True)
    again = ask(
        alice_client, document, django_capture_on_commit_callbacks, voice="fake:beta",
        pages="all",
    )  # fmt: skip
    assert len(again.json()["results"]) == 4


def test_the_replacement_of_outdated_audio_takes_no_quota_slot(
    alice: User,
    alice_client: APIClient,
    document: Document,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    first = pages_of(document)[0]
    old = made(first, text_digest="0" * 64)
    before = alice_client.get(f"/api/v1/pages/{first.pk}/audios/").json()["quota"]["used"]
    response = ask(
        alice_client, document, django_capture_on_commit_callbacks,
        voice="fake:alpha", pages=[first.pk],
    )  # fmt: skip
    assert response.json()["results"][0]["outcome"] == "replaced"
    assert alice_client.get(f"/api/v1/pages/{first.pk}/audios/").json()["quota"]["used"] == before
    assert not default_storage.exists(old.file_key)


def test_who_may_only_view_learns_per_page_that_they_may_not_and_strangers_nothing(
    alice: User,
    bob: User,
    bob_client: APIClient,
    charlie_client: APIClient,
    document: Document,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    first, second, _third, fourth = pages_of(document)
    existing = made(first)
    set_text(fourth, "...")
    share(document, bob, "view_only")
    response = ask(
        bob_client, document, django_capture_on_commit_callbacks, voice="fake:alpha", pages="all"
    )
    assert response.status_code == 202, response.json()
    assert [(result["outcome"], result["audio"] and result["audio"]["id"]) for result in
            response.json()["results"]] == [
        ("exists", existing.pk), ("not_permitted", None), ("not_permitted", None),
        ("no_text", None),
    ]  # fmt: skip
    assert Audio.objects.count() == 1
    assert AccessLog.objects.filter(
        user=bob, action=AccessLog.Action.GENERATE, outcome=AccessLog.Outcome.DENIED
    ).exists()

    DocumentShare.objects.filter(shared_with=bob).update(permission="collaborator")
    response = ask(
        bob_client, document, django_capture_on_commit_callbacks,
        voice="fake:alpha", pages=[second.pk],
    )  # fmt: skip
    assert response.json()["results"][0]["outcome"] == "created"
    assert Audio.objects.get(pk=response.json()["results"][0]["audio"]["id"]).created_by == bob

    hidden = ask(
        charlie_client, document, django_capture_on_commit_callbacks,
        voice="nobody", pages=[0],
    )  # fmt: skip
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"voice": "fake:nobody", "pages": "all"}, "voice"),
        ({"voice": "fake:alpha", "pages": "{other}"}, "pages"),
        ({"voice": "fake:alpha", "pages": "some"}, "pages"),
        ({"voice": "fake:alpha", "pages": []}, "pages"),
        ({"voice": "fake:alpha", "pages": ["1"]}, "pages"),
        ({"voice": "fake:alpha", "pages": [1, 2, 3, 4]}, "pages"),  # more than DOCUMENT_MAX_PAGES
        ({"voice": "fake:alpha"}, "pages"),
    ],
)
def test_bad_requests_for_several_pages_are_400(
    alice: User,
    alice_client: APIClient,
    document: Document,
    settings: Any,
    body: dict[str, Any],
    field: str,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    settings.DOCUMENT_MAX_PAGES = 3
    other = document_with_pages(owner=alice, pages=1).pages.get()
    if body.get("pages") == "{other}":
        body = {**body, "pages": [pages_of(document)[0].pk, other.pk]}
    response = ask(alice_client, document, django_capture_on_commit_callbacks, **body)
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["fields"]
    assert Audio.objects.count() == 0


def test_a_request_for_several_pages_counts_once_against_the_generate_rate(
    alice_client: APIClient,
    document: Document,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "generate", "2/hour")
    first, second, third, fourth = pages_of(document)
    for pages in ([first.pk, second.pk], [third.pk, fourth.pk]):
        response = ask(
            alice_client, document, django_capture_on_commit_callbacks,
            voice="fake:alpha", pages=pages,
        )  # fmt: skip
        assert response.status_code == 202
    refused = ask(
        alice_client, document, django_capture_on_commit_callbacks, voice="fake:beta", pages="all"
    )
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"


def test_a_listener_at_three_times_speed_stays_inside_the_default_generate_rate() -> None:
    from django.conf import settings

    rate = str(api_settings.DEFAULT_THROTTLE_RATES["generate"])
    count, period = rate.split("/")
    assert period == "hour"
    # One request per LISTEN_AHEAD_PAGES pages; pages of a line (11 words, 1.5 s at 3x speed).
    asked_per_hour = 3600 / (1.5 * settings.LISTEN_AHEAD_PAGES)
    assert int(count) >= asked_per_hour


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello.", True),
        ("* * *", False),
        ("- " * 2000, False),
        ("- " * 2000 + "At last, words.", True),
        ("Words first. " + "- " * 2000, True),
    ],
)
def test_a_page_is_speakable_as_generating_decides_it(text: str, expected: bool) -> None:
    from speech_processing.text import has_speakable_text, normalize_for_speech

    assert speakable(text) is expected
    assert has_speakable_text(normalize_for_speech(text)) is expected


def test_while_generation_is_off_who_may_generate_gets_503_and_a_viewer_learns_nothing_of_it(
    alice: User,
    bob: User,
    alice_client: APIClient,
    bob_client: APIClient,
    document: Document,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    from operations.models import SiteSettings
    from operations.site_settings import forget_cached

    SiteSettings.objects.update_or_create(
        pk=1, defaults={"audio_generation_enabled": False, "generation_disabled_message": "Later."}
    )
    forget_cached()
    share(document, bob, "view_only")
    refused = ask(
        alice_client, document, django_capture_on_commit_callbacks, voice="fake:alpha", pages="all"
    )
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "service_unavailable"
    viewer = ask(
        bob_client, document, django_capture_on_commit_callbacks, voice="fake:alpha", pages="all"
    )
    assert viewer.status_code == 202
    assert {result["outcome"] for result in viewer.json()["results"]} == {"not_permitted"}
    assert Audio.objects.count() == 0
