"""Tasks that fail for good: a TaskFailure with the logged error id, and at most one email to the
admin address per object an hour."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from celery import shared_task
from django.core import mail
from django.utils import timezone

from document_processing import services as document_services
from document_processing.models import Document, Page
from document_processing.tests.factories import DocumentFactory, document_with_pages
from operations import failures
from operations.failures import record_task_failure
from operations.models import TaskFailure
from operations.services import update_site_settings
from speech_processing import services as speech_services
from speech_processing import voices
from speech_processing.models import Audio
from users.models import User

pytestmark = pytest.mark.django_db

ADMIN = "ops@example.com"


@pytest.fixture
def page(alice: User) -> Page:
    return document_with_pages(owner=alice, pages=1).pages.get()


@pytest.fixture
def alerts_on(staff: User) -> None:
    update_site_settings(staff=staff, values={"admin_email": ADMIN})


def make_audio(page: Page, user: User) -> Audio:
    return Audio.objects.create(page=page, voice="fake:alpha", engine="fake", created_by=user)


def break_the_engine(settings: Any) -> None:
    settings.SPEECH_ENGINES = {"piper": {}, "fake": {"fail_permanently": True}}
    voices.reset_caches()


def test_a_permanent_synthesis_failure_is_recorded_and_emailed(
    page: Page, alice: User, settings: Any, alerts_on: None,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    break_the_engine(settings)
    audio = make_audio(page, alice)
    with django_capture_on_commit_callbacks(execute=True):
        speech_services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    failure = TaskFailure.objects.get()
    assert failure.task == "speech_processing.generate_audio"
    assert (failure.object_type, failure.object_id) == ("audio", str(audio.pk))
    assert failure.message == audio.error_message
    assert len(failure.error_id) == 32
    assert failure.alerted
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [ADMIN]
    assert f"audio {audio.pk}" in email.subject
    assert failure.error_id in email.body
    assert "/dashboard/failures/" in email.body


def test_an_unexpected_error_keeps_the_error_id_of_the_log_line(
    page: Page, alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(speech_services, "synthesize_text", explode)
    audio = make_audio(page, alice)
    with caplog.at_level(logging.ERROR, logger="pagecast.errors"):
        speech_services.synthesize_audio(audio_id=audio.pk)
    failure = TaskFailure.objects.get()
    logged = [record for record in caplog.records if getattr(record, "error_id", None)]
    assert [record.error_id for record in logged] == [failure.error_id]  # type: ignore[attr-defined]
    assert "secret detail" not in failure.message
    assert failure.error_id[:8] in failure.message


def test_a_page_without_speakable_text_is_not_an_operations_failure(
    page: Page, alice: User
) -> None:
    Page.objects.filter(pk=page.pk).update(text="  ...  ")
    audio = make_audio(page, alice)
    speech_services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
    assert not TaskFailure.objects.exists()


def test_giving_up_after_retries_is_recorded(page: Page, alice: User) -> None:
    audio = make_audio(page, alice)
    speech_services.fail_after_retries(audio_id=audio.pk, message="The service stayed away.")
    failure = TaskFailure.objects.get()
    assert failure.message == "The service stayed away."
    # A second call finds nothing left to fail and records nothing more.
    speech_services.fail_after_retries(audio_id=audio.pk, message="The service stayed away.")
    assert TaskFailure.objects.count() == 1


def test_an_extraction_that_breaks_is_recorded(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(document: Document) -> None:
        raise RuntimeError("parser crashed")

    monkeypatch.setattr(document_services, "_extract", explode)
    document = DocumentFactory.create(owner=alice, status=Document.Status.PENDING)
    document_services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    failure = TaskFailure.objects.get()
    assert failure.task == "document_processing.extract_document"
    assert (failure.object_type, failure.object_id) == ("document", str(document.pk))


def test_an_exception_that_escapes_a_task_is_recorded_with_its_logged_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @shared_task(name="operations.tests.always_fails")
    def always_fails(document_id: int) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="pagecast.errors"):
        result = always_fails.apply(args=(41,), throw=False)
    assert result.state == "FAILURE"
    failure = TaskFailure.objects.get()
    assert failure.task == "operations.tests.always_fails"
    assert failure.object_id == ""  # not a task whose argument is known to be an object
    logged = {getattr(record, "error_id", None) for record in caplog.records}
    assert failure.error_id in logged


def test_known_tasks_name_their_object(caplog: pytest.LogCaptureFixture) -> None:
    from core.celery import task_failed

    task_failed.send(
        sender=None, task_name="document_processing.extract_document", task_id="t-1",
        args=(17,), error_id="e" * 32,
    )  # fmt: skip
    failure = TaskFailure.objects.get()
    assert (failure.object_type, failure.object_id, failure.error_id) == (
        "document", "17", "e" * 32,
    )  # fmt: skip


# --- One email per object an hour -----------------------------------------------------------------


def record(object_id: int, *, minutes: float) -> TaskFailure | None:
    return record_task_failure(
        task="speech_processing.generate_audio", message="It failed.", object_type="audio",
        object_id=object_id, now=timezone.now() + timedelta(minutes=minutes),
    )  # fmt: skip


def test_at_most_one_email_per_object_an_hour(
    alerts_on: None, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        record(1, minutes=0)
        record(1, minutes=20)
        record(1, minutes=59)
        record(2, minutes=30)
        record(1, minutes=61)
    assert TaskFailure.objects.count() == 5
    subjects = [email.subject for email in mail.outbox]
    assert len(subjects) == 3
    assert sum("audio 1" in subject for subject in subjects) == 2
    assert sum("audio 2" in subject for subject in subjects) == 1
    alerted = list(TaskFailure.objects.order_by("created_at").values_list("alerted", flat=True))
    assert alerted == [True, False, True, False, True]


def test_without_an_admin_address_failures_are_recorded_but_not_emailed(
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        failure = record(1, minutes=0)
    assert failure is not None
    assert not failure.alerted
    assert mail.outbox == []


def test_the_environment_gives_the_default_address(
    settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.ADMIN_NOTIFICATION_EMAIL = "env-ops@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        record(1, minutes=0)
    assert [email.to for email in mail.outbox] == [["env-ops@example.com"]]


def test_an_email_that_cannot_be_sent_loses_nothing_else(
    alerts_on: None, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise OSError("mail server down")

    monkeypatch.setattr(failures, "send_mail", refuse)
    with django_capture_on_commit_callbacks(execute=True):
        failure = record(1, minutes=0)
    assert failure is not None
    assert TaskFailure.objects.filter(pk=failure.pk).exists()


def test_a_failure_that_cannot_be_recorded_does_not_break_the_task(
    page: Page, alice: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**kwargs: Any) -> None:
        raise RuntimeError("database trouble")

    monkeypatch.setattr(TaskFailure.objects, "create", refuse)
    break_the_engine(settings)
    audio = make_audio(page, alice)
    speech_services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.FAILED
