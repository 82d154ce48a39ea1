"""Any OpenAI-compatible speech endpoint: ``POST {base_url}/v1/audio/speech``.

Works with OpenAI itself and with self-hosted servers that copy its API. The response format
is raw PCM (OpenAI documents 24 kHz 16-bit mono; the rate is configurable for other servers) or
WAV (the rate is then read from the header). The API key is sent only in the Authorization
header and never appears in an exception or a log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

import urllib3

from speech_processing.engines.base import (
    MSG_BAD_AUDIO,
    MSG_BUSY,
    MSG_NOT_CONFIGURED,
    MSG_REJECTED,
    MSG_UNREACHABLE,
    MSG_VOICE_UNAVAILABLE,
    AudioPiece,
    PermanentEngineError,
    TransientEngineError,
    Voice,
    audio_from_wav,
    language_tag,
    voice_id,
)

logger = logging.getLogger(__name__)

DEFAULT_VOICES = ("alloy", "ash", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer")
_FORMATS = ("pcm", "wav")
_MAX_RETRY_AFTER = 3600.0


class OpenAIEngine:
    name: ClassVar[str] = "openai"
    # Remote calls cost a round trip each; pack sentences (timings are then shared out by
    # character count within a chunk).
    chunk_by_sentence: bool = False

    def __init__(
        self,
        *,
        base_url: str = "https://api.openai.com",
        api_key: str = "",
        model: str = "gpt-4o-mini-tts",
        voices: Sequence[str | Mapping[str, str]] = DEFAULT_VOICES,
        language: str = "en-US",
        response_format: str = "pcm",
        sample_rate: int = 24000,
        speed: float | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 120.0,
        max_chunk_chars: int = 4000,  # OpenAI accepts up to 4096 characters
        pool: urllib3.PoolManager | None = None,
    ) -> None:
        if response_format not in _FORMATS:
            raise ValueError(f"response_format must be one of {_FORMATS}")
        self.url = _speech_url(base_url)
        self.model = model
        self.response_format = response_format
        self.sample_rate = sample_rate
        self.speed = speed
        self.max_chunk_chars = max_chunk_chars
        self._voices = [_voice_from_config(item, default_language=language) for item in voices]
        self._timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self._pool = pool or urllib3.PoolManager()
        # Kept in a header dict only: repr(self) and our messages never include it.
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"

    def __repr__(self) -> str:
        return f"OpenAIEngine(url={self.url!r}, model={self.model!r})"

    def voices(self) -> list[Voice]:
        return list(self._voices)

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        if voice not in {v.name for v in self._voices}:
            raise PermanentEngineError("openai: unknown voice", user_message=MSG_VOICE_UNAVAILABLE)
        if len(text) > self.max_chunk_chars:
            raise PermanentEngineError(
                "openai: text longer than max_chunk_chars", user_message=MSG_REJECTED
            )
        body: dict[str, Any] = {
            "model": self.model,
            "input": text,
            "voice": voice,
            "response_format": self.response_format,
        }
        if self.speed is not None:
            body["speed"] = self.speed
        response = self._post(json.dumps(body).encode("utf-8"))
        _raise_for_status(response)
        return self._audio(response)

    def _post(self, body: bytes) -> urllib3.BaseHTTPResponse:
        try:
            return self._pool.request(
                "POST",
                self.url,
                body=body,
                headers=self._headers,
                timeout=self._timeout,
                retries=False,  # the task layer retries, with backoff
                redirect=False,  # a redirect must not carry our Authorization header elsewhere
            )
        except urllib3.exceptions.HTTPError as exc:
            name = type(exc).__name__
            logger.warning("OpenAI speech request failed: %s", name)
            raise TransientEngineError(
                f"openai: {name}", user_message=MSG_UNREACHABLE, code=name
            ) from None

    def _audio(self, response: urllib3.BaseHTTPResponse) -> AudioPiece:
        data = response.data
        content_type = response.headers.get("Content-Type", "")
        if content_type.startswith(("application/json", "text/")) or not data:
            # Some compatible servers answer 200 with a JSON error.
            raise PermanentEngineError("openai: response is not audio", user_message=MSG_BAD_AUDIO)
        if self.response_format == "wav":
            try:
                return audio_from_wav(data)
            except ValueError:
                raise PermanentEngineError(
                    "openai: unreadable WAV", user_message=MSG_BAD_AUDIO
                ) from None
        return AudioPiece(pcm=data[: len(data) - len(data) % 2], sample_rate=self.sample_rate)


def _speech_url(base_url: str) -> str:
    base = base_url.rstrip("/")
    if base.endswith("/audio/speech"):
        return base
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/audio/speech"


def _voice_from_config(item: str | Mapping[str, str], *, default_language: str) -> Voice:
    """A voice is a name, or a mapping with "name" and optional language/gender/description."""
    config: Mapping[str, str] = {"name": item} if isinstance(item, str) else item
    name = config["name"]
    return Voice(
        id=voice_id(OpenAIEngine.name, name),
        engine=OpenAIEngine.name,
        name=name,
        language=language_tag(config.get("language", default_language)),
        gender=config.get("gender", ""),
        description=config.get("description", f"{name} (OpenAI-compatible speech)"),
    )


def _raise_for_status(response: urllib3.BaseHTTPResponse) -> None:
    status = response.status
    if 200 <= status < 300:
        return
    code = f"http_{status}"
    logger.warning("OpenAI speech endpoint answered HTTP %d", status)
    # The body may echo our request; it is neither logged nor put in the exception.
    if status in (408, 409, 425, 429) or status >= 500:
        retry_after = _retry_after(response.headers.get("Retry-After"))
        raise TransientEngineError(
            f"openai: HTTP {status}", user_message=MSG_BUSY, code=code, retry_after=retry_after
        )
    if status in (401, 403):
        raise PermanentEngineError(
            f"openai: HTTP {status}", user_message=MSG_NOT_CONFIGURED, code=code
        )
    if status == 404:  # wrong base URL or model name: an operator has to fix it
        raise PermanentEngineError(
            f"openai: HTTP {status}", user_message=MSG_NOT_CONFIGURED, code=code
        )
    raise PermanentEngineError(f"openai: HTTP {status}", user_message=MSG_REJECTED, code=code)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date), capped; None if absent."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)
