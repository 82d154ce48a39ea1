from __future__ import annotations

from django.core.files.storage import default_storage

STORED = "originals"


def stored_originals() -> set[str]:
    """Every original in storage right now."""
    if not default_storage.exists(STORED):
        return set()
    return set(default_storage.listdir(STORED)[1])
