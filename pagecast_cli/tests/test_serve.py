"""`make run` as a person uses it: one command serves web, worker and beat; Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def start(port: int, data_dir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(PORT=str(port), DATA_DIR=str(data_dir), WEB_CONCURRENCY="1", WORKER_CONCURRENCY="1")
    return subprocess.Popen(
        [sys.executable, "-m", "pagecast_cli.serve"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(port: int, timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            status, body = get_json(f"http://127.0.0.1:{port}/health/")
            if status == 200:
                return body
            last = body
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"not healthy on port {port}: {last}")


@pytest.mark.slow
def test_two_instances_serve_side_by_side_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    instances = []
    for name in ("one", "two"):
        port = free_port()
        log = tmp_path / f"{name}.log"
        instances.append((port, tmp_path / name, log, start(port, tmp_path / name, log)))
    try:
        for port, data_dir, log, _process in instances:
            body = wait_healthy(port)
            assert body == {
                "status": "ok",
                "checks": {"database": "ok", "broker": "ok", "storage": "ok", "tts": "ok"},
            }
            assert (data_dir / "db.sqlite3").exists()
            assert f"http://127.0.0.1:{port}/" in log.read_text()
    finally:
        for _port, _data, _log, process in instances:
            os.killpg(process.pid, signal.SIGINT)
    for port, _data, log, process in instances:
        assert process.wait(60) is not None, log.read_text()[-2000:]
        # Every process of the instance is gone: nothing answers on its port.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            get_json(f"http://127.0.0.1:{port}/health/live/")
    # The worker and beat of each instance were started and stopped with it.
    for _port, _data, log, _process in instances:
        text = log.read_text()
        assert "worker.1" in text
        assert "beat.1" in text
