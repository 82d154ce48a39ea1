"""Speech tasks: thin wrappers that load ids and call services."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from core.retry import backoff_seconds
from speech_processing import audiobooks, live, services


def retry_countdown(retries: int) -> float:
    return backoff_seconds(
        retries, base=settings.SPEECH_RETRY_BASE_SECONDS, cap=settings.SPEECH_RETRY_CAP_SECONDS
    )


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
        raise self.retry(countdown=retry_countdown(self.request.retries)) from exc


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
