"""Numbers and search terms from query strings and headers, read without surprises.

`int()` takes more than a URL or a header should carry: the digits of every script (Arabic-Indic
"٣", fullwidth, ...), characters that `str.isdigit()` calls digits but `int()` refuses ("²"),
signs, underscores and spaces; and it raises past 4,300 digits. Whole numbers from outside are
read here instead: ASCII digits of a bounded length, or nothing.
"""

from __future__ import annotations

# As many digits as the `id` URL converter takes: every id fits a 64-bit column.
ID_DIGITS = 18


def parse_digits(raw: str | None, *, max_digits: int = ID_DIGITS) -> int | None:
    """The whole number `raw` writes in 1 to `max_digits` ASCII digits; None for anything else."""
    if raw is None or not 0 < len(raw) <= max_digits:
        return None
    if not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def parse_id(raw: str | None) -> int | None:
    """A row id as URLs carry them (1 or more); None for anything else."""
    value = parse_digits(raw)
    return value if value else None


def search_term(raw: str | None, *, max_length: int) -> str:
    """What to search for: without NUL characters (PostgreSQL refuses them in text, and no stored
    text holds one), without surrounding space, and at most `max_length` characters."""
    return (raw or "").replace("\x00", "").strip()[:max_length]
