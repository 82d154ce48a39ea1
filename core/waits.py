"""How long to wait, said the way a person would say it: "about 45 minutes", not "2700 seconds".

Rate-limited answers carry the exact number of seconds in `Retry-After` for programs; the
message beside it is for people.
"""

from __future__ import annotations

import math

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def wait_in_words(seconds: float) -> str:
    """A wait of `seconds`, rounded to what is worth saying: "a few seconds", "about 45
    seconds", "about a minute", "about 45 minutes", "about an hour", "about 3 hours", "about a
    day", "about 2 days"."""
    seconds = max(math.ceil(seconds), 1)
    if seconds < 10:
        return _("a few seconds")
    if seconds < 55:
        rounded = min(5 * math.ceil(seconds / 5), 55)
        return ngettext("about %(count)d second", "about %(count)d seconds", rounded) % {
            "count": rounded
        }
    if seconds < 90:
        return _("about a minute")
    minutes = round(seconds / MINUTE)
    if minutes < 55:
        return ngettext("about %(count)d minute", "about %(count)d minutes", minutes) % {
            "count": minutes
        }
    if seconds < 90 * MINUTE:
        return _("about an hour")
    hours = round(seconds / HOUR)
    if hours < 22:
        return ngettext("about %(count)d hour", "about %(count)d hours", hours) % {"count": hours}
    if seconds < 36 * HOUR:
        return _("about a day")
    days = round(seconds / DAY)
    return ngettext("about %(count)d day", "about %(count)d days", days) % {"count": days}


def rate_limited_message(seconds: float | None) -> str:
    """What a person reads when they asked too often: the wait in words when it is known."""
    if seconds is None:
        return _("Too many requests. Please wait and try again.")
    return _("Too many requests. Try again in %(wait)s.") % {"wait": wait_in_words(seconds)}
