"""Django's Redis cache, which keeps rate limits counting when the server cannot write.

A Redis or Valkey server whose disk is full refuses every write (MISCONF: it cannot write its
append-only file or its snapshot) and still answers reads. The cache holds the log-in lockout,
the API throttles and a few locks, so a refused write would turn every throttled request, log-in
included, into an error. Instead, a write the server refuses for want of space is kept in this
process's memory for its usual timeout, and reads look there first: limits keep counting (per
process, so a little looser than across the site) rather than failing closed or open. Once the
server takes writes again, each key written goes back to it and its local copy is forgotten.
Any other failure (the server cannot be reached) is raised as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache

from core.storage_errors import OccasionalWarning, out_of_space

logger = logging.getLogger(__name__)

T = TypeVar("T")

_LOCAL_ENTRIES = 10_000


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        local_params = {k: v for k, v in params.items() if k != "OPTIONS"}
        local_params["OPTIONS"] = {"MAX_ENTRIES": _LOCAL_ENTRIES}
        self._local = LocMemCache(f"pagecast-held-writes-{id(self)}", local_params)
        self._holding = False
        self._warn = OccasionalWarning(logger)

    @property
    def holding_writes(self) -> bool:
        """Whether some write the server refused is kept in this process."""
        return self._holding

    # --- Writes ---------------------------------------------------------------------------------

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        def held() -> bool:
            # A key the server already holds is taken (a lock someone has), whatever happens here.
            if self._remote_has(key, version):
                return False
            return self._local.add(key, value, timeout, version)

        return self._write(
            lambda: super(RedisCache, self).add(key, value, timeout, version), held, [key], version
        )

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        self._write(
            lambda: super(RedisCache, self).set(key, value, timeout, version),
            lambda: self._local.set(key, value, timeout, version),
            [key],
            version,
        )

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._write(
            lambda: super(RedisCache, self).touch(key, timeout, version),
            lambda: self._local.touch(key, timeout, version),
            [key],
            version,
        )

    def delete(self, key: Any, version: int | None = None) -> bool:
        local = self._local.delete(key, version)
        return (
            self._write(
                lambda: super(RedisCache, self).delete(key, version), lambda: local, [key], version
            )
            or local
        )

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        if self._holding and self._local.has_key(key, version):
            return self._local.incr(key, delta, version)

        def held() -> int:
            if not self._local.has_key(key, version):
                current = super(RedisCache, self).get(key, None, version)
                if current is None:
                    raise ValueError(f"Key '{key}' not found.")
                self._local.set(key, current, version=version)
            return self._local.incr(key, delta, version)

        return self._write(
            lambda: super(RedisCache, self).incr(key, delta, version), held, [key], version
        )

    def set_many(
        self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Any]:
        return self._write(
            lambda: super(RedisCache, self).set_many(data, timeout, version),
            lambda: self._local.set_many(data, timeout, version),
            list(data),
            version,
        )

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        keys = list(keys)
        self._local.delete_many(keys, version)
        self._write(
            lambda: super(RedisCache, self).delete_many(keys, version), lambda: None, keys, version
        )

    def clear(self) -> None:
        self._local.clear()
        self._holding = False
        super().clear()

    # --- Reads ----------------------------------------------------------------------------------

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        if self._holding and self._local.has_key(key, version):
            return self._local.get(key, default, version)
        return super().get(key, default, version)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        found = super().get_many(keys, version)
        if self._holding:
            found.update(self._local.get_many(keys, version))
        return found

    def has_key(self, key: Any, version: int | None = None) -> bool:
        if self._holding and self._local.has_key(key, version):
            return True
        return self._remote_has(key, version)

    # --- Internals ------------------------------------------------------------------------------

    def _remote_has(self, key: Any, version: int | None) -> bool:
        return bool(super().has_key(key, version))

    def _write(
        self,
        remote: Callable[[], T],
        held: Callable[[], T],
        keys: list[Any],
        version: int | None,
    ) -> T:
        try:
            result = remote()
        except Exception as exc:
            full = out_of_space(exc)
            if full is None:
                raise
            self._warn(
                "The cache cannot save: %s is full; rate limits and locks are kept in this "
                "process until it can",
                full.location,
            )
            self._holding = True
            return held()
        if self._holding:  # the server has the newest value again
            self._local.delete_many(keys, version)
        return result
