"""Reads for audio, limited by the access policy."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from core.compiled import CompiledQuery
from core.exceptions import NotFound
from document_processing.models import Document, Page
from sharing.policy import permitted
from speech_processing.models import Audio, Audiobook, PlaybackPosition
from speech_processing.synthesis import text_digest
from users.models import User

# Read by every player's poll, every stream and download: compiled once (core.compiled).
_AUDIO_DETAIL = CompiledQuery(
    lambda audio_id: Audio.objects.select_related("created_by", "page__document__owner").filter(
        pk=audio_id
    ),
    audio_id=int,
)


def audio_detail(*, user: User, audio_id: int) -> Audio:
    """An audio of a document the user may see (deleted and expired ones included)."""
    return _visible(user, _AUDIO_DETAIL.first(audio_id=audio_id))


# What the status answer (AudioSerializer) and the access check read: not the timings (a made
# audio's can run to hundreds of kilobytes of JSON), nor the document's or creator's other columns.
_STATUS_FIELDS = (
    "page", "voice", "engine", "status", "lifetime_status", "error_message", "duration_seconds",
    "size_bytes", "created_by__email", "created_at", "last_played_at", "expires_at",
    "text_digest", "page__text", "page__document__owner",
)  # fmt: skip
_AUDIO_STATUS = CompiledQuery(
    lambda audio_id: (
        Audio.objects.select_related("created_by", "page__document")
        .only(*_STATUS_FIELDS)
        .filter(pk=audio_id)
    ),
    audio_id=int,
)


def audio_status(*, user: User, audio_id: int) -> Audio:
    """What a player polls: an audio of a document the user may see, read lean, in one query
    (and one share lookup for anyone but the owner)."""
    return _visible(user, _AUDIO_STATUS.first(audio_id=audio_id))


def audio_to_follow(*, user: User, audio_id: int) -> Audio:
    """What a listener following an audio as it is made needs of it, read lean (a listener
    asks about once a second): its state and parts, and its document for the access check."""
    audio = (
        Audio.objects.select_related("page__document")
        .only(
            "status", "lifetime_status", "attempts", "stream_parts", "file_key",
            "page__document__owner_id",
        )
        .filter(pk=audio_id)
        .first()
    )  # fmt: skip
    return _visible(user, audio)


def _visible(user: User, audio: Audio | None) -> Audio:
    """The audio, if the user may see its document (which then carries the caller's permission
    for later checks), else NotFound."""
    if audio is None or permitted(user, audio.page.document) is None:
        raise NotFound(_("Audio not found."))
    return audio


def is_outdated(audio: Audio, *, page_text: str) -> bool:
    """Made from another text than the page has now: its words and timings no longer match.

    Only a made audio knows what it said (an audio still being made speaks the page as it is
    when its synthesis starts); one made before digests were kept cannot tell.
    """
    return (
        audio.status == Audio.Status.COMPLETED
        and bool(audio.text_digest)
        and audio.text_digest != text_digest(page_text)
    )


def page_audios(*, page: Page) -> QuerySet[Audio]:
    return (
        Audio.objects.filter(page=page)
        .select_related("created_by", "page")
        .order_by("-created_at", "-id")
    )


def playback_positions(*, user: User, audios: Iterable[Audio]) -> QuerySet[PlaybackPosition]:
    """Where the user stopped in each of these audios, the most recently listened first."""
    return (
        PlaybackPosition.objects.filter(user=user, audio__in=[audio.pk for audio in audios])
        .only("audio_id", "position_seconds", "updated_at")
        .order_by("-updated_at", "-id")
    )


def audio_counts_by_page(*, document: Document) -> dict[int, dict[str, int]]:
    """For each page of a document (already checked by the policy): its active audios by status."""
    rows = (
        Audio.objects.filter(page__document=document, lifetime_status=Audio.Lifetime.ACTIVE)
        .order_by()
        .values("page_id", "status")
        .annotate(count=Count("id"))
    )
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["page_id"], {})[row["status"]] = row["count"]
    return counts


def recent_audiobooks(*, document: Document, limit: int = 3) -> list[Audiobook]:
    """The document's latest audiobooks (the caller's access to it already checked)."""
    return list(Audiobook.objects.filter(document=document).order_by("-created_at", "-id")[:limit])
