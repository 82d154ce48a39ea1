"""A full disk, as the database and the cache server report it. A disk cannot be filled in a
test, so each layer is made to fail as it does on one.

- The database: every SQL write fails with a genuine SQLite "database or disk is full" error
  (made by a scratch database whose page limit is reached), wrapped by Django as it wraps the
  real one; reads work.
- The cache server: a real Valkey (the one `make run` starts) refuses every write with MISCONF
  when it could not persist its data, and a snapshot into a folder that no longer exists fails
  as one into a full disk does; reads are answered.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from django.db import OperationalError, connection

from core import embedded_broker

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def genuine_sqlite_full() -> sqlite3.OperationalError:
    """The error SQLite raises when its disk is full (SQLITE_FULL), made for real."""
    scratch = sqlite3.connect(":memory:")
    scratch.execute("PRAGMA max_page_count = 2")
    try:
        scratch.execute("CREATE TABLE filler (data BLOB)")
        scratch.execute("INSERT INTO filler VALUES (randomblob(100000))")
    except sqlite3.OperationalError as exc:
        return exc
    finally:
        scratch.close()
    raise AssertionError("the scratch database did not fill up")


@contextmanager
def database_refusing_writes() -> Iterator[None]:
    """Every SQL write fails as on a full disk; reads work."""
    cause = genuine_sqlite_full()
    assert cause.sqlite_errorcode == sqlite3.SQLITE_FULL

    def refuse_writes(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith(WRITES):
            raise OperationalError(*cause.args) from cause
        return execute(sql, *args)

    with connection.execute_wrapper(refuse_writes):
        yield


@dataclass
class FullableValkey:
    folder: Path
    socket: Path
    client: redis.Redis

    def cache_url(self, db: int = 1) -> str:
        return f"unix://{self.socket}?db={db}"

    def fill_disk(self) -> None:
        """From now on, every write is refused with MISCONF; reads are answered."""
        gone = self.folder / "gone"
        gone.mkdir()
        self.client.config_set("dir", str(gone))
        shutil.rmtree(gone)
        self._snapshot(expect="err")

    def free_space(self) -> None:
        self.client.config_set("dir", str(self.folder))
        self._snapshot(expect="ok")

    def _snapshot(self, *, expect: str) -> None:
        self.client.bgsave()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = self.client.info("persistence")
            if not info["rdb_bgsave_in_progress"] and info["rdb_last_bgsave_status"] == expect:
                return
            time.sleep(0.05)
        raise AssertionError(f"the snapshot did not end {expect!r}")


@pytest.fixture
def fullable_valkey(tmp_path: Path) -> Iterator[FullableValkey]:
    folder = tmp_path / "valkey"
    folder.mkdir()
    sock = tmp_path / "valkey.sock"
    command = [
        str(embedded_broker.server_binary()),
        "--port", "0",
        "--unixsocket", str(sock),
        "--dir", str(folder),
        "--appendonly", "no",
        "--save", "3600 1",
        "--enable-protected-configs", "yes",
        "--databases", "4",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    client = redis.Redis(unix_socket_path=str(sock))
    try:
        deadline = time.monotonic() + 30
        while not embedded_broker.answers(sock):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the Valkey server did not start")
            time.sleep(0.05)
        yield FullableValkey(folder=folder, socket=sock, client=client)
    finally:
        client.close()
        # Told to stop, Valkey would first try to save, which a full disk refuses.
        process.kill()
        process.wait(timeout=10)
