"""The beat job that recovers audio a lost message or a killed worker left behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from document_processing.tests.factories import document_with_pages
from speech_processing import services
from speech_processing.models import Audio
from users.models import User

pytestmark = pytest.mark.django_db


def audio_for(owner: User, **fields: Any) -> Audio:
    page = document_with_pages(owner=owner, pages=1).pages.get()
    return Audio.objects.create(page=page, voice="fake:alpha", engine="fake", **fields)


def test_audio_whose_worker_died_is_made_exactly_once(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    audio = audio_for(alice, status=Audio.Status.GENERATING, attempts=1, started_at=timezone.now())
    later = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_stuck_audio(now=later) == {"failed": 0, "requeued": 1}
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert audio.attempts == 2
    assert audio.file_key


def test_audio_interrupted_too_often_fails(alice: User, settings: Any) -> None:
    settings.SPEECH_MAX_RETRIES = 2
    audio = audio_for(alice, status=Audio.Status.GENERATING, attempts=3, started_at=timezone.now())
    later = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    assert services.sweep_stuck_audio(now=later)["failed"] == 1
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert audio.error_message == "Making this audio was interrupted too many times."


def test_pending_audio_is_queued_again_but_deleted_audio_is_not(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    waiting = audio_for(alice)
    deleted = audio_for(alice, lifetime_status=Audio.Lifetime.DELETED)
    later = timezone.now() + timedelta(seconds=settings.STUCK_PENDING_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_stuck_audio(now=later)["requeued"] == 1
    waiting.refresh_from_db()
    deleted.refresh_from_db()
    assert waiting.status == Audio.Status.COMPLETED
    assert deleted.status == Audio.Status.PENDING


def test_audio_being_made_or_briefly_waiting_is_left_alone(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    now = timezone.now()
    running = audio_for(alice, status=Audio.Status.GENERATING, attempts=1, started_at=now)
    waiting = audio_for(alice)
    limit = min(settings.CELERY_TASK_TIME_LIMIT, settings.STUCK_PENDING_SECONDS)
    soon = now + timedelta(seconds=limit - 1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert services.sweep_stuck_audio(now=soon) == {"failed": 0, "requeued": 0}
    assert callbacks == []
    running.refresh_from_db()
    waiting.refresh_from_db()
    assert (running.status, running.attempts) == (Audio.Status.GENERATING, 1)
    assert waiting.status == Audio.Status.PENDING
