"""How far the audio of a whole document in one voice has got: pages made of all, and the time
left to make the rest.

Read by the document page, by its progress endpoint and for an audiobook being made. A fixed
number of small queries whatever the number of pages: the page count, one row per audio of the
voice on the document, and (only until a page of the current work is made) the voice's recent
synthesis speed, found through the index on status and start time.

The time left comes from what was measured, never from a guess about the machine:

- once pages queued in this round are made, from the characters made per second of wall time
  since the round began (however many workers share the work);
- before that, from the voice's recent synthesis speed (characters a second of one worker),
  shared among the pages being made at this moment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import itemgetter

from django.utils import timezone

from document_processing.contents import to_listen
from document_processing.models import Document, Page
from speech_processing import voices
from speech_processing.models import Audio

# How far back the voice's synthesis speed is looked for, and over how many audios.
SPEED_WINDOW = timedelta(hours=6)
SPEED_SAMPLE = 20


@dataclass(frozen=True)
class AudioProgress:
    voice: str
    pages_total: int
    pages_done: int  # its audio in the voice is made
    pages_in_progress: int  # pending or being made
    pages_failed: int  # its latest attempt failed and nothing else is on its way
    seconds_left: int | None  # None while there is nothing measured to estimate from

    @property
    def pages_without_audio(self) -> int:
        """Pages nobody asked audio for: not asked yet, nothing to read, or no quota left."""
        accounted = self.pages_done + self.pages_in_progress + self.pages_failed
        return max(self.pages_total - accounted, 0)

    @property
    def finished(self) -> bool:
        """Nothing is being made (whether or not every page has audio)."""
        return self.pages_in_progress == 0


@dataclass(frozen=True)
class _Row:
    status: str
    chars: int
    reused: bool
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def weight(self) -> int:
        # Work is counted in characters; a row that does not know its length counts as one.
        return max(self.chars, 1)


_RANK: dict[str, int] = {
    Audio.Status.COMPLETED: 3,
    Audio.Status.GENERATING: 2,
    Audio.Status.PENDING: 2,
    Audio.Status.FAILED: 1,
}


def audio_progress(*, document: Document, voice: str, now: datetime | None = None) -> AudioProgress:
    """The document's pages with audio in `voice`: made, being made, failed; and the time left.

    `document` comes from the access policy. An unknown voice is a 400 (ValidationError).
    """
    voice = voices.resolve_voice(voice).id
    now = now or timezone.now()
    # Pages with nothing on them never get audio: they are not counted as waiting for it; nor
    # are contents pages, which listening to the whole document passes over.
    listened = {
        page_id
        for page_id, _contents in to_listen(
            Page.objects.filter(document=document, char_count__gt=0).values_list(
                "pk", "is_contents"
            ),
            is_contents=itemgetter(1),
        )
    }
    total = len(listened)
    rows = Audio.objects.filter(
        page__document=document, voice=voice, lifetime_status=Audio.Lifetime.ACTIVE
    ).values_list(
        "page_id", "status", "char_count", "reused", "created_at", "started_at", "completed_at"
    )
    by_page: dict[int, _Row] = {}
    completed: list[_Row] = []
    for page_id, status, chars, reused, created_at, started_at, completed_at in rows:
        if page_id not in listened:
            continue
        row = _Row(status, chars, reused, created_at, started_at, completed_at)
        if row.status == Audio.Status.COMPLETED:
            completed.append(row)
        # At most one audio a page is made or being made (a constraint); failed attempts count
        # only when nothing else is there.
        held = by_page.get(page_id)
        if held is None or _RANK[row.status] > _RANK[held.status]:
            by_page[page_id] = row
    statuses = [row.status for row in by_page.values()]
    in_progress = [
        row
        for row in by_page.values()
        if row.status in (Audio.Status.PENDING, Audio.Status.GENERATING)
    ]
    return AudioProgress(
        voice=voice,
        pages_total=total,
        pages_done=statuses.count(Audio.Status.COMPLETED),
        pages_in_progress=len(in_progress),
        pages_failed=statuses.count(Audio.Status.FAILED),
        seconds_left=_seconds_left(
            in_progress=in_progress, completed=completed, voice=voice, now=now
        ),
    )


def _seconds_left(
    *, in_progress: list[_Row], completed: list[_Row], voice: str, now: datetime
) -> int | None:
    if not in_progress:
        return 0
    remaining = sum(row.weight for row in in_progress)
    began = min(row.created_at for row in in_progress)
    made = [
        row
        for row in completed
        if not row.reused and row.completed_at is not None and row.completed_at >= began
    ]
    elapsed = (now - began).total_seconds()
    if made and elapsed > 0:
        per_second = sum(row.weight for row in made) / elapsed
        return _whole(remaining / per_second)
    speed = _recent_speed(voice=voice, now=now)
    if speed is None:
        return None
    working = max(1, sum(1 for row in in_progress if row.status == Audio.Status.GENERATING))
    return _whole(remaining / speed / working)


def _recent_speed(*, voice: str, now: datetime) -> float | None:
    """Characters a second that one synthesis of `voice` made lately, or None if none was."""
    rows = (
        Audio.objects.filter(
            status=Audio.Status.COMPLETED,
            started_at__gte=now - SPEED_WINDOW,
            voice=voice,
            reused=False,
            completed_at__isnull=False,
            char_count__gt=0,
        )
        .order_by("-started_at")
        .values_list("char_count", "started_at", "completed_at")[:SPEED_SAMPLE]
    )
    chars = 0
    seconds = 0.0
    for count, started, completed in rows:
        if started is None or completed is None:
            continue
        chars += count
        seconds += max((completed - started).total_seconds(), 0.0)
    if chars == 0 or seconds <= 0:
        return None
    return chars / seconds


def _whole(seconds: float) -> int:
    # Something is still being made: never "0 s left".
    return max(1, math.ceil(seconds))
