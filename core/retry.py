"""Retry timing shared by every task that retries transient failures."""

from __future__ import annotations

import random


def backoff_seconds(retries: int, *, base: float, cap: float) -> float:
    """Exponential backoff (`base` · 2^retries, at most `cap`) with ±20% jitter, so that many
    tasks failing at once do not retry in the same second."""
    delay = min(cap, base * 2**retries)
    return float(delay * random.uniform(0.8, 1.2))  # noqa: S311 (not cryptographic)
