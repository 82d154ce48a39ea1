"""Hold one connection to the SQLite database open for as long as the app runs.

In WAL mode, the first connection to a database that no process has open rebuilds its
shared-memory index (`db.sqlite3-shm`): SQLite cuts the file to 3 bytes and writes it out again,
a few pages. On a full disk that write fails, and every new connection then answers "disk I/O
error", reads included. Under `make run` each web request and each task opens its own
connection, so any moment with none open would turn a full disk into an outage of reads too.
This process holds one idle connection (with no transaction open, so checkpoints go on), so the
index, once built, stays built. `pagecast serve` runs it beside the others when the database is
SQLite.

    python -m core.sqlite_keeper PATH
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import sys
import time
from pathlib import Path
from types import FrameType

logger = logging.getLogger(__name__)

CHECK_SECONDS = 30.0


def open_connection(path: Path) -> sqlite3.Connection:
    """A connection that has read the database once (which builds the index if needed) and
    holds no transaction."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=20, check_same_thread=False)
    connection.execute("SELECT count(*) FROM sqlite_master").fetchall()
    return connection


def hold(path: Path, *, check_seconds: float = CHECK_SECONDS) -> None:
    """Keep a connection open; when it fails (the file was replaced), open another."""
    connection: sqlite3.Connection | None = None
    while True:
        try:
            if connection is None:
                connection = open_connection(path)
            else:
                connection.execute("SELECT 1").fetchall()
        except sqlite3.Error as exc:
            logger.warning("Cannot hold the database %s open: %s", path, exc)
            if connection is not None:
                connection.close()
            connection = None
        time.sleep(check_seconds)


def _stop(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.sqlite_keeper")
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, _stop)
    hold(args.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
