"""Voice previews: made once by a worker and kept; the web process never synthesises one, and a
preview not made yet is a 503 with Retry-After, not a 500."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from speech_processing import samples, tasks
from speech_processing.engines.base import MSG_NO_SPEECH, PermanentEngineError, TransientEngineError
from speech_processing.engines.fake import FakeEngine

pytestmark = pytest.mark.django_db

API_SAMPLE = "/api/v1/voices/fake:alpha/sample/"
WEB_SAMPLE = "/voices/fake:alpha/sample/"
BEING_MADE = "This voice's preview is being made; try again in a moment."


@pytest.fixture(autouse=True)
def _empty_storage(settings: Any, tmp_path: Path) -> None:
    """A preview made by another test must not answer for a failing engine."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.VOICE_SAMPLE_WAIT_SECONDS = 0


def _engine_raises(monkeypatch: pytest.MonkeyPatch, error: Exception) -> list[str]:
    calls: list[str] = []

    def synthesize(self: FakeEngine, text: str, *, voice: str) -> Any:
        calls.append(text)
        raise error

    monkeypatch.setattr(FakeEngine, "synthesize", synthesize)
    return calls


def _queued_not_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Tasks go to a worker (none runs here) instead of running in this process."""
    queued: list[str] = []
    monkeypatch.setattr(tasks.make_voice_sample_task, "delay", queued.append)
    return queued


def test_the_first_request_has_a_worker_make_the_preview_and_serves_it(
    alice_client: APIClient,
) -> None:
    # (Tasks run at once in the tests, as a free worker would run this one.)
    response = alice_client.get(API_SAMPLE)
    assert response.status_code == 200
    assert response["Content-Type"] == "audio/mpeg"
    assert default_storage.exists(samples.sample_name("fake:alpha"))
    assert Client().get(WEB_SAMPLE).status_code == 200


def test_the_web_process_queues_the_preview_and_never_speaks_itself(
    alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    spoken = _engine_raises(monkeypatch, AssertionError("the web process spoke"))
    queued = _queued_not_run(monkeypatch)
    response = alice_client.get(API_SAMPLE)
    assert response.status_code == 503
    assert response["Retry-After"] == str(samples.RETRY_AFTER_SECONDS)
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("service_unavailable", BEING_MADE)
    # Asked again before the worker got to it: queued once.
    web = Client(raise_request_exception=False).get(WEB_SAMPLE)
    assert web.status_code == 503
    assert web["Retry-After"] == str(samples.RETRY_AFTER_SECONDS)
    assert web["Cache-Control"] == "no-store"
    assert web["Content-Type"].startswith("text/plain")
    assert web.content.decode() == BEING_MADE
    assert queued == ["fake:alpha"]
    assert spoken == []


def test_a_request_waits_for_the_worker_that_makes_the_preview(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.VOICE_SAMPLE_WAIT_SECONDS = 30

    def worker_makes_it(voice_id: str) -> None:
        made = ContentFile(b"\xff\xfb" * 64)
        key = samples.sample_name(voice_id)
        threading.Timer(0.3, default_storage.save, args=(key, made)).start()

    monkeypatch.setattr(tasks.make_voice_sample_task, "delay", worker_makes_it)
    response = Client().get(WEB_SAMPLE)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"\xff\xfb" * 64  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "error",
    [
        TransientEngineError("fake: throttled", retry_after=11.2),
        PermanentEngineError("fake: empty", user_message=MSG_NO_SPEECH),
    ],
)
def test_a_preview_the_worker_could_not_make_is_asked_again_a_minute_later(
    alice_client: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    with monkeypatch.context() as patched:
        spoken = _engine_raises(patched, error)
        response = alice_client.get(API_SAMPLE)
        assert response.status_code == 503
        assert response.json()["error"]["message"] == BEING_MADE
        assert f"Preview of voice fake:alpha not made: {error}" in caplog.text
        assert str(error) not in response.content.decode()
        # Within the minute the next request does not ask the engine again ...
        assert alice_client.get(API_SAMPLE).status_code == 503
        assert len(spoken) == 1
    # ... after it, the preview is asked for again, and made.
    cache.clear()
    assert Client().get(WEB_SAMPLE).status_code == 200
    assert alice_client.get(API_SAMPLE).status_code == 200


def test_the_worker_skips_a_voice_that_is_gone(caplog: pytest.LogCaptureFixture) -> None:
    samples.make_sample(voice_id="fake:nobody")
    assert "Preview of voice fake:nobody not made: the voice is not available" in caplog.text
    assert not default_storage.exists(samples.sample_name("fake:nobody"))


def test_with_the_broker_down_a_preview_not_made_is_a_503(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broker_down(voice_id: str) -> None:
        raise OperationalError("Error 111 connecting to 10.0.0.7:6379")

    monkeypatch.setattr(tasks.make_voice_sample_task, "delay", broker_down)
    response = Client(raise_request_exception=False).get(WEB_SAMPLE)
    assert response.status_code == 503
    assert response.content.decode() == BEING_MADE
    assert "queueing speech_processing.tasks.make_voice_sample_task" in caplog.text
