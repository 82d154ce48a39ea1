"""Amazon Polly through boto3.

Text is always sent with ``TextType="text"``: user text is never SSML. Audio comes back as
16 kHz 16-bit mono PCM. A second request for the same text asks for Polly's sentence speech
marks (when each sentence starts), so that read-along timings are Polly's own rather than
shared out by character counts; that request is billed like the first, and ``speech_marks=False``
saves it. Every botocore failure is translated into a Transient or Permanent
``EngineError`` that carries only the error *code*: AWS messages can quote request details,
and no key or secret may reach an exception or a log line.
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any, ClassVar

import boto3
import botocore.exceptions
from botocore.config import Config

from speech_processing.engines.base import (
    MSG_BAD_AUDIO,
    MSG_BUSY,
    MSG_NOT_CONFIGURED,
    MSG_REJECTED,
    MSG_UNREACHABLE,
    MSG_VOICE_UNAVAILABLE,
    AudioPiece,
    EngineError,
    PermanentEngineError,
    SpeechMark,
    TransientEngineError,
    Voice,
    language_tag,
    safe_code,
    voice_id,
)

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000  # Polly's PCM output offers 8000 and 16000 Hz
MAX_SPEECH_MARKS = 2000  # far more sentences than 3000 characters can hold
DEFAULT_ENGINE_PREFERENCE = ("neural", "standard")

# Error codes by meaning. Polly spells most of them with an "Exception" suffix and some AWS
# front ends without, so both spellings are compared with the suffix removed.
_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "TooManyRequests",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "ServiceFailure",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "RequestTimeout",
        "SlowDown",
    }
)
_VOICE_CODES = frozenset({"LanguageNotSupported", "EngineNotSupported", "ResourceNotFound"})
_AUTH_CODES = frozenset(
    {
        "AccessDenied",
        "UnrecognizedClient",
        "InvalidSignature",
        "SignatureDoesNotMatch",
        "InvalidClientTokenId",
        "ExpiredToken",
        "MissingAuthenticationToken",
        "IncompleteSignature",
        "NotAuthorized",
    }
)
_INPUT_CODES = frozenset(
    {
        "InvalidParameterValue",
        "Validation",
        "TextLengthExceeded",
        "InvalidSampleRate",
        "InvalidSsml",
        "LexiconNotFound",
        "MarksNotSupportedForFormat",
        "SsmlMarksNotSupportedForTextType",
        "InvalidNextToken",
        "Conflict",
    }
)
_CONNECTION_ERRORS = (
    botocore.exceptions.ConnectionError,  # endpoint, connect timeout, proxy, SSL
    botocore.exceptions.HTTPClientError,  # read timeout, connection closed, streaming
)
_CREDENTIAL_ERRORS = (
    botocore.exceptions.NoCredentialsError,
    botocore.exceptions.PartialCredentialsError,
    botocore.exceptions.CredentialRetrievalError,
    botocore.exceptions.NoRegionError,
)


class PollyEngine:
    name: ClassVar[str] = "polly"
    # Polly bills by character, not by request, and each request costs a round trip: pack
    # sentences up to its limit (3000 billed characters; we keep a margin).
    chunk_by_sentence: bool = False

    def __init__(
        self,
        *,
        client: Any = None,
        region_name: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        endpoint_url: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 2,
        max_chunk_chars: int = 2900,
        engine_preference: Iterable[str] = DEFAULT_ENGINE_PREFERENCE,
        speech_marks: bool = True,
    ) -> None:
        self.max_chunk_chars = max_chunk_chars
        self.speech_marks = speech_marks
        self.engine_preference = tuple(engine_preference)
        secrets = (aws_access_key_id, aws_secret_access_key, aws_session_token)
        install_log_redaction(secret for secret in secrets if secret)
        # The keys go to boto3 and are not kept on this object, so no repr() or traceback
        # local of ours can show them. ``client`` is public so tests can stub it.
        self.client = client or _build_client(
            region_name=region_name,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            endpoint_url=endpoint_url,
            config=Config(
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                # The task layer retries with backoff; botocore retrying as well multiplies.
                retries={"mode": "standard", "total_max_attempts": max_attempts},
            ),
        )
        self._voices: dict[str, tuple[Voice, str]] | None = None  # name → (voice, engine)
        self._lock = threading.Lock()

    # -- voices

    def voices(self) -> list[Voice]:
        return [voice for voice, _ in self._voice_table().values()]

    def _voice_table(self) -> dict[str, tuple[Voice, str]]:
        with self._lock:
            if self._voices is None:
                self._voices = self._describe_voices()
            return self._voices

    def _describe_voices(self) -> dict[str, tuple[Voice, str]]:
        table: dict[str, tuple[Voice, str]] = {}
        token: str | None = None
        while True:
            kwargs = {"NextToken": token} if token else {}
            response = self._call("DescribeVoices", self.client.describe_voices, **kwargs)
            for item in response.get("Voices", []):
                entry = self._voice_entry(item)
                if entry is not None:
                    table[entry[0].name] = entry
            token = response.get("NextToken")
            if not token:
                return table

    def _voice_entry(self, item: dict[str, Any]) -> tuple[Voice, str] | None:
        supported = item.get("SupportedEngines") or ["standard"]
        engine = next((e for e in self.engine_preference if e in supported), None)
        name = str(item.get("Id", ""))
        if engine is None or not name:
            return None
        label = item.get("Name") or name
        voice = Voice(
            id=voice_id(self.name, name),
            engine=self.name,
            name=name,
            language=language_tag(str(item.get("LanguageCode", ""))),
            gender=str(item.get("Gender", "")).lower(),
            description=f"{label} ({item.get('LanguageName', '')}, Amazon Polly {engine})",
        )
        return voice, engine

    # -- synthesis

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        entry = self._voice_table().get(voice)
        if entry is None:
            raise PermanentEngineError("polly: unknown voice", user_message=MSG_VOICE_UNAVAILABLE)
        if len(text) > self.max_chunk_chars:
            raise PermanentEngineError(
                "polly: text longer than max_chunk_chars", user_message=MSG_REJECTED
            )
        response = self._call(
            "SynthesizeSpeech",
            self.client.synthesize_speech,
            Engine=entry[1],
            OutputFormat="pcm",
            SampleRate=str(SAMPLE_RATE),
            Text=text,
            TextType="text",  # never "ssml": this is user text
            VoiceId=voice,
        )
        pcm = self._read_stream("SynthesizeSpeech", response)
        marks = (
            self._sentence_marks(text, voice=voice, engine=entry[1]) if self.speech_marks else ()
        )
        return AudioPiece(pcm=pcm[: len(pcm) - len(pcm) % 2], sample_rate=SAMPLE_RATE, marks=marks)

    def _sentence_marks(self, text: str, *, voice: str, engine: str) -> tuple[SpeechMark, ...]:
        """When each of Polly's sentences starts in the audio of the same request.

        Asked after the audio, and only for precision: if it fails, the audio stands and the
        pipeline shares the time out by characters instead (the failure's code is logged).
        """
        try:
            response = self._call(
                "SynthesizeSpeech",
                self.client.synthesize_speech,
                Engine=engine,
                OutputFormat="json",
                SpeechMarkTypes=["sentence"],
                Text=text,
                TextType="text",
                VoiceId=voice,
            )
            body = self._read_stream("SynthesizeSpeech", response)
        except EngineError:
            return ()
        return parse_speech_marks(body, text)

    def _read_stream(self, operation: str, response: dict[str, Any]) -> bytes:
        stream = response.get("AudioStream")
        if stream is None:
            raise PermanentEngineError("polly: response without audio", user_message=MSG_BAD_AUDIO)
        try:
            return bytes(stream.read())
        except Exception as exc:
            raise _translate(operation, exc) from None
        finally:
            stream.close()

    def _call(self, operation: str, method: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = method(**kwargs)
        except Exception as exc:
            # "from None": the botocore exception stays out of tracebacks our callers log.
            raise _translate(operation, exc) from None
        return result


def parse_speech_marks(body: bytes, text: str) -> tuple[SpeechMark, ...]:
    """Polly's speech marks (one JSON object a line) as sentence starts in ``text``.

    Polly gives offsets in UTF-8 bytes of the text it was sent; they become character offsets
    here. Lines that are not sentence marks, or not what Polly documents, are skipped, and the
    result is ordered with times that never go back.
    """
    byte_starts = []  # the UTF-8 byte offset at which each character starts
    position = 0
    for char in text:
        byte_starts.append(position)
        position += len(char.encode("utf-8", "surrogatepass"))
    marks: list[SpeechMark] = []
    for line in body.decode("utf-8", "replace").splitlines()[:MAX_SPEECH_MARKS]:
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or item.get("type") != "sentence":
                continue
            start, millis = int(item["start"]), float(item["time"])
        except (ValueError, TypeError, KeyError):
            continue
        if not 0 <= start < position or not 0 <= millis < 86_400_000:
            continue
        holder = bisect.bisect_right(byte_starts, start) - 1  # the character holding that byte
        marks.append(SpeechMark(char=holder, seconds=millis / 1000))
    marks.sort(key=lambda mark: (mark.char, mark.seconds))
    ordered: list[SpeechMark] = []
    for mark in marks:
        if ordered and (mark.char == ordered[-1].char or mark.seconds < ordered[-1].seconds):
            continue
        ordered.append(mark)
    return tuple(ordered)


_SESSION: boto3.session.Session | None = None
_SESSION_LOCK = threading.Lock()


def _build_client(**kwargs: Any) -> Any:
    # One session per process: a new session reloads botocore's data files (about 0.2 s),
    # and engines may be built per task. Sessions are not thread-safe, clients are, so only
    # the creation is locked.
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        try:
            return _SESSION.client("polly", **kwargs)
        except botocore.exceptions.NoRegionError:
            raise ValueError("Polly needs a region (region_name).") from None


def classify_error(exc: BaseException) -> EngineError:
    """Map a boto3/botocore exception to a Transient or Permanent EngineError (no messages)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return _classify_client_error(exc)
    name = type(exc).__name__
    if isinstance(exc, _CREDENTIAL_ERRORS):
        return PermanentEngineError(f"polly: {name}", user_message=MSG_NOT_CONFIGURED, code=name)
    if isinstance(exc, botocore.exceptions.ParamValidationError):
        return PermanentEngineError(f"polly: {name}", user_message=MSG_REJECTED, code=name)
    if isinstance(exc, (*_CONNECTION_ERRORS, OSError, TimeoutError)):
        return TransientEngineError(f"polly: {name}", user_message=MSG_UNREACHABLE, code=name)
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        # Unknown client-side trouble: a few retries are cheaper than failing a page wrongly.
        return TransientEngineError(f"polly: {name}", user_message=MSG_BUSY, code=name)
    return PermanentEngineError(f"polly: {name}", code=name)


def _classify_client_error(exc: botocore.exceptions.ClientError) -> EngineError:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    code = safe_code(response.get("Error", {}).get("Code"))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    base = code.removesuffix("Exception")
    detail = f"polly: {code} (HTTP {status})"
    if base in _TRANSIENT_CODES or status == 429 or status >= 500:
        return TransientEngineError(detail, user_message=MSG_BUSY, code=code)
    if base in _VOICE_CODES:
        return PermanentEngineError(detail, user_message=MSG_VOICE_UNAVAILABLE, code=code)
    if base in _AUTH_CODES or status in (401, 403):
        return PermanentEngineError(detail, user_message=MSG_NOT_CONFIGURED, code=code)
    if base in _INPUT_CODES or 400 <= status < 500:
        return PermanentEngineError(detail, user_message=MSG_REJECTED, code=code)
    return TransientEngineError(detail, user_message=MSG_BUSY, code=code)


def _translate(operation: str, exc: BaseException) -> EngineError:
    error = classify_error(exc)
    logger.warning(
        "Polly %s failed: %s (transient=%s)", operation, error.code or "unknown", error.transient
    )
    return error


# -- log redaction ---------------------------------------------------------------------------

# AWS access key ids, the Credential= part of a SigV4 Authorization header, session tokens.
_CREDENTIAL_PATTERNS = re.compile(
    r"\b(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{12,}\b"
    r"|(Credential=)[^,\s'\"]+"
    r"|(x-amz-security-token[:=]\s*['\"]?)[^\s,'\"]+",
    re.IGNORECASE,
)


class _RedactCredentials(logging.Filter):
    """Rewrites botocore log records so configured keys and signing headers never appear.

    botocore logs every request, with its Authorization header, at DEBUG level. That header
    holds the access key id, and S3-compatible stores use ids of any shape, so the configured
    values are redacted literally as well as by pattern.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _CREDENTIAL_PATTERNS.sub(_redacted, message)
        for secret in self.secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def _redacted(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(2) or ""
    return f"{prefix}[redacted]"


_REDACTION = _RedactCredentials()
_REDACTION_LOCK = threading.Lock()


def install_log_redaction(secrets: Iterable[str] = ()) -> None:
    """Attach the redaction filter to every botocore/boto3/urllib3 logger (idempotent)."""
    with _REDACTION_LOCK:
        _REDACTION.secrets.update(secret for secret in secrets if len(secret) >= 8)
        # Filters on a logger see only records logged on that very logger, so every existing
        # one gets it; botocore creates its loggers at import, which has happened by now.
        names = [
            name
            for name in list(logging.Logger.manager.loggerDict)
            if name.split(".")[0] in ("botocore", "boto3", "urllib3", "s3transfer")
        ]
        for name in ("botocore", "boto3", *names):
            target = logging.getLogger(name)
            if _REDACTION not in target.filters:
                target.addFilter(_REDACTION)
