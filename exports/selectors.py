"""Reads about exports."""

from __future__ import annotations

from collections.abc import Iterable

from exports.models import Export


def stored_files_in_use(keys: Iterable[str]) -> set[str]:
    """Those of `keys` that an export names as its ZIP (STORED_FILE_IN_USE)."""
    wanted = [key for key in keys if key]
    if not wanted:
        return set()
    return set(Export.objects.filter(file_key__in=wanted).values_list("file_key", flat=True))
