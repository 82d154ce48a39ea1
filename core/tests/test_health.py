from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError
from django.utils import timezone
from rest_framework.test import APIClient

from core.tests.outage import broker_down
from operations import workers
from operations.models import WorkerHeartbeat

# Committed rows: the checks run in threads of their own, with their own connections.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _a_worker_is_running(live_worker: WorkerHeartbeat) -> None:
    """Every check passes unless a test takes something away."""


CHECKS = ["database", "broker", "storage", "tts", "worker", "queue"]


def get_health(path: str = "/health/") -> tuple[int, dict[str, Any]]:
    response = APIClient().get(path)
    return response.status_code, response.json()


@pytest.mark.parametrize("path", ["/health/", "/health/ready/"])
def test_all_checks_pass_without_authentication(path: str) -> None:
    status, body = get_health(path)
    assert status == 200
    assert body == {
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


def test_storage_probe_leaves_nothing_behind() -> None:
    before = (
        set(default_storage.listdir("health")[1]) if default_storage.exists("health") else set()
    )
    get_health()
    after = set(default_storage.listdir("health")[1]) if default_storage.exists("health") else set()
    assert after == before


def test_storage_failure_is_503_naming_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(*args: object, **kwargs: object) -> str:
        raise PermissionError("/var/lib/pagecast/media is read-only")

    monkeypatch.setattr(default_storage, "save", broken_save)
    status, body = get_health()
    assert status == 503
    assert body["status"] == "error"
    assert body["checks"] == {
        "database": "ok",
        "broker": "ok",
        "storage": "error",
        "tts": "ok",
        "worker": "ok",
        "queue": "ok",
    }
    assert "read-only" not in str(body)


def test_database_failure_is_503_naming_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    class DownConnection:
        def cursor(self) -> object:
            raise OperationalError("could not connect to server at 10.0.0.5")

        def close(self) -> None:
            pass

    monkeypatch.setattr("core.health.connection", DownConnection())
    status, body = get_health()
    assert status == 503
    assert body["checks"]["database"] == "error"
    assert body["checks"]["storage"] == "ok"
    assert "10.0.0.5" not in str(body)


def test_broker_failure_is_503_naming_the_broker() -> None:
    # Nothing listens there: a real connection attempt that fails at once.
    with broker_down():
        status, body = get_health()
    assert status == 503
    assert body["checks"]["broker"] == "error"
    assert body["checks"]["database"] == "ok"


def test_a_check_that_hangs_fails_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.HEALTH_CHECK_TIMEOUT_SECONDS = 0.3
    settings.HEALTH_CHECKS = {**settings.HEALTH_CHECKS, "slow": "core.tests.test_health.slow_check"}
    status, body = get_health()
    assert status == 503
    assert body["checks"]["slow"] == "error"


def slow_check() -> None:
    import time

    time.sleep(2)


def test_liveness_checks_nothing() -> None:
    with broker_down():
        response = APIClient().get("/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def _engine_report(worker: WorkerHeartbeat, **fields: Any) -> None:
    WorkerHeartbeat.objects.filter(pk=worker.pk).update(**fields)


def test_a_worker_whose_voice_fails_is_503_naming_tts_and_the_log_says_why(
    live_worker: WorkerHeartbeat, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    workers.record_engine_state(
        instance=live_worker.instance, voice=settings.SPEECH_DEFAULT_VOICE,
        error="piper: unknown voice",
    )  # fmt: skip
    status, body = get_health()
    assert status == 503
    assert body["checks"]["tts"] == "error"
    assert body["checks"]["worker"] == "ok"
    assert "unknown voice" not in str(body)
    assert (
        f"celery@test (pid 1) could not speak with {settings.SPEECH_DEFAULT_VOICE}" in caplog.text
    )
    assert "piper: unknown voice" in caplog.text


def test_a_voice_that_speaks_again_after_failing_is_ok(
    live_worker: WorkerHeartbeat, settings: Any
) -> None:
    voice = settings.SPEECH_DEFAULT_VOICE
    workers.record_engine_state(instance=live_worker.instance, voice=voice, error="broken")
    assert get_health()[1]["checks"]["tts"] == "error"
    workers.record_engine_state(instance=live_worker.instance, voice=voice, error=None)
    assert get_health() == (200, {"status": "ok", "checks": dict.fromkeys(CHECKS, "ok")})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"engine_voice": "", "engine_ok_at": None}, "has not tried its voice yet"),
        ({"engine_voice": "fake:beta"}, "speaks with fake:beta, not fake:alpha"),
    ],
)
def test_a_worker_that_has_not_spoken_with_the_default_voice_is_not_enough(
    live_worker: WorkerHeartbeat,
    fields: dict[str, Any],
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _engine_report(live_worker, **fields)
    status, body = get_health()
    assert (status, body["checks"]["tts"]) == (503, "error")
    assert reason in caplog.text


def test_one_live_worker_that_speaks_is_enough(live_worker: WorkerHeartbeat) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.create(
        instance="broken", nodename="celery@broken", host="test", pid=2, started_at=now,
        last_seen_at=now + timedelta(seconds=1), engine_voice="fake:alpha", engine_failed_at=now,
        engine_error="the voice could not be loaded (ImportError)",
    )  # fmt: skip
    assert get_health()[1]["checks"]["tts"] == "ok"


def test_no_worker_is_503_naming_the_worker_and_tts(
    live_worker: WorkerHeartbeat, caplog: pytest.LogCaptureFixture
) -> None:
    live_worker.delete()
    status, body = get_health()
    assert status == 503
    assert body["checks"]["worker"] == "error"
    assert body["checks"]["tts"] == "error"
    assert body["checks"]["database"] == "ok"
    assert "no worker has reported in to speak with fake:alpha" in caplog.text


@pytest.mark.parametrize(
    ("silent_for", "stopped", "healthy"),
    [(timedelta(seconds=30), False, True), (timedelta(seconds=61), False, False),
     (timedelta(0), True, False)],
)  # fmt: skip
def test_a_worker_counts_while_it_reported_in_within_the_last_minute(
    live_worker: WorkerHeartbeat, silent_for: timedelta, stopped: bool, healthy: bool
) -> None:
    now = timezone.now()
    WorkerHeartbeat.objects.filter(pk=live_worker.pk).update(
        last_seen_at=now - silent_for, stopped_at=now if stopped else None
    )
    status, body = get_health()
    expected = (200, "ok", "ok") if healthy else (503, "error", "error")
    assert (status, body["checks"]["worker"], body["checks"]["tts"]) == expected
