"""Synthesis as the worker runs it: claims, retries, failures, storage (races: test_concurrency)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.exceptions import Conflict, QuotaExceeded
from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from speech_processing import services, voices
from speech_processing.encoding import Mp3Encoder
from speech_processing.engines.base import PCM_SAMPLE_WIDTH, AudioPiece
from speech_processing.engines.fake import FakeEngine
from speech_processing.models import Audio
from speech_processing.tasks import generate_audio_task, retry_countdown
from speech_processing.tests.conftest import run_task
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(alice: User) -> Page:
    return document_with_pages(owner=alice, pages=1).pages.get()


def stored_audio() -> set[str]:
    return set(default_storage.listdir("audio")[1]) if default_storage.exists("audio") else set()


def make(page: Page, user: User, voice: str = "fake:alpha") -> Audio:
    return Audio.objects.create(page=page, voice=voice, engine=voice.split(":")[0], created_by=user)


def use_engines(settings: Any, **engines: dict[str, object]) -> None:
    settings.SPEECH_ENGINES = {"piper": {}, **engines}
    voices.reset_caches()


def test_a_duplicate_delivery_makes_one_file(page: Page, alice: User) -> None:
    audio = make(page, alice)
    before = stored_audio()
    services.synthesize_audio(audio_id=audio.pk)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert audio.attempts == 1
    assert len(stored_audio() - before) == 1


def test_timings_cover_the_audio_and_index_the_text(page: Page, alice: User) -> None:
    Page.objects.filter(pk=page.pk).update(text="First sentence here. Second one follows! Third?")
    audio = make(page, alice)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    starts = [timing["start"] for timing in audio.timings]
    assert len(audio.timings) == 3
    spoken = ["First sentence here.", "Second one follows!", "Third?"]
    text = "First sentence here. Second one follows! Third?"
    assert [text[t["char_start"] : t["char_end"]] for t in audio.timings] == spoken
    assert starts == sorted(starts)
    assert audio.timings[-1]["end"] == pytest.approx(audio.duration_seconds, abs=0.05)


@dataclass
class Work:
    """What one synthesis did, counted: none of it may grow faster than the text."""

    engine_chars: int = 0  # characters sent to the engine
    encoded_bytes: int = 0  # PCM given to the MP3 encoder
    stored_bytes: int = 0  # bytes written to storage (stream parts and the made file)
    read_bytes: int = 0  # bytes read back from storage
    sql_chars: int = 0  # SQL sent to the database, values included (a growing JSON field)
    mp3_bytes: int = 0  # the made file
    pcm_bytes: float = 0  # the made audio's length as PCM, pauses included (to the millisecond)


def synthesis_work(page: Page, user: User, sentences: int) -> Work:
    """Synthesise a page of `sentences` sentences as the worker does, counting its work."""
    text = " ".join(f"Sentence number {n} is spoken here." for n in range(sentences))
    Page.objects.filter(pk=page.pk).update(text=text, char_count=len(text))
    work = Work()
    rates: set[int] = set()
    engine_synthesize = FakeEngine.synthesize
    encode = Mp3Encoder.encode
    save, open_file = default_storage.save, default_storage.open

    def counted_synthesize(engine: FakeEngine, text: str, *, voice: str) -> AudioPiece:
        work.engine_chars += len(text)
        piece = engine_synthesize(engine, text, voice=voice)
        rates.add(piece.sample_rate)
        return piece

    def counted_encode(encoder: Mp3Encoder, pcm: bytes) -> bytes:
        work.encoded_bytes += len(pcm)
        return encode(encoder, pcm)

    def counted_save(name: str, content: Any, *args: Any, **kwargs: Any) -> str:
        work.stored_bytes += content.size
        return save(name, content, *args, **kwargs)

    class CountedRead:
        def __init__(self, handle: Any) -> None:
            self.handle = handle

        def __getattr__(self, name: str) -> Any:
            return getattr(self.handle, name)

        def __enter__(self) -> CountedRead:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def read(self, *args: Any) -> bytes:
            data: bytes = self.handle.read(*args)
            work.read_bytes += len(data)
            return data

    audio = make(page, user)
    with pytest.MonkeyPatch.context() as patch, CaptureQueriesContext(connection) as queries:
        patch.setattr(FakeEngine, "synthesize", counted_synthesize)
        patch.setattr(Mp3Encoder, "encode", counted_encode)
        patch.setattr(default_storage, "save", counted_save)
        patch.setattr(default_storage, "open", lambda *a, **k: CountedRead(open_file(*a, **k)))
        services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert len(audio.timings) == sentences
    (rate,) = rates
    work.sql_chars = sum(len(query["sql"]) for query in queries.captured_queries)
    work.mp3_bytes = audio.size_bytes or 0
    work.pcm_bytes = (audio.duration_seconds or 0) * rate * PCM_SAMPLE_WIDTH
    default_storage.delete(audio.file_key)
    audio.delete()  # the next page's audio takes its place
    return work


def test_the_work_of_synthesis_grows_linearly_with_the_text(page: Page, alice: User) -> None:
    """Counted, not timed: each sentence goes to the engine once, each sample through the
    encoder once, each MP3 byte to a stream part at most once and to the made file once; nothing
    is read back, and no growing field is written to the row over and over."""
    small = synthesis_work(page, alice, 10)
    large = synthesis_work(page, alice, 80)  # eight times the text
    for work in (small, large):
        assert work.encoded_bytes == pytest.approx(work.pcm_bytes, abs=work.pcm_bytes / 1000)
        assert work.mp3_bytes <= work.stored_bytes <= 2 * work.mp3_bytes
        assert work.read_bytes == 0
    assert large.engine_chars == pytest.approx(8 * small.engine_chars, rel=0.1)
    assert large.encoded_bytes == pytest.approx(8 * small.encoded_bytes, rel=0.1)
    assert large.mp3_bytes == pytest.approx(8 * small.mp3_bytes, rel=0.1)
    # The fixed statements (the claim, the completion) and the timings written once with the
    # completion grow slower than the text; saving all the timings so far at every sentence
    # would grow with its square (20 times as much SQL here).
    assert large.sql_chars < 8 * small.sql_chars


def test_transient_failures_retry_then_complete(page: Page, alice: User, settings: Any) -> None:
    use_engines(settings, fake={"fail_transient_times": 2})
    settings.SPEECH_RETRY_BASE_SECONDS = 0
    audio = make(page, alice)
    run_task(generate_audio_task, audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert audio.attempts == 3


def test_transient_failures_give_up_after_the_maximum(
    page: Page, alice: User, settings: Any
) -> None:
    use_engines(settings, fake={"fail_transient_times": 100})
    settings.SPEECH_RETRY_BASE_SECONDS = 0
    settings.SPEECH_MAX_RETRIES = 2
    audio = make(page, alice)
    run_task(generate_audio_task, audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.error_message == "The speech service stayed unavailable. Please retry later."
    assert audio.attempts == 3
    assert not audio.file_key


def test_permanent_failures_fail_at_once(page: Page, alice: User, settings: Any) -> None:
    use_engines(settings, fake={"fail_permanently": True})
    audio = make(page, alice)
    run_task(generate_audio_task, audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.attempts == 1
    assert audio.error_message.endswith(".")


def test_storage_failure_is_retried_then_failed_with_nothing_stored(
    page: Page, alice: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SPEECH_RETRY_BASE_SECONDS = 0
    settings.SPEECH_MAX_RETRIES = 2
    before = stored_audio()

    def refuse(*args: object, **kwargs: object) -> str:
        raise OSError("No space left on device")

    monkeypatch.setattr(default_storage, "save", refuse)
    audio = make(page, alice)
    run_task(generate_audio_task, audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.attempts == 3
    assert not audio.file_key
    assert stored_audio() == before


def test_soft_time_limit_fails_the_row(
    page: Page, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_slow(*args: object, **kwargs: object) -> None:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(services, "synthesize_text", too_slow)
    audio = make(page, alice)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.error_message == "Making this audio took too long."


def test_audio_deleted_while_being_made_leaves_no_file(
    page: Page, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = services.synthesize_text
    audio = make(page, alice)
    before = stored_audio()

    def delete_meanwhile(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        Audio.objects.filter(pk=audio.pk).update(lifetime_status=Audio.Lifetime.DELETED)
        return result

    monkeypatch.setattr(services, "synthesize_text", delete_meanwhile)
    services.synthesize_audio(audio_id=audio.pk)
    assert stored_audio() == before
    assert not Audio.objects.get(pk=audio.pk).file_key


def test_unexpected_errors_fail_with_an_error_id(
    page: Page, alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("onnx session at /opt/models/x exploded")

    monkeypatch.setattr(services, "synthesize_text", broken)
    audio = make(page, alice)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert "/opt/models" not in audio.error_message
    assert "error" in audio.error_message
    assert "/opt/models/x exploded" in caplog.text


@pytest.mark.parametrize(
    "text",
    [
        "Hello\x01 there\x07, friend.\x1b[31m",
        "Emoji 🎉🎉 everywhere 🙂.",
        "A " + "x" * 5000 + " long word.",
        "<speak><break time='10s'/><prosody rate='x-fast'>Markup</prosody></speak> ends.",
        "Sentence number one. " * 1000,  # about 20,000 characters
    ],
)
def test_awkward_text_is_spoken_safely(page: Page, alice: User, text: str) -> None:
    Page.objects.filter(pk=page.pk).update(text=text)
    audio = make(page, alice)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED, audio.error_message
    assert audio.duration_seconds is not None
    assert audio.duration_seconds > 0


def test_backoff_grows_with_jitter_and_a_cap(settings: Any) -> None:
    settings.SPEECH_RETRY_BASE_SECONDS = 10
    settings.SPEECH_RETRY_CAP_SECONDS = 600
    first = [retry_countdown(0) for _ in range(200)]
    assert min(first) >= 8
    assert max(first) <= 12
    assert len({round(value, 3) for value in first}) > 50  # spread out, not in lock step
    assert 32 <= retry_countdown(2) <= 48
    assert retry_countdown(20) <= 600 * 1.2


def test_quota_and_conflicts_in_the_service(page: Page, alice: User, settings: Any) -> None:
    settings.AUDIO_MAX_PER_PAGE = 1
    services.create_audio_record(page=page, voice="fake:alpha", user=alice)
    with pytest.raises(Conflict):
        services.create_audio_record(page=page, voice="fake:alpha", user=alice)
    with pytest.raises(QuotaExceeded):
        services.create_audio_record(page=page, voice="fake:beta", user=alice)


# --- Amazon Polly through the whole task, with botocore's Stubber -----------------------------

POLLY_VOICES = {
    "Voices": [
        {
            "Id": "Joanna", "Name": "Joanna", "Gender": "Female", "LanguageCode": "en-US",
            "LanguageName": "US English", "SupportedEngines": ["neural", "standard"],
        }
    ]
}  # fmt: skip
PCM = b"\x10\x00\xf0\xff" * 8000


def polly_engine_options() -> tuple[dict[str, object], Stubber]:
    client = boto3.client(
        "polly", region_name="eu-west-1",
        aws_access_key_id="AKIAEXAMPLEKEY123456", aws_secret_access_key="x" * 40,
    )  # fmt: skip
    return {"client": client}, Stubber(client)


def test_polly_throttling_twice_then_success_completes(
    page: Page, alice: User, settings: Any
) -> None:
    options, stubber = polly_engine_options()
    use_engines(settings, polly=options)
    settings.SPEECH_RETRY_BASE_SECONDS = 0
    Page.objects.filter(pk=page.pk).update(text="Hello from Polly.")
    stubber.add_response("describe_voices", POLLY_VOICES, {})
    for _ in range(2):
        stubber.add_client_error(
            "synthesize_speech", service_error_code="ThrottlingException", http_status_code=400
        )
    stubber.add_response(
        "synthesize_speech",
        {"AudioStream": StreamingBody(io.BytesIO(PCM), len(PCM)), "ContentType": "audio/pcm"},
    )
    with stubber:
        audio = services.create_audio_record(page=page, voice="polly:Joanna", user=alice)
        run_task(generate_audio_task, audio.pk)
        stubber.assert_no_pending_responses()
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert audio.attempts == 3
    assert audio.engine == "polly"


def test_polly_access_denied_fails_at_once_without_secrets(
    page: Page, alice: User, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    options, stubber = polly_engine_options()
    use_engines(settings, polly=options)
    Page.objects.filter(pk=page.pk).update(text="Hello from Polly.")
    stubber.add_response("describe_voices", POLLY_VOICES, {})
    stubber.add_client_error(
        "synthesize_speech", service_error_code="AccessDeniedException", http_status_code=403,
        service_message="User AKIAEXAMPLEKEY123456 is not authorized",
    )  # fmt: skip
    with stubber:
        audio = services.create_audio_record(page=page, voice="polly:Joanna", user=alice)
        run_task(generate_audio_task, audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.attempts == 1
    assert "AKIA" not in audio.error_message
    assert "AKIAEXAMPLEKEY123456" not in caplog.text


# --- The local voice, for real ------------------------------------------------------------------


@pytest.mark.slow
def test_the_local_piper_voice_speaks_a_page(page: Page, alice: User) -> None:
    Page.objects.filter(pk=page.pk).update(text="Pagecast reads this page aloud.")
    audio = services.create_audio_record(page=page, voice="piper:en_US-joe-medium", user=alice)
    services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED, audio.error_message
    assert 1.0 < (audio.duration_seconds or 0) < 6.0
    with default_storage.open(audio.file_key, "rb") as handle:
        head = handle.read(4)
    assert head[:3] == b"ID3" or head[0] == 0xFF
