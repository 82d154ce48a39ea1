"""Whole-document audiobooks: every page's audio in one voice, joined into one M4B.

The job is a short step run again and again (`advance_audiobook`, queued by the task until it
says it is done): each step asks for the audio of every page that has none in the book's voice
(as `create_audio_record` does for anyone: the person's permission and each page's quota apply,
and an identical audio they may see is reused), and once every page's audio is made, writes the
book. Nothing is held between steps but rows, so a step that dies is simply run again: pages
already made are used as they are, and each page's audio is made by its own task, on any worker.

The book names the person who asked for it; they must still be allowed to make audio for the
document at every step.

A finished book keeps a digest of the audio it was made from; the same book is made again only
once the pages' audio in its voice has changed (a page regenerated, added or removed).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import tempfile
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from operator import itemgetter
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.exceptions import (
    AlreadyExists,
    ApplicationError,
    Conflict,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
    ValidationError,
)
from core.queueing import enqueue_on_commit
from core.security_utils import log_exception_safely, new_error_id
from document_processing.contents import to_listen
from document_processing.models import Document, Page
from document_processing.services import delete_stored_files, stored_cover
from document_processing.utils import sanitize_filename
from sharing.policy import Action, permitted, require
from speech_processing import m4b, services, voices
from speech_processing.audio_progress import AudioProgress, audio_progress
from speech_processing.models import Audio, Audiobook
from users.models import User

logger = logging.getLogger(__name__)

NO_PAGES = _("This document has no pages to read yet.")
GONE = _("The person who asked for this audiobook may no longer make audio for the document.")
UP_TO_DATE = _(
    "The audiobook in this voice is up to date: the pages' audio has not changed since it was "
    "made. Download it instead."
)


class Step(enum.Enum):
    WAITING = "waiting"  # pages are still being made: run again a little later
    DONE = "done"  # completed or failed: nothing more to do


def start_audiobook(*, user: User, document: Document, voice: str) -> Audiobook:
    """Queue the making of `document` as one audiobook in `voice` (409 if one is on its way)."""
    require(user, Action.GENERATE_AUDIO, document)
    chosen = voices.resolve_voice(voice)
    if document.status != Document.Status.COMPLETED or not document.pages.exists():
        raise Conflict(NO_PAGES)
    if up_to_date_books(document=document, books=[_latest_finished(document, chosen.id)]):
        raise AlreadyExists(UP_TO_DATE)
    try:
        with transaction.atomic():
            book = Audiobook.objects.create(
                document=document,
                voice=chosen.id,
                created_by=user,
                pages_total=document.pages.count(),
            )
            enqueue_on_commit("speech_processing.tasks.make_audiobook_task", book.pk)
    except IntegrityError as exc:
        raise AlreadyExists(_("An audiobook in this voice is already being made.")) from exc
    return book


def _latest_finished(document: Document, voice: str) -> Audiobook | None:
    return (
        Audiobook.objects.filter(document=document, voice=voice, status=Audiobook.Status.COMPLETED)
        .exclude(file_key="")
        .order_by("-completed_at", "-id")
        .first()
    )


# --- What a book was made from ------------------------------------------------------------------

Source = tuple[int, int | None, str]  # (page id, audio id, stored file of that audio)


def sources_fingerprint(sources: Iterable[Source]) -> str:
    """A digest of the pages in reading order with the audio of each."""
    payload = json.dumps([list(source) for source in sources], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def current_fingerprints(*, document: Document, voices: Iterable[str]) -> dict[str, str]:
    """For each voice, the digest a book made now would have: every page with its audio in that
    voice that is made or being made (two queries for any number of voices and pages)."""
    wanted = sorted(set(voices))
    if not wanted:
        return {}
    pages = [
        page_id
        for page_id, _contents in to_listen(
            Page.objects.filter(document=document)
            .order_by("number")
            .values_list("pk", "is_contents"),
            is_contents=itemgetter(1),
        )
    ]
    audio: dict[tuple[str, int], tuple[int, str]] = {}
    rows = Audio.objects.filter(
        page__document=document,
        voice__in=wanted,
        lifetime_status=Audio.Lifetime.ACTIVE,
        status__in=Audio.LIVE_STATUSES,
    ).values_list("voice", "page_id", "pk", "file_key")
    for voice, page_id, audio_id, file_key in rows:
        audio[(voice, page_id)] = (audio_id, file_key)
    return {
        voice: sources_fingerprint(
            (page_id, *audio.get((voice, page_id), (None, ""))) for page_id in pages
        )
        for voice in wanted
    }


def up_to_date_books(*, document: Document, books: Iterable[Audiobook | None]) -> set[int]:
    """The ids of those finished `books` (of `document`) made from the pages' current audio."""
    finished = [
        book
        for book in books
        if book is not None
        and book.status == Audiobook.Status.COMPLETED
        and book.file_key
        and book.source_fingerprint
    ]
    current = current_fingerprints(document=document, voices=[book.voice for book in finished])
    return {book.pk for book in finished if current.get(book.voice) == book.source_fingerprint}


def download_filename(title: str, *, voice: str | None = None) -> str:
    """The book's file name: the document's title (with the voice, when several are named),
    safe to store, to put in a ZIP and in a Content-Disposition header."""
    # A slash in a title is a separator of words, not of folders.
    stem = title.replace("/", "-").replace("\\", "-").strip()
    if voice:
        stem = f"{stem} ({voice.split(':')[-1]})"
    return sanitize_filename(f"{stem}.m4b", fallback="audiobook")


def live_progress(book: Audiobook) -> AudioProgress | None:
    """How far the pages of a book being made have got, read from their audio now (the job
    writes its own count only at each step); None once the book is finished or failed."""
    if book.status not in (Audiobook.Status.PENDING, Audiobook.Status.GENERATING):
        return None
    try:
        return audio_progress(document=book.document, voice=book.voice)
    except ValidationError:  # its voice is no longer offered: the job's own count stands
        return None


def audiobook_detail(*, user: User, audiobook_id: int) -> Audiobook:
    """An audiobook of a document the user may see."""
    book = Audiobook.objects.select_related("document__owner").filter(pk=audiobook_id).first()
    if book is None or permitted(user, book.document) is None:
        raise NotFound(_("Audiobook not found."))
    return book


def require_downloadable(*, user: User, book: Audiobook) -> Audiobook:
    require(user, Action.VIEW, book.document)
    if book.status != Audiobook.Status.COMPLETED:
        raise Conflict(_("This audiobook is not ready yet."))
    if not book.file_key:
        raise NotFound(_("This audiobook is no longer available."))
    return book


# --- The job ------------------------------------------------------------------------------------


def advance_audiobook(*, audiobook_id: int, redelivered: bool = False) -> Step:
    """One step of the job: ask for the pages' missing audio, or write the book once all exist."""
    claimable = Q(status=Audiobook.Status.PENDING)
    if redelivered:  # the worker that held it died: its claim is abandoned
        claimable |= Q(status=Audiobook.Status.GENERATING)
    claimed = Audiobook.objects.filter(claimable, pk=audiobook_id).update(
        status=Audiobook.Status.GENERATING, updated_at=timezone.now()
    )
    if not claimed:
        return Step.DONE  # another step holds it, or it is finished
    book = Audiobook.objects.select_related("document", "created_by").get(pk=audiobook_id)
    try:
        pages = _made_pages(book)
        if pages is None:
            _set(book, Audiobook.Status.PENDING)
            return Step.WAITING
        _write(book, pages)
    except BookFailed as failure:
        _fail(book, failure.message)
    except Exception as exc:
        error_id = new_error_id()
        log_exception_safely(exc, error_id=error_id, context=f"making audiobook {book.pk}")
        _fail(
            book,
            _("Something went wrong while making this audiobook (error %(id)s).")
            % {"id": error_id[:8]},
        )
    return Step.DONE


class BookFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _made_pages(book: Audiobook) -> list[tuple[Page, Audio]] | None:
    """Every page with its made audio, or None while some are still being made (those that
    have none are asked for now)."""
    user = book.created_by
    if user is None:
        raise BookFailed(GONE)
    try:
        require(user, Action.GENERATE_AUDIO, book.document)
    except ApplicationError as exc:
        raise BookFailed(GONE) from exc
    # A table of contents is kept for reading; the book, as listening, passes over it.
    pages = to_listen(Page.objects.filter(document=book.document).order_by("number"))
    if not pages:
        raise BookFailed(NO_PAGES)
    for page in pages:
        page.document = book.document  # with the permission already looked up
    latest = _latest_audio_by_page(book, pages)
    made: list[tuple[Page, Audio]] = []
    for page in pages:
        audio = latest.get(page.pk)
        if audio is not None and audio.status == Audio.Status.COMPLETED and audio.file_key:
            made.append((page, audio))
            continue
        if audio is not None and audio.status in (Audio.Status.PENDING, Audio.Status.GENERATING):
            continue
        if (
            audio is not None
            and audio.status == Audio.Status.FAILED
            and audio.created_at >= book.created_at  # asked for by this book, and it failed
        ):
            raise BookFailed(
                _("Page %(number)d could not be read aloud: %(reason)s")
                % {"number": page.number, "reason": audio.error_message}
            )
        made_now = _ask_for(page, user=user, voice=book.voice)
        if made_now is not None:
            made.append((page, made_now))
    Audiobook.objects.filter(pk=book.pk).update(pages_total=len(pages), pages_done=len(made))
    if len(made) == len(pages):
        return made
    if timezone.now() - book.created_at > patience():
        raise BookFailed(_("Making the pages' audio took too long. Please try again."))
    return None


def _latest_audio_by_page(book: Audiobook, pages: list[Page]) -> dict[int, Audio]:
    """The newest active audio in the book's voice of each page (one query)."""
    latest: dict[int, Audio] = {}
    rows = Audio.objects.filter(
        page__in=pages, voice=book.voice, lifetime_status=Audio.Lifetime.ACTIVE
    ).order_by("page_id", "-created_at", "-id")
    for audio in rows:
        latest.setdefault(audio.page_id, audio)
    return latest


def _ask_for(page: Page, *, user: User, voice: str) -> Audio | None:
    """Ask for the page's audio; the audio if it is made at once (an identical one reused)."""
    try:
        audio = services.create_audio_record(page=page, voice=voice, user=user)
    except QuotaExceeded as exc:
        raise BookFailed(
            _("Page %(number)d: %(reason)s") % {"number": page.number, "reason": exc.message}
        ) from exc
    except (Conflict, ServiceUnavailable):
        return None  # being made by someone else, or generation paused: look again later
    except ApplicationError as exc:
        raise BookFailed(
            _("Page %(number)d: %(reason)s") % {"number": page.number, "reason": exc.message}
        ) from exc
    return audio if audio.status == Audio.Status.COMPLETED else None


def _write(book: Audiobook, pages: list[tuple[Page, Audio]]) -> None:
    with tempfile.TemporaryDirectory(prefix="pagecast-audiobook-") as folder:
        chapters = []
        for page, audio in pages:
            local = Path(folder) / f"{page.number:05d}.mp3"
            with default_storage.open(audio.file_key, "rb") as stored, local.open("wb") as copy:
                for chunk in iter(lambda: stored.read(1024 * 1024), b""):
                    copy.write(chunk)
            title = page.title or _("Page %(number)d") % {"number": page.number}
            chapters.append(m4b.Chapter(title=title, mp3=local))
        target = Path(folder) / "book.m4b"
        try:
            marks = m4b.write_m4b(
                target,
                chapters,
                title=book.document.title,
                author=book.document.author,
                cover=_cover_of(book.document),
            )
        except m4b.M4BError as exc:
            logger.error("Audiobook %s could not be written: %s", book.pk, exc)
            raise BookFailed(_("The audiobook could not be written.")) from exc
        key = default_storage.generate_filename(f"audiobooks/{uuid.uuid4().hex}.m4b")
        with target.open("rb") as handle:
            stored_key = default_storage.save(key, File(handle))
        size = target.stat().st_size
    now = timezone.now()
    completed = Audiobook.objects.filter(pk=book.pk, status=Audiobook.Status.GENERATING).update(
        status=Audiobook.Status.COMPLETED,
        file_key=stored_key,
        size_bytes=size,
        duration_seconds=round(marks[-1].end, 3),
        chapters=[mark.as_dict() for mark in marks],
        pages_done=len(pages),
        pages_total=len(pages),
        completed_at=now,
        error_message="",
        source_fingerprint=sources_fingerprint(
            (page.pk, audio.pk, audio.file_key) for page, audio in pages
        ),
        updated_at=now,
    )
    if not completed:
        delete_stored_files(keys=[stored_key])


def _cover_of(document: Document) -> bytes:
    """The document's cover for the book's artwork; a book without one is still a book."""
    try:
        return stored_cover(document)
    except Exception:
        logger.warning("The cover of document %s could not be read; the book has none", document.pk)
        return b""


def _set(book: Audiobook, status: str) -> None:
    Audiobook.objects.filter(pk=book.pk, status=Audiobook.Status.GENERATING).update(
        status=status, updated_at=timezone.now()
    )


def _fail(book: Audiobook, message: str) -> None:
    Audiobook.objects.filter(pk=book.pk, status=Audiobook.Status.GENERATING).update(
        status=Audiobook.Status.FAILED, error_message=message, updated_at=timezone.now()
    )


def stored_files_of_document(document: Document) -> list[str]:
    return list(
        Audiobook.objects.filter(document=document)
        .exclude(file_key="")
        .values_list("file_key", flat=True)
    )


def stored_files_in_use(keys: Iterable[str]) -> set[str]:
    """Those of `keys` that an audiobook names as its file (STORED_FILE_IN_USE)."""
    wanted = [key for key in keys if key]
    if not wanted:
        return set()
    return set(Audiobook.objects.filter(file_key__in=wanted).values_list("file_key", flat=True))


# How long the job keeps looking for pages still being made (a page's audio gets the task
# time limit, and every retry of it).
def patience() -> timedelta:
    return timedelta(
        seconds=(settings.SPEECH_MAX_RETRIES + 1)
        * (settings.CELERY_TASK_TIME_LIMIT + settings.SPEECH_RETRY_CAP_SECONDS)
    )


def sweep_stuck_audiobooks(*, now: datetime | None = None) -> dict[str, int]:
    """Audiobooks whose next step was lost (a message gone with a broker) or whose worker died.

    A book waits between steps for seconds, so one left pending for STUCK_PENDING_SECONDS lost
    its message; one generating for longer than the hard time limit lost its worker and goes back
    to pending. Both are queued again; a step's claim makes a duplicate harmless.
    """
    now = now or timezone.now()
    running_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    abandoned = list(
        Audiobook.objects.filter(
            status=Audiobook.Status.GENERATING, updated_at__lt=running_before
        ).values_list("pk", flat=True)
    )
    Audiobook.objects.filter(pk__in=abandoned, status=Audiobook.Status.GENERATING).update(
        status=Audiobook.Status.PENDING, updated_at=now
    )
    waiting_before = now - timedelta(seconds=settings.STUCK_PENDING_SECONDS)
    waiting = list(
        Audiobook.objects.filter(
            status=Audiobook.Status.PENDING, updated_at__lt=waiting_before
        ).values_list("pk", flat=True)[:500]
    )
    for book_id in sorted({*abandoned, *waiting}):
        enqueue_on_commit("speech_processing.tasks.make_audiobook_task", book_id)
    return {"released": len(abandoned), "requeued": len({*abandoned, *waiting})}
