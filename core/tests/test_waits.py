"""A wait in words: what a rate-limited answer tells a person, beside Retry-After's seconds."""

from __future__ import annotations

import pytest

from core.exceptions import RateLimited
from core.waits import rate_limited_message, wait_in_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "a few seconds"),
        (1, "a few seconds"),
        (9, "a few seconds"),
        (9.2, "about 10 seconds"),
        (12, "about 15 seconds"),
        (45, "about 45 seconds"),
        (54, "about 55 seconds"),
        (60, "about a minute"),
        (89, "about a minute"),
        (90, "about 2 minutes"),
        (2700, "about 45 minutes"),
        (2699.4, "about 45 minutes"),
        (54 * 60, "about 54 minutes"),
        (3599, "about an hour"),
        (3600, "about an hour"),
        (100 * 60, "about 2 hours"),
        (5 * 3600 + 10 * 60, "about 5 hours"),
        (23 * 3600, "about a day"),
        (86_400, "about a day"),
        (3 * 86_400, "about 3 days"),
    ],
)
def test_waits_are_said_in_words(seconds: float, words: str) -> None:
    assert wait_in_words(seconds) == words


def test_the_message_says_the_wait_when_it_is_known() -> None:
    assert rate_limited_message(2700) == "Too many requests. Try again in about 45 minutes."
    assert rate_limited_message(None) == "Too many requests. Please wait and try again."


def test_a_rate_limit_error_says_its_wait_and_keeps_the_seconds() -> None:
    refused = RateLimited(retry_after=61)
    assert refused.message == "Too many requests. Try again in about a minute."
    assert refused.retry_after == 61
    assert RateLimited().message == "Too many requests. Please wait and try again."
    assert RateLimited("Slow down.", retry_after=5).message == "Slow down."
