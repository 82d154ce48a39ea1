"""A gunicorn server on 127.0.0.1 for the HTTP benchmarks, started as the Procfile starts one.

It runs the bench settings (bench.urls: the application plus the bare baseline views) against the
calling process's scratch data folder and database, so rows the benchmark creates are served.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    workers: int
    threads: int
    log: Path
    pid: int = 0  # gunicorn's master process; its workers are its children


def stop(process: subprocess.Popen[bytes], *, grace: float) -> None:
    """Ask the process to stop (SIGTERM), and kill it if it is still there after `grace`
    seconds."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def gunicorn(
    *,
    data_dir: Path,
    workers: int | None = None,
    threads: int | None = None,
    ready_path: str = "/bench/bare/",
    start_timeout: float = 60.0,
) -> Iterator[Server]:
    """gunicorn with core/gunicorn_conf.py (workers and threads from the environment unless given)
    on a free port of 127.0.0.1, serving bench.settings over `data_dir`; stopped on exit."""
    workers = workers or int(os.environ.get("WEB_CONCURRENCY", "2"))
    threads = threads or int(os.environ.get("WEB_THREADS", "4"))
    port = free_port()
    log = data_dir / f"gunicorn-{port}.log"
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="bench.settings",
        BENCH_DATA_DIR=str(data_dir),
        PYTHONPATH=str(ROOT),
        BIND_HOST=HOST,
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        WEB_THREADS=str(threads),
    )
    command = [
        sys.executable, "-m", "gunicorn", "core.wsgi:application",
        "--config", "python:bench.gunicorn_conf", "--error-logfile", str(log),
    ]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + start_timeout
        while not _answers(port, ready_path):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"gunicorn did not start on {HOST}:{port}:\n{tail}")
            time.sleep(0.1)
        yield Server(HOST, port, workers, threads, log, process.pid)
    finally:
        stop(process, grace=30)
