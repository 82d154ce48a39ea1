"""Listening to a whole document: the playlist of its pages in one voice, and making the
audio it is missing.

The playlist says, page by page in reading order, which audio a client plays (made, or being
made so it can be streamed) or why there is none. Missing audio is asked for in one request
for several pages; each page goes through `services.create_audio_record`, as a single
"Generate" does (the same policy, quota, reuse of identical audio, outdated audio replaced),
in its own transaction, so that one page's refusal leaves the others made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils.translation import gettext as _

from core.compiled import CompiledQuery
from core.exceptions import Conflict, PermissionDenied, QuotaExceeded, ValidationError
from document_processing.contents import to_listen
from document_processing.models import Document, Page
from operations.site_settings import site_settings
from sharing.audit import ClientInfo, record
from sharing.models import AccessLog
from sharing.policy import Action, can
from speech_processing import services, voices
from speech_processing.models import Audio
from speech_processing.selectors import is_outdated
from speech_processing.text import has_speakable_text, normalize_for_speech
from users.models import User


class Reason(StrEnum):
    """Why a page of the playlist has no audio."""

    NO_TEXT = "no_text"  # nothing on the page can be spoken
    NOT_PERMITTED = "not_permitted"  # the caller may not generate (view only)
    QUOTA_EXCEEDED = "quota_exceeded"  # the caller may generate, the page's quota is used up
    NOT_MADE = "not_made"  # it could be made; nobody asked yet
    # A table of contents, passed over when listening (unless asked for, or started from).
    SKIPPED_CONTENTS = "skipped_contents"


class Outcome(StrEnum):
    """What asking for a page's audio did."""

    CREATED = "created"  # being made now
    EXISTS = "exists"  # an up-to-date audio of that voice is made or being made
    REUSED = "reused"  # an identical audio's file was shared: complete at once, no quota
    REPLACED = "replaced"  # the page's outdated audio was removed and a new one is being made
    NOT_PERMITTED = "not_permitted"
    QUOTA_EXCEEDED = "quota_exceeded"
    NO_TEXT = "no_text"


@dataclass(frozen=True)
class PlaylistEntry:
    page: Page
    audio: Audio | None
    reason: Reason | None


@dataclass(frozen=True)
class PageResult:
    page: int
    outcome: Outcome
    audio: Audio | None


def playlist(
    *,
    user: User,
    document: Document,
    voice: str,
    from_page: int | None = None,
    include_contents: bool = False,
) -> list[PlaylistEntry]:
    """The document's pages from `from_page` on, each with its playable audio in `voice`.

    A table of contents is passed over (`skipped_contents`, no audio) unless
    `include_contents`, or it is the page listening starts from: a person who presses play
    on it means to hear it. `document` comes from the access policy (it carries the caller's
    permission). A fixed number of queries, whatever the number of pages.
    """
    voices.resolve_voice(voice)
    first = 0
    if from_page is not None:
        start = _START.first(document_id=document.pk, page_id=from_page)
        if start is None:
            message = _("This page is not part of the document.")
            raise ValidationError(message, fields={"from_page": [message]})
        first = start.number
    rows = _PAGES.all(document_id=document.pk, first=first)
    found = _by_page(rows, _PLAYABLE.all(document_id=document.pk, first=first, voice=voice))
    may_generate = can(user, Action.GENERATE_AUDIO, document)
    used: dict[int, int] = {}
    if may_generate:
        used = {
            row["page_id"]: row["used"] for row in _USED.all(document_id=document.pk, first=first)
        }
    limit = site_settings().max_audios_per_page
    entries = []
    for page in rows:
        if page.is_contents and not include_contents and page.pk != from_page:
            entries.append(PlaylistEntry(page=page, audio=None, reason=Reason.SKIPPED_CONTENTS))
            continue
        audio = found.get(page.pk)
        reason = None
        if audio is None:
            reason = _reason(page, may_generate=may_generate, full=used.get(page.pk, 0) >= limit)
        entries.append(PlaylistEntry(page=page, audio=audio, reason=reason))
    return entries


# A player asks for the playlist as it starts and again as it moves on: its queries are compiled
# once (core.compiled), each for the pages from number `first` on (0: all of them).
_START = CompiledQuery(
    lambda document_id, page_id: Page.objects.filter(document_id=document_id, pk=page_id).only(
        "number"
    ),
    document_id=int,
    page_id=int,
)
_PAGES = CompiledQuery(
    lambda document_id, first: (
        Page.objects.filter(document_id=document_id, number__gte=first)
        .order_by("number")
        .only("id", "number", "title", "text", "is_contents", "document_id")
    ),
    document_id=int,
    first=int,
)
_PLAYABLE = CompiledQuery(
    lambda document_id, first, voice: (
        _live(voice).filter(page__document_id=document_id, page__number__gte=first).defer("timings")
    ),
    document_id=int,
    first=int,
    voice=str,
)
_USED = CompiledQuery(
    lambda document_id, first: (
        services.counted()
        .filter(page__document_id=document_id, page__number__gte=first)
        .order_by()
        .values("page_id")
        .annotate(used=Count("id"))
    ),
    document_id=int,
    first=int,
)


def _reason(page: Page, *, may_generate: bool, full: bool) -> Reason:
    if not speakable(page.text):
        return Reason.NO_TEXT
    if not may_generate:
        return Reason.NOT_PERMITTED
    if full:
        return Reason.QUOTA_EXCEEDED
    return Reason.NOT_MADE


def speakable(text: str) -> bool:
    """Whether the page has something to say, as generating decides it.

    Normalising a long page takes milliseconds; its first words usually answer already
    (cut at a space, so no word or address is split), and only a page whose start says nothing
    is normalised whole.
    """
    head = text[:_HEAD]
    cut = max(head.rfind(" "), head.rfind("\n"))
    if len(text) > _HEAD and cut > 0:
        head = head[:cut]
    return has_speakable_text(normalize_for_speech(head)) or (
        len(head) < len(text) and has_speakable_text(normalize_for_speech(text))
    )


_HEAD = 1000


def _live(voice: str) -> QuerySet[Audio]:
    """The active audio of `voice` that is made or being made (one per page at most)."""
    return Audio.objects.filter(
        voice=voice, lifetime_status=Audio.Lifetime.ACTIVE, status__in=Audio.LIVE_STATUSES
    ).select_related("created_by")


def _by_page(pages: list[Page], audios: Iterable[Audio]) -> dict[int, Audio]:
    """`audios` by their page's id, each given its page (already loaded: no query per row)."""
    by_id = {page.pk: page for page in pages}
    found = {}
    for audio in audios:
        audio.page = by_id[audio.page_id]
        found[audio.page_id] = audio
    return found


def _playable(*, pages: list[Page], voice: str) -> dict[int, Audio]:
    """Each of these pages' active audio of `voice` that is made or being made."""
    return _by_page(pages, _live(voice).filter(page_id__in=[page.pk for page in pages]))


def make_document_audio(
    *,
    user: User,
    document: Document,
    voice: str,
    pages: list[int] | Literal["all"],
    client: ClientInfo | None = None,
) -> list[PageResult]:
    """Ask for the audio of several pages of a document in one voice; a result per page.

    `document` comes from the access policy. Page ids of other documents are a 400 before
    anything is made. A caller who may only view gets `not_permitted` (or `exists`) for each
    page, the same answers the playlist gives them, rather than a 403 for the whole request.
    Each page made is a "generate" entry in the document's activity, as a single Generate is.
    """
    rows = _requested_pages(document=document, pages=pages)
    voice = voices.resolve_voice(voice).id
    may_generate = can(user, Action.GENERATE_AUDIO, document)
    if may_generate:
        services.require_generation_on()
    else:
        record(user=user, action=AccessLog.Action.GENERATE, outcome=AccessLog.Outcome.DENIED,
               document=document, client=client)  # fmt: skip
    existing = _playable(pages=rows, voice=voice)
    results = []
    for page in rows:
        current = existing.get(page.pk)
        if current is not None and not (may_generate and is_outdated(current, page_text=page.text)):
            results.append(PageResult(page=page.pk, outcome=Outcome.EXISTS, audio=current))
        elif not may_generate:
            no_text = not speakable(page.text)
            outcome = Outcome.NO_TEXT if no_text else Outcome.NOT_PERMITTED
            results.append(PageResult(page=page.pk, outcome=outcome, audio=None))
        else:
            results.append(_make(page=page, voice=voice, user=user, client=client))
    return results


def _requested_pages(*, document: Document, pages: list[int] | Literal["all"]) -> list[Page]:
    found = Page.objects.filter(document=document).order_by("number")
    if pages != "all":
        found = found.filter(pk__in=pages)
    rows = list(found)
    if pages != "all" and len(rows) != len(set(pages)):
        message = _("Some of these pages are not part of the document.")
        raise ValidationError(message, fields={"pages": [message]})
    if pages == "all":
        rows = to_listen(rows)  # every page a listener hears: contents pages passed over
    for page in rows:
        page.document = document  # carries the caller's permission: no query per page
    return rows


def _make(*, page: Page, voice: str, user: User, client: ClientInfo | None) -> PageResult:
    document = page.document
    try:
        with transaction.atomic():
            audio = services.create_audio_record(page=page, voice=voice, user=user)
    except Conflict:
        # Made meanwhile by another request.
        existing = _playable(pages=[page], voice=voice).get(page.pk)
        return PageResult(page=page.pk, outcome=Outcome.EXISTS, audio=existing)
    except PermissionDenied:
        record(user=user, action=AccessLog.Action.GENERATE, outcome=AccessLog.Outcome.DENIED,
               document=document, client=client)  # fmt: skip
        return PageResult(page=page.pk, outcome=Outcome.NOT_PERMITTED, audio=None)
    except (QuotaExceeded, ValidationError) as exc:
        record(user=user, action=AccessLog.Action.GENERATE, outcome=AccessLog.Outcome.FAILED,
               document=document, client=client)  # fmt: skip
        outcome = Outcome.QUOTA_EXCEEDED if isinstance(exc, QuotaExceeded) else Outcome.NO_TEXT
        return PageResult(page=page.pk, outcome=outcome, audio=None)
    record(user=user, action=AccessLog.Action.GENERATE, document=document, audio_id=audio.pk,
           client=client)  # fmt: skip
    audio.page = page  # (a reused audio was reloaded, which forgets its page)
    if audio.replaces_id is not None:
        outcome = Outcome.REPLACED
    elif audio.reused:
        outcome = Outcome.REUSED
    else:
        outcome = Outcome.CREATED
    return PageResult(page=page.pk, outcome=outcome, audio=audio)
