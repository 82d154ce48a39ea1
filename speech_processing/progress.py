"""Listening progress: the page and the position each person has reached in each document.

The reader saves it while someone listens (beside the per-audio position that `/played/`
keeps); any device then resumes from it, and the library offers the latest ones to continue.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils.translation import gettext as _

from core.exceptions import ValidationError
from document_processing.models import Document, Page
from sharing.policy import Action, require, visible_documents
from speech_processing import voices
from speech_processing.models import Audio, ListeningProgress
from users.models import User

CONTINUE_LISTENING = 3
CONTINUE_LISTENING_FIELDS = (
    "document__title", "document__page_count", "page__number", "audio", "voice",
    "position_seconds", "updated_at",
)  # fmt: skip


def progress_of(*, user: User, document: Document) -> ListeningProgress | None:
    """The user's progress in a document they may see (None until they have listened)."""
    require(user, Action.VIEW, document)
    return (
        ListeningProgress.objects.filter(user=user, document=document)
        .select_related("page")
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
) -> ListeningProgress:
    """Remember that the user is at `position_seconds` of `audio_id` on page `page_id`.

    The page must be the document's and the audio the page's (and not deleted); the voice is the
    audio's when an audio is named. The position is kept within the audio.
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
    values = {
        "page": page,
        "audio": audio,
        "voice": audio.voice if audio is not None else (voice or ""),
        "position_seconds": round(position, 3),
    }
    try:
        with transaction.atomic():
            progress, _created = ListeningProgress.objects.update_or_create(
                user=user, document=document, defaults=values
            )
    except IntegrityError:
        # Two devices saved the first progress at once: the other insert won; update it.
        progress, _created = ListeningProgress.objects.update_or_create(
            user=user, document=document, defaults=values
        )
    return progress


def continue_listening(*, user: User, limit: int = CONTINUE_LISTENING) -> list[ListeningProgress]:
    """The documents the user listened to most recently and has not finished (the end of the
    last page's audio), among those they may still see; one query. Each holds what the library
    shows (CONTINUE_LISTENING_FIELDS); another field costs a query when read."""
    finished = Q(
        page__number__gte=F("document__page_count"),
        audio__duration_seconds__isnull=False,
        position_seconds__gte=F("audio__duration_seconds") - 1,
    )
    return list(
        ListeningProgress.objects.filter(
            user=user, document__in=visible_documents(user).values("pk")
        )
        .exclude(finished)
        .select_related("document", "page")
        # What the library shows of each: not the page's text, nor the document's every column.
        .only(*CONTINUE_LISTENING_FIELDS)
        .order_by("-updated_at", "-id")[:limit]
    )
