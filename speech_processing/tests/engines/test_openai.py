"""OpenAI-compatible speech endpoint, against a local server that mimics /v1/audio/speech."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from speech_processing.engines.base import (
    EngineError,
    PermanentEngineError,
    SpeechEngine,
    TransientEngineError,
)
from speech_processing.engines.openai import OpenAIEngine

API_KEY = "sk-test-0123456789abcdefSECRET"
PCM = struct.pack("<h", 1200) * 2400


@dataclass
class Reply:
    status: int = 200
    body: bytes = PCM
    content_type: str = "audio/pcm"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class SpeechHandler(BaseHTTPRequestHandler):
    replies: list[Reply]
    requests: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        self.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            reply = Reply(401, b'{"error": "bad key"}', "application/json")
        else:
            reply = self.replies.pop(0) if self.replies else Reply()
        time.sleep(reply.delay)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


@dataclass
class Server:
    url: str
    handler: type[SpeechHandler]

    def engine(self, **options: Any) -> OpenAIEngine:
        options.setdefault("api_key", API_KEY)
        options.setdefault("voices", ["alloy", {"name": "nova", "gender": "female"}])
        return OpenAIEngine(base_url=self.url, model="tts-test", **options)


@pytest.fixture
def server() -> Iterator[Server]:
    handler = type("Handler", (SpeechHandler,), {"replies": [], "requests": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", handler)
    httpd.shutdown()
    httpd.server_close()


def assert_no_key(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(exc, EngineError)
    assert API_KEY not in str(exc)
    assert API_KEY not in exc.user_message
    assert API_KEY not in caplog.text


def wav(pcm: bytes, rate: int) -> bytes:
    # Streamed WAVs cannot know their size; servers write 0xFFFFFFFF.
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF\xff\xff\xff\xffWAVEfmt " + fmt + b"data\xff\xff\xff\xff" + pcm


def test_sends_the_request_and_returns_pcm(server: Server) -> None:
    engine = server.engine()
    assert isinstance(engine, SpeechEngine)
    piece = engine.synthesize("Hello <speak> world.", voice="alloy")
    assert piece.pcm == PCM
    assert piece.sample_rate == 24000
    (request,) = server.handler.requests
    assert request["path"] == "/v1/audio/speech"
    assert request["headers"]["Authorization"] == f"Bearer {API_KEY}"
    assert request["body"] == {
        "model": "tts-test",
        "input": "Hello <speak> world.",
        "voice": "alloy",
        "response_format": "pcm",
    }


def test_wav_format_reads_the_rate_from_the_header(server: Server) -> None:
    server.handler.replies.append(Reply(body=wav(PCM, 22050), content_type="audio/wav"))
    piece = server.engine(response_format="wav", speed=1.25).synthesize("Hi.", voice="nova")
    assert (piece.pcm, piece.sample_rate) == (PCM, 22050)
    assert server.handler.requests[0]["body"]["speed"] == 1.25


def test_rate_is_configurable(server: Server) -> None:
    assert server.engine(sample_rate=16000).synthesize("Hi.", voice="alloy").sample_rate == 16000


def test_429_is_transient_with_retry_after_then_success(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.handler.replies.append(
        Reply(429, b'{"error": "slow down"}', "application/json", {"Retry-After": "7"})
    )
    engine = server.engine()
    with pytest.raises(TransientEngineError) as caught:
        engine.synthesize("Hello.", voice="alloy")
    assert caught.value.retry_after == 7.0
    assert caught.value.code == "http_429"
    assert_no_key(caught.value, caplog)
    assert engine.synthesize("Hello.", voice="alloy").pcm == PCM


@pytest.mark.parametrize(
    ("status", "transient"),
    [(500, True), (502, True), (503, True), (400, False), (403, False), (404, False)],
)
def test_status_codes_are_classified(
    server: Server, caplog: pytest.LogCaptureFixture, status: int, transient: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    # An error body that echoes the key must not travel further.
    server.handler.replies.append(Reply(status, f'{{"k": "{API_KEY}"}}'.encode(), "text/plain"))
    with pytest.raises(EngineError) as caught:
        server.engine().synthesize("Hello.", voice="alloy")
    assert caught.value.transient is transient
    assert_no_key(caught.value, caplog)


def test_wrong_key_is_permanent_and_not_echoed(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PermanentEngineError) as caught:
        server.engine(api_key="sk-wrong-key-000000000000").synthesize("Hi.", voice="alloy")
    assert caught.value.code == "http_401"
    assert caught.value.user_message == "The speech service is not configured correctly."
    assert "sk-wrong-key" not in str(caught.value) + caplog.text


def test_connection_refused_is_transient(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nothing listens
    engine = OpenAIEngine(base_url=f"http://127.0.0.1:{port}", api_key=API_KEY)
    with pytest.raises(TransientEngineError) as caught:
        engine.synthesize("Hi.", voice="alloy")
    assert_no_key(caught.value, caplog)


def test_read_timeout_is_transient(server: Server) -> None:
    server.handler.replies.append(Reply(delay=0.5))
    with pytest.raises(TransientEngineError):
        server.engine(read_timeout=0.1).synthesize("Hi.", voice="alloy")


def test_a_200_that_is_not_audio_is_permanent(server: Server) -> None:
    server.handler.replies.append(Reply(200, b'{"error": "oops"}', "application/json"))
    with pytest.raises(PermanentEngineError):
        server.engine().synthesize("Hi.", voice="alloy")


def test_redirects_are_not_followed(server: Server) -> None:
    # Following one would send the Authorization header to wherever it points.
    server.handler.replies.append(Reply(307, b"", "text/plain", {"Location": "http://x.test/"}))
    with pytest.raises(PermanentEngineError):
        server.engine().synthesize("Hi.", voice="alloy")
    assert len(server.handler.requests) == 1


def test_unknown_voice_and_long_text_are_refused_before_any_request(server: Server) -> None:
    engine = server.engine(max_chunk_chars=10)
    with pytest.raises(PermanentEngineError):
        engine.synthesize("Hi.", voice="nobody")
    with pytest.raises(PermanentEngineError):
        engine.synthesize("x" * 11, voice="alloy")
    assert server.handler.requests == []


def test_voices_from_configuration() -> None:
    engine = OpenAIEngine(
        voices=["alloy", {"name": "nova", "language": "de_DE", "gender": "female"}],
        language="en-GB",
    )
    alloy, nova = engine.voices()
    assert (alloy.id, alloy.language, alloy.gender) == ("openai:alloy", "en-GB", "")
    assert (nova.id, nova.language, nova.gender) == ("openai:nova", "de-DE", "female")


@pytest.mark.parametrize(
    "base_url",
    ["http://h.test", "http://h.test/", "http://h.test/v1", "http://h.test/v1/audio/speech"],
)
def test_base_url_forms(base_url: str) -> None:
    assert OpenAIEngine(base_url=base_url).url == "http://h.test/v1/audio/speech"


def test_key_is_not_in_repr() -> None:
    engine = OpenAIEngine(api_key=API_KEY)
    assert API_KEY not in repr(engine)
    assert API_KEY not in str(engine)
