"""Retry timing shared by every task that retries transient failures."""

from __future__ import annotations

import random


def backoff_seconds(retries: int, *, base: float, cap: float) -> float:
    """Exponential backoff (`base` · 2^retries) with ±20% jitter, so that many tasks failing at
    once do not retry in the same second; never more than `cap`."""
    delay = min(cap, base * 2**retries)
    # The jitter is drawn below the cap rather than cut at it, so that tasks long at the cap
    # do not all wait exactly `cap`.
    return float(random.uniform(0.8 * delay, min(1.2 * delay, cap)))  # noqa: S311 (not cryptographic)


def retry_delay(retries: int, *, base: float, cap: float, requested: float | None = None) -> float:
    """The backoff, or longer when the service said how long to wait (an HTTP ``Retry-After``),
    but never more than `cap`.

    A requested wait gets up to 20% on top: many tasks told "5 seconds" at once would otherwise
    all come back in the same second and be turned away again.
    """
    delay = backoff_seconds(retries, base=base, cap=cap)
    if requested is not None and requested > 0:
        delay = max(delay, requested * random.uniform(1.0, 1.2))  # noqa: S311
    return float(min(delay, cap))
