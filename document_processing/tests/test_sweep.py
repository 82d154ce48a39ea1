"""The beat job that recovers documents a lost message or a killed worker left behind."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from document_processing import services
from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory
from users.models import User

pytestmark = pytest.mark.django_db


def stored(owner: User, **fields: Any) -> Document:
    key = default_storage.save("originals/sweep.md", ContentFile(b"# A\n\nSome text."))
    return DocumentFactory.create(owner=owner, file_key=key, source_type="file", **fields)


def later(seconds: float) -> Any:
    return timezone.now() + timedelta(seconds=seconds)


def test_a_document_whose_worker_died_is_processed_again(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    document = stored(alice, status=Document.Status.PROCESSING, extraction_attempts=1,
                      processing_started_at=timezone.now())  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        result = services.sweep_stuck_documents(now=later(settings.CELERY_TASK_TIME_LIMIT + 120))
    assert result == {"failed": 0, "requeued": 1}
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED
    assert document.extraction_attempts == 2


def test_a_document_interrupted_too_often_fails_clearly(alice: User, settings: Any) -> None:
    document = stored(alice, status=Document.Status.PROCESSING, extraction_attempts=3,
                      processing_started_at=timezone.now())  # fmt: skip
    result = services.sweep_stuck_documents(now=later(settings.CELERY_TASK_TIME_LIMIT + 120))
    assert result["failed"] == 1
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error_message == "Processing this document was interrupted too many times."


def test_a_lost_message_is_sent_again(
    alice: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    document = stored(alice, status=Document.Status.PENDING)
    with django_capture_on_commit_callbacks(execute=True):
        services.sweep_stuck_documents(now=later(settings.STUCK_PENDING_SECONDS + 1))
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED


def test_recent_and_running_work_is_left_alone(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    stored(alice, status=Document.Status.PENDING)
    stored(alice, status=Document.Status.PROCESSING, processing_started_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = services.sweep_stuck_documents(now=later(60))
    assert result == {"failed": 0, "requeued": 0}
    assert callbacks == []


def test_the_sweep_runs_on_a_schedule(settings: Any) -> None:
    from core.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {
        "document_processing.sweep_stuck_documents",
        "speech_processing.sweep_stuck_audio",
    } <= tasks
    assert "document_processing.sweep_stuck_documents" in app.tasks


def test_a_redelivered_message_takes_over_the_claim_of_its_dead_worker(alice: User) -> None:
    document = stored(alice, status=Document.Status.PROCESSING, extraction_attempts=1,
                      processing_started_at=timezone.now())  # fmt: skip
    # A duplicate delivery (not a redelivery) leaves a running claim alone…
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert (document.status, document.extraction_attempts) == (Document.Status.PROCESSING, 1)
    # …while the broker's redelivery after a worker died takes it over at once.
    services.extract_document(document_id=document.pk, redelivered=True)
    document.refresh_from_db()
    assert (document.status, document.extraction_attempts) == (Document.Status.COMPLETED, 2)
    assert document.pages.count() == 1


def test_a_document_whose_workers_keep_dying_fails_on_redelivery(
    alice: User, settings: Any
) -> None:
    document = stored(alice, status=Document.Status.PROCESSING,
                      extraction_attempts=settings.MAX_EXTRACTION_ATTEMPTS,
                      processing_started_at=timezone.now())  # fmt: skip
    services.extract_document(document_id=document.pk, redelivered=True)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error_message == "Processing this document was interrupted too many times."
    # A completed document is never taken over, however often its message comes back.
    Document.objects.filter(pk=document.pk).update(status=Document.Status.COMPLETED)
    services.extract_document(document_id=document.pk, redelivered=True)
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED
