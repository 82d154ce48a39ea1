"""Addresses of objects by id, for hot paths: one `reverse()` per URL name, not one per object.

`reverse()` walks the URLconf each time it is called; for a list of rows, or for an endpoint
every player polls, it costs more than the string it makes. An id path converter writes an id as
its digits, so the address of any id is the address of a stand-in id with the digits replaced.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

# Any id stands in for the object's.
_STAND_IN = 9_876_543_210
_parts: dict[tuple[str, object, str], tuple[str, str]] = {}


def id_link(name: str) -> tuple[str, str]:
    """The address of the URL `name` (whose one argument is `pk`) in two parts, before and after
    the id: worked out once per process for each name, script prefix and URLconf."""
    key = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF, name)
    parts = _parts.get(key)
    if parts is None:
        before, stand_in, after = reverse(name, kwargs={"pk": _STAND_IN}).partition(str(_STAND_IN))
        if not stand_in:
            raise ValueError(f"{name!r} does not write its id as digits")
        parts = _parts[key] = (before, after)
    return parts


def id_address(name: str, pk: int) -> str:
    """`reverse(name, kwargs={"pk": pk})`, without walking the URLconf each time."""
    before, after = id_link(name)
    return f"{before}{pk}{after}"
