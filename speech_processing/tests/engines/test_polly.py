"""Amazon Polly: botocore Stubber for the API contract, a local server for the HTTP stack."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from speech_processing.engines.base import (
    EngineError,
    PermanentEngineError,
    SpeechEngine,
    TransientEngineError,
)
from speech_processing.engines.polly import PollyEngine, classify_error, parse_speech_marks

KEY = "AKIAEXAMPLEKEY123456"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # a fake, for leak checks
PCM = b"\x01\x02" * 1600

VOICES = [
    {
        "Id": "Joanna",
        "Name": "Joanna",
        "Gender": "Female",
        "LanguageCode": "en-US",
        "LanguageName": "US English",
        "SupportedEngines": ["neural", "standard"],
    },
    {
        "Id": "Brian",
        "Name": "Brian",
        "Gender": "Male",
        "LanguageCode": "en-GB",
        "LanguageName": "British English",
        "SupportedEngines": ["standard"],
    },
    {
        "Id": "Generative",
        "Name": "Generative",
        "Gender": "Female",
        "LanguageCode": "en-US",
        "LanguageName": "US English",
        "SupportedEngines": ["generative"],
    },
]


def make_engine(**options: Any) -> PollyEngine:
    return PollyEngine(
        region_name="eu-west-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        **options,
    )


@pytest.fixture
def engine() -> Iterator[tuple[PollyEngine, Stubber]]:
    polly = make_engine()
    with Stubber(polly.client) as stubber:
        yield polly, stubber
        stubber.assert_no_pending_responses()


def stub_voices(stubber: Stubber) -> None:
    stubber.add_response("describe_voices", {"Voices": VOICES[:1], "NextToken": "t1"}, {})
    stubber.add_response("describe_voices", {"Voices": VOICES[1:]}, {"NextToken": "t1"})


def assert_no_secrets(exc: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    assert isinstance(exc, EngineError)
    for secret in (KEY, SECRET):
        assert secret not in str(exc)
        assert secret not in exc.user_message
        assert secret not in repr(exc)
        assert secret not in caplog.text
        assert all(secret not in record.getMessage() for record in caplog.records)


def test_voices_follow_pages_prefer_neural_and_are_cached(engine) -> None:
    polly, stubber = engine
    assert isinstance(polly, SpeechEngine)
    stub_voices(stubber)
    voices = polly.voices()
    assert [v.id for v in voices] == ["polly:Joanna", "polly:Brian"]  # no pcm-capable engine
    joanna, brian = voices
    assert (joanna.language, joanna.gender) == ("en-US", "female")
    assert (brian.language, brian.gender) == ("en-GB", "male")
    assert "neural" in joanna.description
    assert "standard" in brian.description
    assert polly.voices() == voices  # second call answered from the cache


@pytest.mark.parametrize(("voice", "engine_name"), [("Joanna", "neural"), ("Brian", "standard")])
def test_synthesize_sends_plain_text_pcm_and_the_voice_engine(engine, voice, engine_name) -> None:
    polly, stubber = engine
    stub_voices(stubber)
    text = "<speak>Hello</speak> & goodbye."
    stubber.add_response(
        "synthesize_speech",
        {"AudioStream": StreamingBody(io.BytesIO(PCM), len(PCM)), "ContentType": "audio/pcm"},
        {
            "Engine": engine_name,
            "OutputFormat": "pcm",
            "SampleRate": "16000",
            "Text": text,
            "TextType": "text",
            "VoiceId": voice,
        },
    )
    stub_marks(stubber, text, voice=voice, engine_name=engine_name, marks=[])
    piece = polly.synthesize(text, voice=voice)
    assert piece.pcm == PCM
    assert piece.sample_rate == 16000
    assert piece.marks == ()


def stub_marks(
    stubber: Stubber, text: str, *, voice: str, engine_name: str, marks: list[dict[str, Any]]
) -> None:
    body = "\n".join(json.dumps(mark) for mark in marks).encode()
    stubber.add_response(
        "synthesize_speech",
        {
            "AudioStream": StreamingBody(io.BytesIO(body), len(body)),
            "ContentType": "application/x-json-stream",
        },
        {
            "Engine": engine_name,
            "OutputFormat": "json",
            "SpeechMarkTypes": ["sentence"],
            "Text": text,
            "TextType": "text",
            "VoiceId": voice,
        },
    )


def stub_audio(stubber: Stubber, text: str) -> None:
    stubber.add_response(
        "synthesize_speech",
        {"AudioStream": StreamingBody(io.BytesIO(PCM), len(PCM)), "ContentType": "audio/pcm"},
        {"Engine": "neural", "OutputFormat": "pcm", "SampleRate": "16000", "Text": text,
         "TextType": "text", "VoiceId": "Joanna"},
    )  # fmt: skip


def test_sentence_marks_come_from_a_second_request_in_characters(engine) -> None:
    polly, stubber = engine
    stub_voices(stubber)
    text = "Café au lait. Ça va? Oui."  # é and Ç take two bytes each in UTF-8
    stub_audio(stubber, text)
    stub_marks(
        stubber, text, voice="Joanna", engine_name="neural",
        marks=[
            {"time": 0, "type": "sentence", "start": 0, "end": 14, "value": "Café au lait."},
            {"time": 1250, "type": "sentence", "start": 15, "end": 22, "value": "Ça va?"},
            {"time": 2100, "type": "sentence", "start": 23, "end": 27, "value": "Oui."},
        ],
    )  # fmt: skip
    piece = polly.synthesize(text, voice="Joanna")
    assert [(mark.char, mark.seconds) for mark in piece.marks] == [(0, 0.0), (14, 1.25), (21, 2.1)]
    assert text[14:].startswith("Ça va?")
    assert text[21:] == "Oui."


def test_when_the_marks_fail_the_audio_stands_without_them(engine, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    polly, stubber = engine
    stub_voices(stubber)
    stub_audio(stubber, "Hello there.")
    stubber.add_client_error(
        "synthesize_speech", service_error_code="ThrottlingException",
        service_message=f"slow down {KEY} {SECRET}", http_status_code=400,
    )  # fmt: skip
    piece = polly.synthesize("Hello there.", voice="Joanna")
    assert piece.pcm == PCM
    assert piece.marks == ()
    assert KEY not in caplog.text
    assert SECRET not in caplog.text


def test_marks_can_be_switched_off() -> None:
    polly = make_engine(speech_marks=False)
    with Stubber(polly.client) as stubber:
        stub_voices(stubber)
        stub_audio(stubber, "Hello there.")
        assert polly.synthesize("Hello there.", voice="Joanna").marks == ()
        stubber.assert_no_pending_responses()  # and no second request was made


def test_odd_speech_mark_lines_are_skipped() -> None:
    text = "One. Two. Three."
    lines = [
        b'{"time": 0, "type": "sentence", "start": 0, "end": 4}',
        b"not json",
        b'{"time": 400, "type": "word", "start": 5, "end": 8}',
        b'{"time": 900, "type": "sentence", "start": 10, "end": 16}',
        b'{"time": 500, "type": "sentence", "start": 5, "end": 9}',
        b'{"time": 300, "type": "sentence", "start": 7, "end": 9}',  # goes back in time
        b'{"time": 50, "type": "sentence", "start": 999, "end": 1000}',  # outside the text
        b'["a list"]',
        b'{"time": "soon", "type": "sentence", "start": 1}',
    ]
    marks = parse_speech_marks(b"\n".join(lines), text)
    assert [(mark.char, mark.seconds) for mark in marks] == [(0, 0.0), (5, 0.5), (10, 0.9)]


def test_chunk_limit(engine) -> None:
    polly, stubber = engine
    assert polly.max_chunk_chars == 2900
    assert not polly.chunk_by_sentence
    stub_voices(stubber)
    with pytest.raises(PermanentEngineError):
        polly.synthesize("x" * 2901, voice="Joanna")  # refused before any request


def test_unknown_voice_is_permanent(engine) -> None:
    polly, stubber = engine
    stub_voices(stubber)
    with pytest.raises(PermanentEngineError) as caught:
        polly.synthesize("Hello.", voice="Nobody")
    assert caught.value.user_message == "This voice is not available."


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("ThrottlingException", 400, True),
        ("Throttling", 400, True),
        ("TooManyRequestsException", 429, True),
        ("ServiceUnavailable", 503, True),
        ("ServiceUnavailableException", 503, True),
        ("ServiceFailureException", 500, True),
        ("RequestTimeout", 408, True),
        ("RequestTimeoutException", 408, True),
        ("InternalFailure", 500, True),
        ("SomethingNew", 502, True),
        ("InvalidParameterValue", 400, False),
        ("ValidationException", 400, False),
        ("TextLengthExceededException", 400, False),
        ("InvalidSampleRateException", 400, False),
        ("InvalidSsmlException", 400, False),
        ("LanguageNotSupportedException", 400, False),
        ("EngineNotSupportedException", 400, False),
        ("AccessDenied", 403, False),
        ("AccessDeniedException", 403, False),
        ("UnrecognizedClientException", 403, False),
        ("InvalidSignatureException", 403, False),
        ("SomethingNew", 400, False),
    ],
)
def test_client_errors_are_classified_without_leaking_keys(
    engine, caplog: pytest.LogCaptureFixture, code: str, status: int, transient: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    polly, stubber = engine
    stub_voices(stubber)
    stubber.add_client_error(
        "synthesize_speech",
        service_error_code=code,
        # AWS messages can quote request details; ours must never repeat them.
        service_message=f"Credential={KEY}/20250101/eu-west-1 secret {SECRET}",
        http_status_code=status,
    )
    with pytest.raises(EngineError) as caught:
        polly.synthesize("Hello.", voice="Joanna")
    error = caught.value
    assert error.transient is transient
    assert isinstance(error, TransientEngineError if transient else PermanentEngineError)
    assert error.code == code
    assert error.__cause__ is None
    assert error.__suppress_context__  # "from None": the AWS message is not in tracebacks
    assert_no_secrets(error, caplog)


def test_user_messages_say_what_happened() -> None:
    def client_error(code: str, status: int) -> botocore.exceptions.ClientError:
        response = {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}
        return botocore.exceptions.ClientError(response, "SynthesizeSpeech")

    assert classify_error(client_error("ThrottlingException", 400)).user_message == (
        "The speech service is busy; we will retry."
    )
    assert classify_error(client_error("EngineNotSupportedException", 400)).user_message == (
        "This voice is not available."
    )
    assert classify_error(client_error("InvalidParameterValue", 400)).user_message == (
        "The speech service rejected the request."
    )


class RaisingClient:
    """Answers DescribeVoices, then raises a given botocore exception on SynthesizeSpeech."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def describe_voices(self, **_: Any) -> dict[str, Any]:
        return {"Voices": VOICES}

    def synthesize_speech(self, **_: Any) -> dict[str, Any]:
        raise self.error


ENDPOINT = f"https://{KEY}:{SECRET}@polly.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (botocore.exceptions.EndpointConnectionError(endpoint_url=ENDPOINT), True),
        (botocore.exceptions.ConnectTimeoutError(endpoint_url=ENDPOINT), True),
        (botocore.exceptions.ReadTimeoutError(endpoint_url=ENDPOINT), True),
        (botocore.exceptions.ConnectionClosedError(endpoint_url=ENDPOINT), True),
        (botocore.exceptions.ResponseStreamingError(error=f"reset {KEY}"), True),
        (botocore.exceptions.NoCredentialsError(), False),
        (botocore.exceptions.PartialCredentialsError(provider="env", cred_var=KEY), False),
        (botocore.exceptions.ParamValidationError(report=f"bad {SECRET}"), False),
    ],
)
def test_botocore_errors_are_classified_without_leaking_keys(
    caplog: pytest.LogCaptureFixture, error: BaseException, transient: bool
) -> None:
    caplog.set_level(logging.DEBUG)
    polly = PollyEngine(client=RaisingClient(error))
    with pytest.raises(EngineError) as caught:
        polly.synthesize("Hello.", voice="Joanna")
    assert caught.value.transient is transient
    assert_no_secrets(caught.value, caplog)


def test_credentials_are_not_kept_on_the_engine() -> None:
    polly = make_engine()
    assert KEY not in repr(vars(polly))
    assert SECRET not in repr(vars(polly))


# --------------------------------------------------------------------------- real HTTP stack


class FakePolly(BaseHTTPRequestHandler):
    """Speaks enough of Polly's REST-JSON protocol; answers from a script of outcomes."""

    script: list[str]
    requests: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _reply(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        body = json.dumps({"Voices": VOICES}).encode()
        self._reply(200, body, {"Content-Type": "application/json"})

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        self.requests.append({"headers": dict(self.headers), "body": body})
        if body.get("OutputFormat") == "json":  # the speech marks that follow good audio
            marks = json.dumps({"time": 0, "type": "sentence", "start": 0, "end": 5}).encode()
            self._reply(200, marks, {"Content-Type": "application/x-json-stream"})
            return
        outcome = self.script.pop(0)
        if outcome == "ok":
            self._reply(200, PCM, {"Content-Type": "audio/pcm"})
            return
        code, status = {"throttle": ("ThrottlingException", 400), "deny": ("AccessDenied", 403)}[
            outcome
        ]
        body = json.dumps({"__type": code, "message": f"no for {KEY} {SECRET}"}).encode()
        self._reply(status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": code})


@pytest.fixture
def polly_server() -> Iterator[tuple[str, type[FakePolly]]]:
    handler = type("Handler", (FakePolly,), {"script": [], "requests": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_signed_requests_never_log_the_key(polly_server, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url, handler = polly_server
    handler.script[:] = ["throttle", "ok", "deny"]
    polly = make_engine(endpoint_url=url, max_attempts=1)

    with pytest.raises(TransientEngineError) as throttled:
        polly.synthesize("First try.", voice="Joanna")
    assert polly.synthesize("Second try.", voice="Joanna").pcm == PCM
    with pytest.raises(PermanentEngineError) as denied:
        polly.synthesize("Third try.", voice="Joanna")

    marks = [
        request["body"] for request in handler.requests if request["body"]["OutputFormat"] == "json"
    ]
    assert marks == [
        {"Engine": "neural", "OutputFormat": "json", "SpeechMarkTypes": ["sentence"],
         "Text": "Second try.", "TextType": "text", "VoiceId": "Joanna"}
    ]  # fmt: skip
    first = handler.requests[0]
    assert KEY in first["headers"]["Authorization"]  # the key really was used to sign
    assert first["body"]["TextType"] == "text"
    assert first["body"]["OutputFormat"] == "pcm"
    # botocore logged the signed request at DEBUG; the filter redacted the credential.
    assert "Authorization" in caplog.text
    assert "Credential=[redacted]" in caplog.text
    assert_no_secrets(throttled.value, caplog)
    assert_no_secrets(denied.value, caplog)


def test_a_client_can_be_handed_in() -> None:
    client = boto3.client(
        "polly", region_name="us-east-1", aws_access_key_id=KEY, aws_secret_access_key=SECRET
    )
    with Stubber(client) as stubber:
        stubber.add_response("describe_voices", {"Voices": VOICES}, {})
        assert len(PollyEngine(client=client).voices()) == 2


def test_polly_endpoint_url_setting_sends_requests_to_that_endpoint(polly_server) -> None:
    """POLLY_ENDPOINT_URL, read by the settings in a fresh interpreter as a deployment does,
    reaches the client: a VPC endpoint or a stand-in, not boto3's own AWS_ENDPOINT_URL_POLLY."""
    url, handler = polly_server
    handler.script[:] = ["ok"]
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        DJANGO_SETTINGS_MODULE="core.settings.test",
        PYTHONPATH=str(Path(__file__).resolve().parents[3]),
        POLLY_REGION="eu-west-1",
        POLLY_ACCESS_KEY_ID=KEY,
        POLLY_SECRET_ACCESS_KEY=SECRET,
        POLLY_ENDPOINT_URL=url,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    code = (
        "import django; django.setup(); from speech_processing.voices import get_engine; "
        "print(len(get_engine('polly').synthesize('Hello there.', voice='Joanna').pcm))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == str(len(PCM))
    (request,) = [r for r in handler.requests if r["body"]["OutputFormat"] == "pcm"]
    assert request["body"]["Text"] == "Hello there."
    assert "eu-west-1/polly" in request["headers"]["Authorization"]  # signed for Polly
