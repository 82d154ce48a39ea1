"""The speech-engine plug-in contract: voices, audio pieces, errors and the engine Protocol.

Engines are pure: they know nothing about Django, models or settings. Configuration is handed to
their constructors (see ``registry.build_engine``), and every failure leaves an engine as an
``EngineError`` whose type says whether retrying can help.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

# Messages shown to people. They are fixed strings on purpose: an engine's own error text can
# carry request details, endpoints or (in signature errors) credential fragments.
MSG_BUSY = "The speech service is busy; we will retry."
MSG_UNREACHABLE = "The speech service could not be reached; we will retry."
MSG_VOICE_UNAVAILABLE = "This voice is not available."
MSG_REJECTED = "The speech service rejected the request."
MSG_NOT_CONFIGURED = "The speech service is not configured correctly."
MSG_FAILED = "The speech engine could not read this text."
MSG_BAD_AUDIO = "The speech service returned audio we could not use."
MSG_NO_SPEECH = "The speech service returned no speech."

PCM_SAMPLE_WIDTH = 2  # bytes per sample: signed 16-bit little-endian


@dataclass(frozen=True)
class Voice:
    """One voice an engine offers. ``id`` is what the rest of Pagecast stores."""

    id: str  # "engine:name", e.g. "piper:en_US-joe-medium" or "polly:Joanna"
    engine: str
    name: str  # what ``SpeechEngine.synthesize(voice=...)`` takes
    language: str  # BCP-47-ish, e.g. "en-US"
    gender: str  # "female", "male", "neutral" or "" when unknown
    description: str = ""


@dataclass(frozen=True)
class SpeechMark:
    """Where, by the engine's own account, a part of the text it was given starts to sound."""

    char: int  # offset into the text of that call, in characters
    seconds: float  # from the start of that call's audio


@dataclass(frozen=True)
class AudioPiece:
    """Raw audio from one engine call: signed 16-bit little-endian mono PCM.

    ``marks`` are optional: engines that report when sentences start (Polly's speech marks)
    give them, and the pipeline then times sentences by them rather than by character counts.
    """

    pcm: bytes
    sample_rate: int
    marks: tuple[SpeechMark, ...] = ()

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        if len(self.pcm) % PCM_SAMPLE_WIDTH:
            raise ValueError("PCM length must be a whole number of 16-bit samples")

    @property
    def num_samples(self) -> int:
        return len(self.pcm) // PCM_SAMPLE_WIDTH

    @property
    def duration_seconds(self) -> float:
        return self.num_samples / self.sample_rate


class EngineError(Exception):
    """A synthesis failure. ``str(exc)`` is a safe developer detail we wrote ourselves.

    ``user_message`` is what a person may see. Neither ever contains a library's exception text,
    an endpoint's response body or a credential.
    """

    transient: ClassVar[bool] = False

    def __init__(
        self,
        detail: str,
        *,
        user_message: str = MSG_FAILED,
        code: str = "",
        retry_after: float | None = None,
        error_id: str = "",
    ) -> None:
        super().__init__(detail)
        self.user_message = user_message
        self.code = code  # a short machine code such as "ThrottlingException" or "http_429"
        self.retry_after = retry_after  # seconds the service asked us to wait, if it said
        self.error_id = error_id  # set when the details were logged under this id


class TransientEngineError(EngineError):
    """Worth retrying later: throttling, timeouts, 5xx, lost connections."""

    transient = True

    def __init__(
        self,
        detail: str,
        *,
        user_message: str = MSG_BUSY,
        code: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, user_message=user_message, code=code, retry_after=retry_after)


class PermanentEngineError(EngineError):
    """Retrying cannot help: unknown voice, access denied, invalid input, missing credentials."""

    transient = False


@runtime_checkable
class SpeechEngine(Protocol):
    """What every engine offers. ``voice`` arguments are the name part of a voice id."""

    name: ClassVar[str]
    # The largest text (in characters) the engine accepts in one call.
    max_chunk_chars: int
    # True when the pipeline should call the engine once per sentence (cheap local engines):
    # sentence timings are then exact and the first audio arrives after one sentence. False lets
    # the pipeline pack several sentences into one call (remote engines billed per request).
    chunk_by_sentence: bool

    def voices(self) -> list[Voice]: ...

    def synthesize(self, text: str, *, voice: str) -> AudioPiece: ...


_SAFE_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def safe_code(value: object) -> str:
    """Return ``value`` if it looks like an error code, else a placeholder.

    Error codes go into exception details and logs, so anything that is not a plain token (a
    message, a URL, a header) is refused rather than trusted.
    """
    text = str(value) if value is not None else ""
    return text if _SAFE_CODE.fullmatch(text) else "unknown"


def language_tag(code: str) -> str:
    """Turn "en_US", "en-us" or "EN" into the BCP-47 spelling "en-US" / "en"."""
    parts = [part for part in re.split(r"[-_]", code.strip()) if part]
    if not parts:
        return ""
    tag = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 2 and part.isalpha():
            tag.append(part.upper())  # region
        elif len(part) == 4 and part.isalpha():
            tag.append(part.title())  # script
        else:
            tag.append(part.lower())
    return "-".join(tag)


def audio_from_wav(data: bytes) -> AudioPiece:
    """Parse a 16-bit PCM WAV into mono PCM.

    Written by hand rather than with ``wave`` because streamed WAVs (espeak-ng ``--stdout``,
    HTTP endpoints) cannot seek back to fill in sizes, so their size fields are 0 or 0xFFFFFFFF;
    we trust the bytes we actually received instead.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    channels = sample_rate = bits = 0
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt_tag, channels, sample_rate = struct.unpack_from("<HHI", data, body)
            (bits,) = struct.unpack_from("<H", data, body + 14)
            if fmt_tag not in (1, 0xFFFE) or bits != 16:
                raise ValueError("only 16-bit integer PCM WAV is supported")
        elif chunk_id == b"data":
            if not sample_rate or not channels:
                raise ValueError("WAV data chunk before its format chunk")
            end = len(data) if size in (0, 0xFFFFFFFF) else min(len(data), body + size)
            return _mono_piece(data[body:end], sample_rate=sample_rate, channels=channels)
        pos = body + size + (size & 1)  # chunks are padded to even sizes
    raise ValueError("WAV without a data chunk")


def _mono_piece(raw: bytes, *, sample_rate: int, channels: int) -> AudioPiece:
    frame = PCM_SAMPLE_WIDTH * channels
    raw = raw[: len(raw) - len(raw) % frame]  # drop a torn last frame
    if channels == 1:
        return AudioPiece(pcm=raw, sample_rate=sample_rate)
    samples = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)
    mono = samples.mean(axis=1).round().astype("<i2")
    return AudioPiece(pcm=mono.tobytes(), sample_rate=sample_rate)


def voice_id(engine: str, name: str) -> str:
    return f"{engine}:{name}"
