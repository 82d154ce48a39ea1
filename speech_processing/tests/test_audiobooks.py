"""Whole-document audiobooks: the pages' audio made as needed, then one M4B with chapters."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import av
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from mutagen.mp4 import MP4, MP4Cover
from rest_framework.test import APIClient

from document_processing.models import Document, Page
from document_processing.services import delete_document
from document_processing.tests.extractors.samples import image_bytes
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from speech_processing import audiobooks, services
from speech_processing.audiobooks import Step, advance_audiobook, start_audiobook
from speech_processing.models import Audio, Audiobook
from users.models import User

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[Any]]


@pytest.fixture
def document(alice: User) -> Document:
    document = document_with_pages(owner=alice, pages=3, title="A Small Book")
    Document.objects.filter(pk=document.pk).update(author="Ada Writer")
    for page in document.pages.all():
        text = f"This is page {page.number}. It has two sentences."
        Page.objects.filter(pk=page.pk).update(text=text, title=f"Chapter {page.number}")
    return Document.objects.get(pk=document.pk)


def run(book: Audiobook, capture: Capture, **options: Any) -> Step:
    """One step of the job, with the page audio it asks for made at once (as workers would)."""
    with capture(execute=True):
        return advance_audiobook(audiobook_id=book.pk, **options)


def test_a_book_is_made_from_the_pages_audio_with_a_chapter_each(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture, tmp_path: Path
) -> None:
    second = document.pages.get(number=2)
    with django_capture_on_commit_callbacks(execute=True):
        made_before = services.create_audio_record(page=second, voice="fake:alpha", user=alice)
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    assert (book.status, book.pages_total) == (Audiobook.Status.PENDING, 3)

    # The first step asks for the two pages without audio in that voice, and waits for them.
    assert run(book, django_capture_on_commit_callbacks) is Step.WAITING
    book.refresh_from_db()
    assert (book.status, book.pages_done) == (Audiobook.Status.PENDING, 1)
    assert Audio.objects.filter(page__document=document, voice="fake:alpha").count() == 3

    # Once they are made, the next step writes the book.
    assert run(book, django_capture_on_commit_callbacks) is Step.DONE
    book.refresh_from_db()
    assert book.status == Audiobook.Status.COMPLETED, book.error_message
    assert book.pages_done == 3
    assert [chapter["title"] for chapter in book.chapters] == [
        "Chapter 1", "Chapter 2", "Chapter 3",
    ]  # fmt: skip
    durations = [
        Audio.objects.get(page__document=document, page__number=n, voice="fake:alpha")
        for n in (1, 2, 3)
    ]
    assert durations[1].pk == made_before.pk  # the page already made was used as it was
    for chapter, audio in zip(book.chapters, durations, strict=True):
        assert chapter["end"] - chapter["start"] == pytest.approx(audio.duration_seconds, abs=0.1)
    assert book.duration_seconds == pytest.approx(book.chapters[-1]["end"])

    # It is an M4B: AAC, the title and author, and the chapters.
    local = tmp_path / "book.m4b"
    with default_storage.open(book.file_key, "rb") as stored:
        local.write_bytes(stored.read())
    assert local.stat().st_size == book.size_bytes
    with av.open(str(local)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.metadata.get("title") == "A Small Book"
        assert container.metadata.get("artist") == "Ada Writer"
        chapters = container.chapters()
        assert [chapter["metadata"].get("title") for chapter in chapters] == [
            "Chapter 1", "Chapter 2", "Chapter 3",
        ]  # fmt: skip
        assert float(container.duration or 0) / av.time_base == pytest.approx(
            book.duration_seconds, abs=0.3
        )
    with local.open("rb") as handle:
        assert b"M4B " in handle.read(64)  # the brand players know audiobooks by


def test_a_book_passes_over_the_table_of_contents(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    contents = document.pages.get(number=1)
    Page.objects.filter(pk=contents.pk).update(is_contents=True, title="Contents")
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    assert run(book, django_capture_on_commit_callbacks) is Step.WAITING
    assert run(book, django_capture_on_commit_callbacks) is Step.DONE
    book.refresh_from_db()
    assert book.status == Audiobook.Status.COMPLETED, book.error_message
    assert (book.pages_total, book.pages_done) == (2, 2)
    assert [chapter["title"] for chapter in book.chapters] == ["Chapter 2", "Chapter 3"]
    assert not Audio.objects.filter(page=contents).exists()
    # Made from the pages' current audio: the contents page's audio is not part of it.
    assert audiobooks.up_to_date_books(document=document, books=[book]) == {book.pk}
    with django_capture_on_commit_callbacks(execute=True):
        services.create_audio_record(page=contents, voice="fake:alpha", user=alice)
    assert audiobooks.up_to_date_books(document=document, books=[book]) == {book.pk}


def test_the_documents_cover_is_the_books_artwork(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture, tmp_path: Path
) -> None:
    cover = image_bytes((200, 300))  # as extraction stores it: a JPEG
    key = default_storage.save("covers/book.jpg", ContentFile(cover))
    Document.objects.filter(pk=document.pk).update(cover_key=key)
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    while run(book, django_capture_on_commit_callbacks) is not Step.DONE:
        pass
    book.refresh_from_db()
    local = tmp_path / "book.m4b"
    with default_storage.open(book.file_key, "rb") as stored:
        local.write_bytes(stored.read())
    tags = MP4(str(local)).tags
    assert tags is not None
    assert [bytes(picture) for picture in tags["covr"]] == [cover]
    assert tags["covr"][0].imageformat == MP4Cover.FORMAT_JPEG
    # Adding it kept the book whole: the same chapters, and audio that decodes to the end.
    with av.open(str(local)) as container:
        assert len(container.chapters()) == 3
        decoded = sum(frame.samples for frame in container.decode(audio=0))
        rate = container.streams.audio[0].rate
    assert decoded / rate == pytest.approx(book.duration_seconds, abs=0.1)


def test_a_book_whose_cover_is_gone_from_storage_is_made_without_one(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture, tmp_path: Path
) -> None:
    Document.objects.filter(pk=document.pk).update(cover_key="covers/lost.jpg")
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    while run(book, django_capture_on_commit_callbacks) is not Step.DONE:
        pass
    book.refresh_from_db()
    assert book.status == Audiobook.Status.COMPLETED
    local = tmp_path / "book.m4b"
    with default_storage.open(book.file_key, "rb") as stored:
        local.write_bytes(stored.read())
    tags = MP4(str(local)).tags
    assert tags is not None
    assert "covr" not in tags


def test_the_api_starts_follows_and_downloads_a_book(
    alice: User,
    alice_client: APIClient,
    document: Document,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    response = alice_client.post(
        f"/api/v1/documents/{document.pk}/audiobook/", {"voice": "fake:beta"}
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["voice"], body["download_url"]) == ("pending", "fake:beta", None)
    again = alice_client.post(f"/api/v1/documents/{document.pk}/audiobook/", {"voice": "fake:beta"})
    assert again.status_code == 409
    book = Audiobook.objects.get(pk=body["id"])
    while run(book, django_capture_on_commit_callbacks) is Step.WAITING:
        pass
    detail = alice_client.get(f"/api/v1/audiobooks/{book.pk}/").json()
    assert detail["status"] == "completed"
    assert detail["pages_done"] == detail["pages_total"] == 3
    assert len(detail["chapters"]) == 3
    download = alice_client.get(detail["download_url"], HTTP_RANGE="bytes=0-99")
    assert download.status_code == 206
    assert download["Content-Type"] == "audio/mp4"
    assert len(b"".join(download.streaming_content)) == 100  # type: ignore[attr-defined]


def test_a_page_without_quota_left_fails_the_book_with_a_reason(
    alice: User, document: Document, settings: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    settings.AUDIO_MAX_PER_PAGE = 1
    third = document.pages.get(number=3)
    Audio.objects.create(
        page=third, voice="fake:beta", engine="fake", status=Audio.Status.COMPLETED,
        lifetime_status=Audio.Lifetime.DELETED,
    )  # fmt: skip
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    assert run(book, django_capture_on_commit_callbacks) is Step.DONE
    book.refresh_from_db()
    assert book.status == Audiobook.Status.FAILED
    assert book.error_message.startswith("Page 3: ")
    assert not book.file_key


def test_someone_no_longer_allowed_to_make_audio_gets_no_book(
    alice: User, bob: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    share = DocumentShare.objects.create(
        document=document, shared_with=bob, permission="collaborator", shared_by=alice
    )
    book = start_audiobook(user=bob, document=document, voice="fake:alpha")
    share.permission = "view_only"
    share.save()
    assert run(book, django_capture_on_commit_callbacks) is Step.DONE
    book.refresh_from_db()
    assert book.status == Audiobook.Status.FAILED
    assert book.error_message == audiobooks.GONE
    assert not Audio.objects.filter(page__document=document).exists()


def test_a_page_whose_audio_fails_fails_the_book(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    Page.objects.filter(document=document, number=2).update(text="FAKE_PERMANENT_ERROR here.")
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    assert run(book, django_capture_on_commit_callbacks) is Step.WAITING
    assert run(book, django_capture_on_commit_callbacks) is Step.DONE
    book.refresh_from_db()
    assert book.status == Audiobook.Status.FAILED
    assert book.error_message.startswith("Page 2 could not be read aloud: ")


def test_a_job_whose_worker_died_is_taken_over_and_reuses_what_was_made(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    assert run(book, django_capture_on_commit_callbacks) is Step.WAITING
    made = set(Audio.objects.values_list("pk", flat=True))
    # The worker dies while writing the book: the row stays generating.
    Audiobook.objects.filter(pk=book.pk).update(status=Audiobook.Status.GENERATING)
    assert run(book, django_capture_on_commit_callbacks) is Step.DONE  # not ours to take
    book.refresh_from_db()
    assert book.status == Audiobook.Status.GENERATING
    # The broker hands the message out again: the new worker goes on from there.
    assert run(book, django_capture_on_commit_callbacks, redelivered=True) is Step.DONE
    book.refresh_from_db()
    assert book.status == Audiobook.Status.COMPLETED
    assert set(Audio.objects.values_list("pk", flat=True)) == made  # nothing made twice


def test_bad_requests_are_refused_and_leave_nothing(
    alice_client: APIClient, bob_client: APIClient, alice: User, document: Document
) -> None:
    url = f"/api/v1/documents/{document.pk}/audiobook/"
    unknown = alice_client.post(url, {"voice": "nobody:here"})
    assert unknown.status_code == 400
    assert "voice" in unknown.json()["error"]["fields"]
    assert bob_client.post(url, {"voice": "fake:alpha"}).status_code == 404
    empty = Document.objects.create(owner=alice, title="Empty", status=Document.Status.COMPLETED)
    assert alice_client.post(f"/api/v1/documents/{empty.pk}/audiobook/").status_code == 409
    assert not Audiobook.objects.exists()


def test_deleting_the_document_removes_the_book_file(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    while run(book, django_capture_on_commit_callbacks) is Step.WAITING:
        pass
    book.refresh_from_db()
    assert default_storage.exists(book.file_key)
    with django_capture_on_commit_callbacks(execute=True):
        delete_document(user=alice, document=document)
    assert not default_storage.exists(book.file_key)
    assert not Audiobook.objects.exists()


def test_the_sweep_sends_again_a_book_whose_next_step_was_lost(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    book = start_audiobook(user=alice, document=document, voice="fake:alpha")  # message lost
    fresh = start_audiobook(user=alice, document=document, voice="fake:beta")
    later = timezone.now() + timedelta(seconds=settings.STUCK_PENDING_SECONDS + 1)
    Audiobook.objects.filter(pk=fresh.pk).update(updated_at=later)  # still waiting normally
    with django_capture_on_commit_callbacks(execute=True):
        result = audiobooks.sweep_stuck_audiobooks(now=later)
    assert result == {"released": 0, "requeued": 1}
    # Its step ran: the pages' audio in its voice was asked for, not in the other book's.
    assert Audio.objects.filter(page__document=document, voice="fake:alpha").count() == 3
    assert not Audio.objects.filter(voice="fake:beta").exists()
    book.refresh_from_db()
    assert book.status == Audiobook.Status.PENDING  # waiting for its pages, not failed
    # Its next step was lost too (tests run tasks eagerly, without the countdown): the next
    # sweep sends it again, and the book is written from the pages now made.
    with django_capture_on_commit_callbacks(execute=True):
        audiobooks.sweep_stuck_audiobooks(now=later + timedelta(seconds=1))
    book.refresh_from_db()
    assert book.status == Audiobook.Status.COMPLETED
    fresh.refresh_from_db()
    assert fresh.status == Audiobook.Status.PENDING


def test_the_sweep_releases_a_book_whose_worker_died(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    Audiobook.objects.filter(pk=book.pk).update(status=Audiobook.Status.GENERATING)
    soon = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    assert audiobooks.sweep_stuck_audiobooks(now=soon) == {"released": 0, "requeued": 0}
    gone = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    with django_capture_on_commit_callbacks(execute=True):
        result = audiobooks.sweep_stuck_audiobooks(now=gone)
    assert result == {"released": 1, "requeued": 1}
    assert Audio.objects.filter(page__document=document, voice="fake:alpha").count() == 3


# --- The download's name, live progress, and making a book again ----------------------------------


def finished_book(document: Document, *, voice: str = "fake:alpha", **fields: Any) -> Audiobook:
    key = default_storage.save("audiobooks/made.m4b", ContentFile(b"\x00" * 64))
    return Audiobook.objects.create(
        document=document, voice=voice, status=Audiobook.Status.COMPLETED, file_key=key,
        size_bytes=64, created_by=document.owner, **fields,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("title", "disposition"),
    [
        ("A Small Book", 'attachment; filename="A Small Book.m4b"'),
        # Not ASCII: an ASCII name for old clients, and the exact name (RFC 5987) for the rest.
        ("Café: Ünïcode/notes",
         "attachment; filename=\"Cafe_ Unicode-notes.m4b\"; "
         "filename*=UTF-8''Caf%C3%A9_%20%C3%9Cn%C3%AFcode-notes.m4b"),
        ("東京", "attachment; filename=\"audiobook.m4b\"; filename*=UTF-8''%E6%9D%B1%E4%BA%AC.m4b"),
        # Quotes and separators never reach the header.
        ('He said "no"; done', 'attachment; filename="He said _no_ done.m4b"'),
    ],
)  # fmt: skip
def test_the_download_is_named_after_the_documents_title(
    alice_client: APIClient, document: Document, title: str, disposition: str
) -> None:
    Document.objects.filter(pk=document.pk).update(title=title)
    book = finished_book(document)

    response = alice_client.get(f"/api/v1/audiobooks/{book.pk}/download/")

    assert response.status_code == 200
    assert response["Content-Disposition"] == disposition
    assert b"".join(response.streaming_content) == b"\x00" * 64  # type: ignore[attr-defined]


def test_a_book_being_made_shows_its_pages_made_now_and_the_time_left(
    alice: User, alice_client: APIClient, document: Document
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    book = start_audiobook(user=alice, document=document, voice="fake:alpha")  # the job waits
    first, second, _third = document.pages.order_by("number")
    made = Audio.objects.create(
        page=first, voice="fake:alpha", engine="fake", status=Audio.Status.COMPLETED,
        char_count=100, file_key="audio/1.mp3",
    )  # fmt: skip
    now = timezone.now()
    # Made earlier at 20 characters a second…
    Audio.objects.filter(pk=made.pk).update(
        created_at=now - timedelta(seconds=30), started_at=now - timedelta(seconds=10),
        completed_at=now - timedelta(seconds=5),
    )  # fmt: skip
    # …so the 200 characters being made now take about 10 s.
    Audio.objects.create(page=second, voice="fake:alpha", engine="fake", char_count=200)

    body = alice_client.get(f"/api/v1/audiobooks/{book.pk}/").json()

    assert book.pages_done == 0  # the job has not looked yet
    assert (body["status"], body["pages_done"], body["pages_total"]) == ("pending", 1, 3)
    assert body["seconds_left"] == 10

    Audiobook.objects.filter(pk=book.pk).update(
        status=Audiobook.Status.COMPLETED, pages_done=3, file_key="audiobooks/x.m4b"
    )
    body = alice_client.get(f"/api/v1/audiobooks/{book.pk}/").json()
    assert (body["pages_done"], body["pages_total"], body["seconds_left"]) == (3, 3, None)


def test_a_finished_book_is_made_again_only_once_its_pages_audio_changed(
    alice: User,
    alice_client: APIClient,
    document: Document,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    url = f"/api/v1/documents/{document.pk}/audiobook/"
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    while run(book, django_capture_on_commit_callbacks) is not Step.DONE:
        pass
    book.refresh_from_db()
    assert book.status == Audiobook.Status.COMPLETED
    assert len(book.source_fingerprint) == 64
    assert audiobooks.up_to_date_books(document=document, books=[book]) == {book.pk}

    # Nothing changed: the finished book is the answer.
    again = alice_client.post(url, {"voice": "fake:alpha"})
    assert again.status_code == 409
    assert again.json()["error"]["message"] == audiobooks.UP_TO_DATE
    assert alice_client.post(url, {"voice": "fake:beta"}).status_code == 202  # another voice

    # A page's audio is made again: the book no longer matches it.
    second = document.pages.get(number=2)
    old = Audio.objects.get(page=second, voice="fake:alpha")
    services.delete_audio(user=alice, audio=old)
    with django_capture_on_commit_callbacks(execute=True):
        services.create_audio_record(page=second, voice="fake:alpha", user=alice)
    assert audiobooks.up_to_date_books(document=document, books=[book]) == set()
    assert alice_client.post(url, {"voice": "fake:alpha"}).status_code == 202


def test_a_new_page_or_a_book_made_before_digests_were_kept_allows_another(
    alice: User, document: Document, django_capture_on_commit_callbacks: Capture
) -> None:
    from document_processing.tests.factories import PageFactory

    legacy = finished_book(document, voice="fake:beta")  # no digest: it cannot tell
    assert audiobooks.up_to_date_books(document=document, books=[legacy]) == set()
    book = start_audiobook(user=alice, document=document, voice="fake:alpha")
    while run(book, django_capture_on_commit_callbacks) is not Step.DONE:
        pass
    book.refresh_from_db()
    assert audiobooks.up_to_date_books(document=document, books=[book]) == {book.pk}

    PageFactory.create(document=document, number=4)

    assert audiobooks.up_to_date_books(document=document, books=[book]) == set()
    again = start_audiobook(user=alice, document=document, voice="fake:alpha")
    assert again.status == Audiobook.Status.PENDING
