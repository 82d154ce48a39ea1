"""`make run` as a person uses it: one command serves broker, web, worker and beat under a
supervisor; a process that dies is started again, and Ctrl-C stops all of them."""

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
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from pagecast_cli import serve

ROOT = Path(__file__).resolve().parents[2]
ALL_OK = {
    "status": "ok",
    "checks": {
        "database": "ok",
        "broker": "ok",
        "storage": "ok",
        "tts": "ok",
        "worker": "ok",
        "queue": "ok",
    },
}


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
    env.update(
        PORT=str(port),
        DATA_DIR=str(data_dir),
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="1",
        # Workers report in every second, so that `/health/` sees a restarted one at once.
        WORKER_HEARTBEAT_SECONDS="1",
    )
    return subprocess.Popen(
        [sys.executable, "-m", "pagecast_cli.serve"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(check: Callable[[], bool], what: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout} s\n{log.read_text(errors='replace')[-4000:]}")


def healthy(port: int) -> bool:
    try:
        return get_json(f"http://127.0.0.1:{port}/health/") == (200, ALL_OK)
    except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
        return False


def processes_of(data_dir: Path) -> dict[int, str]:
    """Every process of the instance with this DATA_DIR: pid → command line."""
    found = {}
    marker = f"DATA_DIR={data_dir}".encode()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            # Valkey writes its title over its environment; the title names its socket.
            if marker in (proc / "environ").read_bytes().split(b"\0") or (
                "valkey-server" in command and str(data_dir) in command
            ):
                found[int(proc.name)] = command
        except OSError:
            continue
    return found


def pid_of(data_dir: Path, needle: str) -> int:
    """The oldest process of the instance whose command line holds `needle` (a process
    group's leader: a worker's main process, gunicorn's master), or 0 when there is none."""
    pids = sorted(pid for pid, command in processes_of(data_dir).items() if needle in command)
    return pids[0] if pids else 0


def test_the_supervisor_runs_the_procfile_and_the_embedded_broker() -> None:
    env = {"DATA_DIR": "/srv/pagecast", "PORT": "8000"}
    config = serve.supervisor_config(env, embedded_broker=True)
    programs = [line for line in config.splitlines() if line.startswith("[program:")]
    assert programs == ["[program:broker]", "[program:web]", "[program:worker]", "[program:beat]"]
    assert "core.embedded_broker serve" in config
    # Each process waits for the broker, then becomes the supervised process itself.
    assert config.count("core.embedded_broker wait && exec ") == 3
    assert "autorestart=true" in config
    # A scaled-out broker is not started here.
    scaled = serve.supervisor_config(env, embedded_broker=False)
    assert "[program:broker]" not in scaled
    assert "core.embedded_broker" not in scaled


def test_with_sqlite_a_keeper_holds_the_database_open() -> None:
    env = {"DATA_DIR": "/srv/pagecast data", "PORT": "8000"}
    database = serve.sqlite_database(env)
    assert database == Path("/srv/pagecast data/db.sqlite3")
    assert serve.sqlite_database({**env, "DATABASE_URL": "sqlite:////var/lib/p.db"}) == Path(
        "/var/lib/p.db"
    )
    assert serve.sqlite_database({**env, "DATABASE_URL": "postgres://db/pagecast"}) is None

    config = serve.supervisor_config(env, embedded_broker=True, sqlite=database)

    assert "[program:dbkeeper]" in config
    assert "-m core.sqlite_keeper '/srv/pagecast data/db.sqlite3'" in config
    assert "[program:dbkeeper]" not in serve.supervisor_config(env, embedded_broker=True)


def test_a_procfile_line_with_leading_variables_still_runs() -> None:
    processes = serve.procfile_processes("worker: FOO=${FOO:-2} celery -A core worker\n\nbad line")
    assert processes == {"worker": "FOO=${FOO:-2} celery -A core worker"}


@pytest.mark.slow
def test_two_instances_serve_side_by_side_and_stop_on_ctrl_c(tmp_path: Path) -> None:
    instances = []
    for name in ("one", "two"):
        port = free_port()
        log = tmp_path / f"{name}.log"
        instances.append((port, tmp_path / name, log, start(port, tmp_path / name, log)))
    try:
        for port, data_dir, log, _process in instances:
            wait_for(partial(healthy, port), "healthy", log)
            assert (data_dir / "db.sqlite3").exists()
            # The broker keeps its append-only file under the instance's data directory.
            assert (data_dir / "broker" / "appendonlydir").is_dir()
            assert f"http://127.0.0.1:{port}/" in log.read_text()
    finally:
        for _port, _data, _log, process in instances:
            os.killpg(process.pid, signal.SIGINT)
    for port, data_dir, log, process in instances:
        assert process.wait(90) is not None, log.read_text()[-2000:]
        # Every process of the instance is gone: nothing answers on its port.
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            get_json(f"http://127.0.0.1:{port}/health/live/")
        assert processes_of(data_dir) == {}
        text = log.read_text()
        for name in ("broker", "web", "worker", "beat"):
            assert f"spawned: '{name}'" in text
            assert f"stopped: {name}" in text


@pytest.mark.slow
def test_a_process_that_dies_is_started_again_and_the_rest_keep_serving(tmp_path: Path) -> None:
    port, data_dir, log = free_port(), tmp_path / "data", tmp_path / "serve.log"
    process = start(port, data_dir, log)
    try:
        wait_for(lambda: healthy(port), "healthy", log)
        for name, needle in (
            ("worker", "celery -A core worker"),
            ("broker", "valkey-server"),
            ("beat", "celery -A core beat"),
            ("web", "gunicorn"),
        ):
            victim = pid_of(data_dir, needle)
            assert victim, processes_of(data_dir)
            # The whole group, as the OOM killer or an operator's kill -9 of a worker would.
            os.killpg(victim, signal.SIGKILL)

            def reported_dead(name: str = name) -> bool:
                return f"exited: {name} (terminated by SIGKILL" in log.read_text()

            def started_again(needle: str = needle, victim: int = victim) -> bool:
                return pid_of(data_dir, needle) not in (0, victim)

            wait_for(reported_dead, f"{name} reported dead", log)
            wait_for(started_again, f"{name} started again", log)
            # The supervisor itself did not stop, and the site is whole again.
            assert process.poll() is None
            wait_for(lambda: healthy(port), f"healthy after {name} died", log)
    finally:
        os.killpg(process.pid, signal.SIGINT)
    assert process.wait(90) is not None
    assert processes_of(data_dir) == {}
