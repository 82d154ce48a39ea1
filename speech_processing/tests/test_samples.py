"""Voice previews: made once and kept; an engine that cannot make one now is a 503, not a 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from speech_processing.engines.base import MSG_NO_SPEECH, PermanentEngineError, TransientEngineError
from speech_processing.engines.fake import FakeEngine

pytestmark = pytest.mark.django_db

API_SAMPLE = "/api/v1/voices/fake:alpha/sample/"
WEB_SAMPLE = "/voices/fake:alpha/sample/"


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


def _engine_raises(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def synthesize(self: FakeEngine, text: str, *, voice: str) -> Any:
        raise error

    monkeypatch.setattr(FakeEngine, "synthesize", synthesize)


def test_a_busy_engine_is_a_503_with_retry_after(
    alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _engine_raises(monkeypatch, TransientEngineError("fake: throttled", retry_after=11.2))
    response = alice_client.get(API_SAMPLE)
    assert response.status_code == 503
    assert response["Retry-After"] == "12"
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"] == "The speech service is busy; try this preview again in a moment."
    assert "throttled" not in error["message"]
    assert error["error_id"]


def test_an_engine_that_gives_no_speech_is_a_503(
    alice_client: APIClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _engine_raises(monkeypatch, PermanentEngineError("fake: empty", user_message=MSG_NO_SPEECH))
    response = alice_client.get(API_SAMPLE)
    assert response.status_code == 503
    assert "Retry-After" not in response
    error = response.json()["error"]
    assert error["code"] == "service_unavailable"
    assert error["message"] == "This voice's preview could not be made; try again later."
    assert "Preview of voice fake:alpha not made: fake: empty" in caplog.text


def test_the_web_preview_of_a_busy_voice_is_a_short_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _engine_raises(monkeypatch, TransientEngineError("fake: throttled", retry_after=3))
    response = Client(raise_request_exception=False).get(WEB_SAMPLE)
    assert response.status_code == 503
    assert response["Retry-After"] == "3"
    assert response["Cache-Control"] == "no-store"
    assert response["Content-Type"].startswith("text/plain")
    assert "try this preview again" in response.content.decode()


def test_a_preview_that_failed_is_made_on_the_next_request(
    alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        _engine_raises(patched, PermanentEngineError("fake: empty"))
        assert Client(raise_request_exception=False).get(WEB_SAMPLE).status_code == 503
    assert Client().get(WEB_SAMPLE).status_code == 200
    assert alice_client.get(API_SAMPLE).status_code == 200
