"""Synthesis as the worker runs it: claims, retries, failures, storage (races: test_concurrency)."""

from __future__ import annotations

import io
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import default_storage

from core.exceptions import Conflict, QuotaExceeded
from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from speech_processing import services, voices
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
