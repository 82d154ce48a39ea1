"""Retention with a controlled clock: warn owners once, then expire audio and delete its file."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from conftest import client_for
from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from operations import retention
from operations.models import ExpiryNotice
from operations.services import update_site_settings
from operations.tasks import expire_audio_task
from speech_processing import services as speech_services
from speech_processing.models import Audio
from users.models import User

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def days(count: float) -> datetime:
    return NOW + timedelta(days=count)


@pytest.fixture
def page(alice: User) -> Page:
    return document_with_pages(owner=alice, pages=1, title="Field notes").pages.get()


def kept_audio(page: Page, *, expires_in: float, voice: str = "fake:alpha") -> Audio:
    key = default_storage.save("audio/kept.mp3", ContentFile(b"\xff\xfb\x90\x00" * 16))
    return Audio.objects.create(
        page=page, voice=voice, engine="fake", status=Audio.Status.COMPLETED,
        file_key=key, size_bytes=64, duration_seconds=1.0, created_by=page.document.owner,
        completed_at=NOW - timedelta(days=100), expires_at=days(expires_in),
    )  # fmt: skip


def run(at: datetime, capture: Any, *, dry_run: bool = False) -> retention.RetentionReport:
    with capture(execute=True):
        return retention.run_retention(now=at, dry_run=dry_run)


def test_owners_are_warned_once_about_audio_in_the_warning_window(
    page: Page, django_capture_on_commit_callbacks: Any
) -> None:
    soon = kept_audio(page, expires_in=10)
    kept_audio(page, expires_in=45, voice="fake:beta")  # outside the 30-day window
    report = run(NOW, django_capture_on_commit_callbacks)
    assert (report.warned, report.emails, report.expired) == (1, 1, 0)
    [email] = mail.outbox
    assert email.to == ["alice@example.com"]
    assert "Field notes" in email.body
    assert "(Alpha (English (US), Test tones))" in email.body  # the voice by its display name
    assert days(10).strftime("%Y-%m-%d") in email.body
    assert f"/documents/{page.document_id}/" in email.body
    assert list(ExpiryNotice.objects.values_list("audio_id", flat=True)) == [soon.pk]
    # The next day: nothing new to say.
    again = run(days(1), django_capture_on_commit_callbacks)
    assert (again.warned, again.emails) == (0, 0)
    assert len(mail.outbox) == 1


def test_each_owner_gets_one_email_listing_all_their_audio(
    page: Page, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    kept_audio(page, expires_in=5)
    kept_audio(page, expires_in=6, voice="fake:beta")
    bobs_page = document_with_pages(owner=bob, pages=1, title="Bob's book").pages.get()
    kept_audio(bobs_page, expires_in=7)
    report = run(NOW, django_capture_on_commit_callbacks)
    assert (report.warned, report.emails) == (3, 2)
    by_recipient = {email.to[0]: email for email in mail.outbox}
    assert set(by_recipient) == {"alice@example.com", "bob@example.com"}
    assert by_recipient["alice@example.com"].body.count("Field notes") == 2
    assert "Bob's book" not in by_recipient["alice@example.com"].body


def test_warned_audio_expires_on_its_date_and_its_file_is_deleted(
    page: Page, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    audio = kept_audio(page, expires_in=10)
    key = audio.file_key
    run(NOW, django_capture_on_commit_callbacks)
    assert run(days(9), django_capture_on_commit_callbacks).expired == 0
    assert default_storage.exists(key)
    report = run(days(10), django_capture_on_commit_callbacks)
    assert report.expired == 1
    audio.refresh_from_db()
    assert audio.lifetime_status == Audio.Lifetime.EXPIRED
    assert audio.file_key == ""
    assert not default_storage.exists(key)
    client = client_for(alice)
    assert client.get(f"/api/v1/audios/{audio.pk}/").json()["lifetime_status"] == "expired"
    assert client.get(f"/api/v1/audios/{audio.pk}/download/").status_code == 404


def test_played_audio_is_renewed(
    page: Page, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    audio = kept_audio(page, expires_in=10)
    run(NOW, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    speech_services.mark_played(user=alice, audio=audio)
    audio.refresh_from_db()
    assert audio.expires_at is not None
    assert audio.expires_at > days(179)
    # Past the old date: nothing expires, nobody is told again.
    report = run(days(11), django_capture_on_commit_callbacks)
    assert (report.expired, report.warned) == (0, 0)
    # Within the window of the new date: one new warning, then expiry on the new date.
    assert run(days(160), django_capture_on_commit_callbacks).warned == 1
    assert len(mail.outbox) == 2
    assert run(days(181), django_capture_on_commit_callbacks).expired == 1


def test_audio_past_its_date_that_nobody_was_told_about_gets_the_warning_period(
    page: Page, django_capture_on_commit_callbacks: Any
) -> None:
    # The job did not run for a while, or retention was shortened.
    audio = kept_audio(page, expires_in=-5)
    report = run(NOW, django_capture_on_commit_callbacks)
    assert (report.postponed, report.warned, report.expired) == (1, 1, 0)
    audio.refresh_from_db()
    assert audio.lifetime_status == Audio.Lifetime.ACTIVE
    assert audio.expires_at == days(30)
    assert run(days(30), django_capture_on_commit_callbacks).expired == 1


def test_with_auto_delete_off_nothing_is_warned_about_or_expired(
    page: Page, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    update_site_settings(staff=staff, values={"auto_delete_expired": False})
    audio = kept_audio(page, expires_in=-400)
    report = run(NOW, django_capture_on_commit_callbacks)
    assert report.skipped
    assert mail.outbox == []
    audio.refresh_from_db()
    assert audio.lifetime_status == Audio.Lifetime.ACTIVE
    assert default_storage.exists(audio.file_key)


def test_without_a_warning_period_audio_expires_on_its_date(
    page: Page, staff: User, django_capture_on_commit_callbacks: Any
) -> None:
    update_site_settings(staff=staff, values={"expiry_warning_days": 0})
    kept_audio(page, expires_in=-1)
    report = run(NOW, django_capture_on_commit_callbacks)
    assert (report.warned, report.expired) == (0, 1)
    assert mail.outbox == []


def test_only_kept_audio_is_touched(page: Page, django_capture_on_commit_callbacks: Any) -> None:
    deleted = kept_audio(page, expires_in=-1)
    Audio.objects.filter(pk=deleted.pk).update(lifetime_status=Audio.Lifetime.DELETED)
    failed = Audio.objects.create(
        page=page, voice="fake:beta", engine="fake", status=Audio.Status.FAILED,
        expires_at=days(-1),
    )  # fmt: skip
    report = run(days(100), django_capture_on_commit_callbacks)
    assert (report.postponed, report.warned, report.expired) == (0, 0, 0)
    assert Audio.objects.get(pk=failed.pk).status == Audio.Status.FAILED


def test_a_dry_run_counts_and_changes_nothing(
    page: Page, django_capture_on_commit_callbacks: Any
) -> None:
    due = kept_audio(page, expires_in=3)
    run(NOW, django_capture_on_commit_callbacks)  # warns about `due`
    mail.outbox.clear()
    kept_audio(page, expires_in=20, voice="fake:beta")
    report = run(days(4), django_capture_on_commit_callbacks, dry_run=True)
    assert report.dry_run
    assert (report.warned, report.emails, report.expired) == (1, 1, 1)
    assert mail.outbox == []
    due.refresh_from_db()
    assert due.lifetime_status == Audio.Lifetime.ACTIVE
    assert default_storage.exists(due.file_key)


def test_a_second_run_at_the_same_time_does_nothing(page: Page) -> None:
    kept_audio(page, expires_in=3)
    cache.add(retention.LOCK_KEY, "running", 60)
    report = retention.run_retention(now=NOW)
    assert report.skipped
    assert mail.outbox == []


def test_the_command_runs_the_job(page: Page, django_capture_on_commit_callbacks: Any) -> None:
    kept_audio(page, expires_in=3)
    out = io.StringIO()
    call_command("expire_audio", "--dry-run", stdout=out)
    assert "Dry run" in out.getvalue()
    assert "1 audios warned about in 1 emails" in out.getvalue()
    assert mail.outbox == []
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("expire_audio", stdout=out)
    assert "Dry run" not in out.getvalue()
    assert len(mail.outbox) == 1


def test_beat_runs_the_job_every_day(page: Page) -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["expire-audio"]
    assert entry["task"] == "operations.expire_audio" == expire_audio_task.name
    assert entry["schedule"] == 24 * 60 * 60
    kept_audio(page, expires_in=3)
    result = expire_audio_task.apply().get()
    assert result["warned"] == 1
