"""What the document page says about audio being made for the whole document and about its
audiobooks: the words are written once here, for the page the server renders and for the
page's script (static/js/progress.js), which fills in the same templates as the work goes on."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from speech_processing.audio_progress import AudioProgress
from speech_processing.models import Audiobook
from speech_processing.playlist import Outcome, PageResult


def strings() -> dict[str, str]:
    """The templates, with %(name)s placeholders, in the person's language."""
    return {
        "running": _("%(done)s of %(total)s pages made"),
        "timeLeft": _("about %(time)s left"),
        "estimating": _("estimating the time left"),
        "seconds": _("%(seconds)s s"),
        "minutes": _("%(minutes)s min"),
        "hours": _("%(hours)s h %(minutes)s min"),
        "nothingYet": _("No page has audio in this voice yet."),
        "everyPage": _("Every page has audio in this voice."),
        "somePages": _("%(done)s of %(total)s pages have audio in this voice."),
        "failed": _("Pages whose audio failed: %(failed)s."),
        "joining": _("Every page is made; joining them into one file."),
        "started": _("Making the audio of every page."),
        "finished": _("The audio of every page is made."),
        "bookFinished": _("The audiobook is ready."),
        "bookFailed": _("The audiobook could not be made."),
    }


def time_left(seconds: int | None) -> str:
    if seconds is None:
        return strings()["estimating"]
    words = strings()
    if seconds < 60:
        amount = words["seconds"] % {"seconds": seconds}
    elif seconds < 3600:
        amount = words["minutes"] % {"minutes": math.ceil(seconds / 60)}
    else:
        hours, rest = divmod(seconds, 3600)
        amount = words["hours"] % {"hours": hours, "minutes": math.ceil(rest / 60)}
    return words["timeLeft"] % {"time": amount}


def progress_label(progress: AudioProgress) -> str:
    """While audio is made, "3 of 8 pages made · about 40 s left"; after, what there is."""
    words = strings()
    numbers = {"done": progress.pages_done, "total": progress.pages_total}
    if not progress.finished:
        return f"{words['running'] % numbers} · {time_left(progress.seconds_left)}"
    if progress.pages_done == 0 and progress.pages_failed == 0:
        return words["nothingYet"]
    said = (
        words["everyPage"]
        if progress.pages_done == progress.pages_total
        else words["somePages"] % numbers
    )
    if progress.pages_failed:
        said += " " + words["failed"] % {"failed": progress.pages_failed}
    return said


def book_label(progress: AudioProgress) -> str:
    """A book being made: its pages made of all and the time left, then the joining."""
    words = strings()
    if progress.pages_done >= progress.pages_total:
        return words["joining"]
    numbers = {"done": progress.pages_done, "total": progress.pages_total}
    # Pages the job has not asked for yet are not being made: nothing to measure them by.
    seconds = None if progress.finished else progress.seconds_left
    return f"{words['running'] % numbers} · {time_left(seconds)}"


def outcome_message(results: Iterable[PageResult]) -> str:
    """What "Make audio for every page" did, in a sentence or two."""
    counts = Counter(result.outcome for result in results)
    queued = counts[Outcome.CREATED] + counts[Outcome.REPLACED]
    parts = []
    if queued:
        parts.append(
            ngettext(
                "The audio of %(count)d page is being made.",
                "The audio of %(count)d pages is being made.",
                queued,
            )
            % {"count": queued}
        )
    made = counts[Outcome.EXISTS] + counts[Outcome.REUSED]
    if made:
        parts.append(
            ngettext(
                "%(count)d page already had audio in this voice.",
                "%(count)d pages already had audio in this voice.",
                made,
            )
            % {"count": made}
        )
    if counts[Outcome.QUOTA_EXCEEDED]:
        parts.append(
            ngettext(
                "%(count)d page has no audio left in its quota.",
                "%(count)d pages have no audio left in their quota.",
                counts[Outcome.QUOTA_EXCEEDED],
            )
            % {"count": counts[Outcome.QUOTA_EXCEEDED]}
        )
    if counts[Outcome.NO_TEXT]:
        parts.append(
            ngettext(
                "%(count)d page has nothing to read aloud.",
                "%(count)d pages have nothing to read aloud.",
                counts[Outcome.NO_TEXT],
            )
            % {"count": counts[Outcome.NO_TEXT]}
        )
    return " ".join(parts) or _("This document has no pages to read yet.")


@dataclass(frozen=True)
class BookRow:
    """An audiobook as the document page shows it."""

    book: Audiobook
    filename: str  # what the download is saved as
    up_to_date: bool  # finished, and made from the pages' audio as it is now
    may_remake: bool  # finished, its pages' audio changed since, and nothing newer in its voice
    progress: AudioProgress | None  # while it is made

    @property
    def in_progress(self) -> bool:
        return self.book.status in (Audiobook.Status.PENDING, Audiobook.Status.GENERATING)

    @property
    def pages_done(self) -> int:
        return self.progress.pages_done if self.progress else self.book.pages_done

    @property
    def pages_total(self) -> int:
        return self.progress.pages_total if self.progress else self.book.pages_total

    @property
    def label(self) -> str:
        if self.progress is not None:
            return book_label(self.progress)
        return strings()["running"] % {"done": self.pages_done, "total": self.pages_total}
