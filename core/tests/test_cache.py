"""The cache keeps counting when its Valkey server refuses writes for a full disk."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis

from core.cache import RedisCache
from core.tests.full_disk import FullableValkey


def make_cache(valkey: FullableValkey) -> RedisCache:
    return RedisCache(valkey.cache_url(), {"TIMEOUT": 300, "KEY_PREFIX": "t"})


@pytest.fixture
def full(fullable_valkey: FullableValkey) -> FullableValkey:
    fullable_valkey.fill_disk()
    return fullable_valkey


def test_the_server_really_refuses_writes_and_answers_reads(full: FullableValkey) -> None:
    with pytest.raises(redis.exceptions.ResponseError, match=r"^MISCONF"):
        full.client.set("k", "v")
    assert full.client.get("k") is None


def test_writes_refused_for_space_are_kept_in_the_process(
    full: FullableValkey, caplog: pytest.LogCaptureFixture
) -> None:
    cache = make_cache(full)

    with caplog.at_level(logging.WARNING, logger="core.cache"):
        cache.set("history", [1, 2], 60)
        assert cache.add("lock", "me", 60) is True
        assert cache.add("lock", "you", 60) is False
        cache.set("count", 1, 60)
        assert cache.incr("count", 2) == 3

    assert cache.holding_writes
    assert cache.get("history") == [1, 2]
    assert cache.has_key("lock")
    assert cache.get_many(["history", "count", "nothing"]) == {"history": [1, 2], "count": 3}
    assert cache.delete("history") is True
    assert cache.get("history") is None
    # One warning, naming what is full, however many writes were refused.
    warnings = [r for r in caplog.records if r.name == "core.cache"]
    assert len(warnings) == 1
    assert "data folder" in warnings[0].getMessage()


def test_what_the_server_held_before_stays_visible_and_taken(
    fullable_valkey: FullableValkey,
) -> None:
    cache = make_cache(fullable_valkey)
    cache.set("lock", "someone else", 60)
    cache.set("counter", 5, 60)
    fullable_valkey.fill_disk()

    assert cache.add("lock", "me", 60) is False
    assert cache.get("lock") == "someone else"
    assert cache.incr("counter") == 6
    with pytest.raises(ValueError, match="not found"):
        cache.incr("missing")


def test_once_the_server_writes_again_keys_go_back_to_it(full: FullableValkey) -> None:
    cache = make_cache(full)
    cache.set("history", ["held"], 60)
    full.free_space()

    cache.set("history", ["shared"], 60)

    another_process = make_cache(full)
    assert another_process.get("history") == ["shared"]
    assert cache.get("history") == ["shared"]


def test_other_failures_are_raised(tmp_path: Any) -> None:
    cache = RedisCache(f"unix://{tmp_path}/nobody.sock", {})

    with pytest.raises(redis.exceptions.ConnectionError):
        cache.set("k", "v")
