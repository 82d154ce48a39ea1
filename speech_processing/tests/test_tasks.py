"""The audio task against a stand-in OpenAI-compatible server: how long a retry waits, and audio
that holds no speech."""

from __future__ import annotations

import json
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from operations.models import TaskFailure
from speech_processing import voices
from speech_processing.models import Audio
from speech_processing.tasks import generate_audio_task, retry_countdown
from users.models import User

pytestmark = pytest.mark.django_db

SENTENCE = "The stand-in speech service reads this whole sentence aloud."
SECOND_OF_PCM = struct.pack("<h", 900) * 24000  # 24 kHz, as OpenAI sends raw PCM


@dataclass
class Reply:
    status: int = 200
    body: bytes = SECOND_OF_PCM
    headers: dict[str, str] = field(default_factory=dict)


class StandIn(BaseHTTPRequestHandler):
    replies: list[Reply]
    requests: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.requests.append(body)
        reply = self.replies.pop(0) if self.replies else Reply()
        self.send_response(reply.status)
        content_type = "audio/pcm" if reply.status == 200 else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


@pytest.fixture
def stand_in(settings: Any) -> Iterator[type[StandIn]]:
    """An OpenAI-compatible speech server on 127.0.0.1, configured as the "openai" engine."""
    handler = type("Handler", (StandIn,), {"replies": [], "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.SPEECH_ENGINES = {"piper": {}, "openai": {"base_url": url, "voices": ["alloy"]}}
    voices.reset_caches()
    yield handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def audio(alice: User) -> Audio:
    page = document_with_pages(owner=alice, pages=1).pages.get()
    Page.objects.filter(pk=page.pk).update(text=SENTENCE)
    return Audio.objects.create(page=page, voice="openai:alloy", engine="openai", created_by=alice)


class Retried(Exception):
    pass


def first_retry_countdown(audio: Audio, monkeypatch: pytest.MonkeyPatch) -> float:
    """Run the task once, as a worker would, and return the countdown it asked Celery for."""
    asked: list[float] = []

    def retry(*, countdown: float) -> Exception:
        asked.append(countdown)
        return Retried()

    monkeypatch.setattr(generate_audio_task, "retry", retry)
    with pytest.raises(Retried):
        generate_audio_task(audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.PENDING  # released for the retry
    (countdown,) = asked
    return countdown


def busy(retry_after: str) -> Reply:
    return Reply(429, b'{"error": "rate limited"}', {"Retry-After": retry_after})


@pytest.fixture
def quick_backoff(settings: Any) -> None:
    # About a second of backoff, as the outside test had: the server's wait must win.
    settings.SPEECH_RETRY_BASE_SECONDS = 1.0
    settings.SPEECH_RETRY_CAP_SECONDS = 600.0
    settings.STUCK_PENDING_SECONDS = 900


@pytest.mark.usefixtures("quick_backoff")
def test_a_429_retry_waits_at_least_its_retry_after_seconds(
    stand_in: type[StandIn], audio: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in.replies.append(busy("5"))
    countdown = first_retry_countdown(audio, monkeypatch)
    assert 5.0 <= countdown <= 6.0
    assert len(stand_in.requests) == 1


@pytest.mark.usefixtures("quick_backoff")
def test_a_retry_after_date_is_waited_for_too(
    stand_in: type[StandIn], audio: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    when = datetime.now(UTC) + timedelta(seconds=40)
    stand_in.replies.append(busy(format_datetime(when, usegmt=True)))
    # The date has whole seconds, and a moment passes before it is read.
    assert 38.0 <= first_retry_countdown(audio, monkeypatch) <= 40 * 1.2


@pytest.mark.usefixtures("quick_backoff")
def test_a_long_retry_after_is_capped(
    stand_in: type[StandIn], audio: Audio, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.SPEECH_RETRY_CAP_SECONDS = 60.0
    stand_in.replies.append(busy("3600"))
    assert first_retry_countdown(audio, monkeypatch) == 60.0


@pytest.mark.usefixtures("quick_backoff")
def test_no_retry_waits_past_the_point_where_the_sweep_queues_the_audio_again(
    stand_in: type[StandIn], audio: Audio, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.STUCK_PENDING_SECONDS = 120
    stand_in.replies.append(busy("3600"))
    assert first_retry_countdown(audio, monkeypatch) == 120.0


@pytest.mark.usefixtures("quick_backoff")
def test_without_retry_after_the_backoff_stands(
    stand_in: type[StandIn], audio: Audio, monkeypatch: pytest.MonkeyPatch
) -> None:
    stand_in.replies.append(Reply(503, b"{}"))
    assert 0.8 <= first_retry_countdown(audio, monkeypatch) <= 1.2


def test_backoff_jitter_never_passes_the_cap(settings: Any) -> None:
    settings.SPEECH_RETRY_BASE_SECONDS = 10.0
    settings.SPEECH_RETRY_CAP_SECONDS = 600.0
    waits = [retry_countdown(20) for _ in range(200)]
    assert max(waits) <= 600.0
    assert min(waits) >= 480.0
    assert len({round(wait, 3) for wait in waits}) > 50  # still spread out at the cap


def test_a_sentence_answered_with_no_speech_fails_at_once(
    stand_in: type[StandIn], audio: Audio, caplog: pytest.LogCaptureFixture
) -> None:
    stand_in.replies.append(Reply(body=b"\x00\x00" * 10))  # 0.0004 s for a whole sentence
    generate_audio_task(audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.error_message == "The speech service returned no speech."
    assert audio.attempts == 1
    assert len(stand_in.requests) == 1
    assert not audio.file_key
    # Operators find the details under the failure's error id; the text itself is not logged.
    failure = TaskFailure.objects.get(object_type="audio", object_id=str(audio.pk))
    (logged,) = [r.getMessage() for r in caplog.records if "returned no speech" in r.getMessage()]
    assert failure.error_id in logged
    assert "engine openai, voice alloy, 60 characters, 0.000 s" in logged
    assert SENTENCE not in caplog.text


def test_a_short_text_with_short_audio_completes(stand_in: type[StandIn], audio: Audio) -> None:
    Page.objects.filter(pk=audio.page_id).update(text="Hi.")
    stand_in.replies.append(Reply(body=b"\x10\x00" * 480))  # 0.02 s
    generate_audio_task(audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED, audio.error_message
