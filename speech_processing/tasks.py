"""Speech tasks: thin wrappers that load ids and call services."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from core.retry import retry_delay
from speech_processing import audiobooks, live, samples, services


def retry_countdown(retries: int, *, retry_after: float | None = None) -> float:
    """Backoff, or what the speech service asked for (``retry_after``), within the limits."""
    return retry_delay(
        retries,
        base=settings.SPEECH_RETRY_BASE_SECONDS,
        cap=longest_retry_wait(),
        requested=retry_after,
    )


def longest_retry_wait() -> float:
    """SPEECH_RETRY_CAP_SECONDS, or less where waiting longer would be overtaken: the sweep
    queues an audio again once it has been pending for STUCK_PENDING_SECONDS, and Redis hands a
    message still held (as a retry waiting for its time is) to another worker after its
    visibility timeout. Either would start a second chain of attempts, early."""
    limits = [settings.SPEECH_RETRY_CAP_SECONDS, settings.STUCK_PENDING_SECONDS]
    visibility = getattr(settings, "BROKER_VISIBILITY_TIMEOUT", None)
    if visibility:
        limits.append(visibility)
    return float(min(limits))


@shared_task(bind=True, name="speech_processing.generate_audio", max_retries=None)
def generate_audio_task(self: Task, audio_id: int) -> None:
    try:
        # A message the broker hands out again lost its worker (see synthesize_audio).
        redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
        services.synthesize_audio(audio_id=audio_id, redelivered=redelivered)
    except services.RetryLater as exc:
        if self.request.retries >= settings.SPEECH_MAX_RETRIES:
            services.fail_after_retries(audio_id=audio_id, message=exc.gave_up)
            return
        countdown = retry_countdown(self.request.retries, retry_after=exc.retry_after)
        raise self.retry(countdown=countdown) from exc


@shared_task(name="speech_processing.make_voice_sample")
def make_voice_sample_task(voice_id: str) -> None:
    samples.make_sample(voice_id=voice_id)


@shared_task(name="speech_processing.sweep_stuck_audio")
def sweep_stuck_audio_task() -> dict[str, int]:
    books = audiobooks.sweep_stuck_audiobooks()
    return {
        **services.sweep_stuck_audio(),
        "audiobooks_released": books["released"],
        "audiobooks_requeued": books["requeued"],
        "stream_parts_removed": live.sweep_stream_parts(),
    }


# How often a whole-document audiobook looks again at pages still being made.
AUDIOBOOK_POLL_SECONDS = 5.0


@shared_task(bind=True, name="speech_processing.make_audiobook")
def make_audiobook_task(self: Task, audiobook_id: int) -> None:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    step = audiobooks.advance_audiobook(audiobook_id=audiobook_id, redelivered=redelivered)
    # (Run eagerly, as in tests, a step is not queued again: it would run at once, in a loop.)
    if step is audiobooks.Step.WAITING and not self.request.is_eager:
        make_audiobook_task.apply_async(args=(audiobook_id,), countdown=AUDIOBOOK_POLL_SECONDS)
