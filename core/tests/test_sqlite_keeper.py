"""The SQLite keeper: while it holds the database, a process that cannot grow any file (as on a
full disk) can still open and read it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import sqlite_keeper

# A reader whose writes cannot make any file larger than 4 KiB, as on a full disk (EFBIG where
# a full disk says ENOSPC; SQLite reports both as a disk I/O error).
CAPPED_READER = """
import resource, signal, sqlite3, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    connection = sqlite3.connect(sys.argv[1])
    print(connection.execute("SELECT count(*) FROM notes").fetchone()[0])
except sqlite3.Error as exc:
    print(exc)
"""


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "db.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.executemany("INSERT INTO notes VALUES (?)", [("a",), ("b",), ("c",)])
    connection.commit()
    connection.close()  # the last connection: SQLite removes its shared-memory index
    return path


@pytest.fixture
def keeper(database: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-m", "core.sqlite_keeper", str(database)])
    index = database.with_name(database.name + "-shm")
    deadline = time.monotonic() + 30
    while not (index.exists() and index.stat().st_size >= 32768):
        assert process.poll() is None, "the keeper exited"
        assert time.monotonic() < deadline, "the keeper did not open the database"
        time.sleep(0.05)
    yield process
    process.terminate()
    process.wait(timeout=10)


def read_capped(database: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CAPPED_READER, str(database)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.strip()


def test_without_the_keeper_a_full_disk_stops_reads(database: Path) -> None:
    assert read_capped(database) == "disk I/O error"


def test_with_the_keeper_a_full_disk_leaves_reads_working(
    database: Path, keeper: subprocess.Popen[bytes]
) -> None:
    assert read_capped(database) == "3"


def test_the_keeper_holds_no_transaction(database: Path, keeper: subprocess.Popen[bytes]) -> None:
    # A writer can checkpoint the whole log and start it again from the beginning.
    connection = sqlite3.connect(database)
    connection.execute("INSERT INTO notes VALUES ('d')")
    connection.commit()
    busy, log_pages, checkpointed = connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
    connection.close()

    assert busy == 0
    assert log_pages == checkpointed


def test_the_keeper_opens_the_database_again_when_it_fails(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[Path] = []
    real_open = sqlite_keeper.open_connection

    def flaky_open(path: Path) -> sqlite3.Connection:
        opened.append(path)
        if len(opened) == 1:
            raise sqlite3.OperationalError("disk I/O error")
        if len(opened) == 3:
            raise SystemExit
        connection = real_open(path)
        connection.close()  # its next check fails
        return connection

    monkeypatch.setattr(sqlite_keeper, "open_connection", flaky_open)
    with pytest.raises(SystemExit):
        sqlite_keeper.hold(database, check_seconds=0)

    assert opened == [database, database, database]
