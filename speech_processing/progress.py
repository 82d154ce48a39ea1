"""Listening progress: the page and the position each person has reached in each document.

The reader saves it while someone listens (beside the per-audio position that `/played/`
keeps); any device then resumes from it, and the library offers the latest ones to continue.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from core.compiled import CompiledQuery
from core.exceptions import ValidationError
from document_processing.models import Document, Page
from sharing.policy import Action, require, visible_documents
from speech_processing import voices
from speech_processing.models import Audio, ListeningProgress
from users.models import User

CONTINUE_LISTENING = 3
CONTINUE_LISTENING_FIELDS = (
    "document__title", "document__page_count", "page__number", "audio", "voice",
    "position_seconds", "saved_at", "updated_at",
)  # fmt: skip


def progress_of(*, user: User, document: Document) -> ListeningProgress | None:
    """The user's progress in a document they may see (None until they have listened)."""
    require(user, Action.VIEW, document)
    return _PROGRESS.first(user_id=user.pk, document_id=document.pk)


# Asked by every reader as it opens and by the player as it resumes: compiled once
# (core.compiled), with only the page's number.
_PROGRESS = CompiledQuery(
    lambda user_id, document_id: (
        ListeningProgress.objects.filter(user_id=user_id, document_id=document_id)
        .select_related("page")
        .only(*(field.name for field in ListeningProgress._meta.concrete_fields), "page__number")
    ),
    user_id=int,
    document_id=int,
)


def place_on_page(*, user: User, page: Page) -> ListeningProgress | None:
    """The user's progress in the page's document when it is on this page (a page they may
    see: the caller checked)."""
    return (
        ListeningProgress.objects.filter(user=user, document_id=page.document_id, page=page)
        .only("audio", "position_seconds", "updated_at")
        .first()
    )


def save_progress(
    *,
    user: User,
    document: Document,
    page_id: int,
    position_seconds: float = 0.0,
    audio_id: int | None = None,
    voice: str | None = None,
    device: str = "",
    saved_at: datetime | None = None,
) -> ListeningProgress:
    """Remember that the user is at `position_seconds` of `audio_id` on page `page_id`.

    The page must be the document's and the audio the page's (and not deleted); the voice is the
    audio's when an audio is named. The position is kept within the audio.

    A save that names its `device` and when it was made there (`saved_at`, by the device's clock)
    is ignored when the same device already saved a later one: saves reach the server out of
    order (the one sent as a page is left often arrives after the next page's first). Between
    devices the last save to arrive wins. The stored progress is returned either way.
    """
    require(user, Action.VIEW, document)
    page = Page.objects.filter(pk=page_id, document=document).first()
    if page is None:
        message = _("This page is not part of the document.")
        raise ValidationError(message, fields={"page": [message]})
    audio = None
    if audio_id is not None:
        audio = (
            Audio.objects.filter(pk=audio_id, page=page, lifetime_status=Audio.Lifetime.ACTIVE)
            .only("pk", "voice", "duration_seconds")
            .first()
        )
        if audio is None:
            message = _("This audio is not one of the page's.")
            raise ValidationError(message, fields={"audio": [message]})
    elif voice:
        voices.resolve_voice(voice)  # a 400 naming the field when unknown
    position = max(position_seconds, 0.0)
    if audio is not None and audio.duration_seconds is not None:
        position = min(position, audio.duration_seconds)
    now = timezone.now()
    ordered = bool(device) and saved_at is not None
    # A clock running ahead would hold back the device's next saves: never later than now.
    when = min(saved_at, now) if ordered and saved_at is not None else now
    values = {
        "page": page,
        "audio": audio,
        "voice": audio.voice if audio is not None else (voice or ""),
        "position_seconds": round(position, 3),
        "device": device if ordered else "",
        "saved_at": when,
    }
    mine = ListeningProgress.objects.filter(user=user, document=document)
    # What this save may replace: anything but a later save of the same device.
    replaceable = mine.exclude(device=device, saved_at__gte=when) if ordered else mine
    with transaction.atomic():
        # One conditional UPDATE, so that a later save stored meanwhile stays.
        if not replaceable.update(**values, updated_at=now):
            if mine.exists():
                return mine.select_related("page").get()  # a later save of this device stays
            try:
                with transaction.atomic():
                    return ListeningProgress.objects.create(user=user, document=document, **values)
            except IntegrityError:
                # Two devices saved the first progress at once: the other insert won.
                replaceable.update(**values, updated_at=now)
        return mine.select_related("page").get()


def continue_listening(*, user: User, limit: int = CONTINUE_LISTENING) -> list[ListeningProgress]:
    """The documents the user listened to most recently and has not finished (the end of the
    last page's audio), among those they may still see; one query. Each holds what the library
    shows (CONTINUE_LISTENING_FIELDS); another field costs a query when read."""
    return _CONTINUE.slice(0, limit, user_id=user.pk)


def _recent_places(user_id: int) -> QuerySet[ListeningProgress]:
    finished = Q(
        page__number__gte=F("document__page_count"),
        audio__duration_seconds__isnull=False,
        position_seconds__gte=F("audio__duration_seconds") - 1,
    )
    user = User(pk=user_id)
    return (
        ListeningProgress.objects.filter(
            user=user, document__in=visible_documents(user).values("pk")
        )
        .exclude(finished)
        .select_related("document", "page")
        # What the library shows of each: not the page's text, nor the document's every column.
        .only(*CONTINUE_LISTENING_FIELDS)
        .order_by("-updated_at", "-id")
    )


# On every library page: compiling it cost ten times running it (core.compiled).
_CONTINUE = CompiledQuery(_recent_places, user_id=int)
