"""Site settings: one cached row over the environment's defaults, read by the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import client_for
from core.exceptions import ValidationError
from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from operations.models import SITE_SETTINGS_ID, SiteSettings, StaffAction
from operations.services import update_site_settings
from operations.site_settings import site_settings
from sharing.models import DocumentShare
from speech_processing import services as speech_services
from speech_processing.models import Audio
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(alice: User) -> Page:
    return document_with_pages(owner=alice, pages=1).pages.get()


def share(page: Page, person: User, permission: str) -> None:
    DocumentShare.objects.create(
        document=page.document, shared_with=person, permission=permission,
        shared_by=page.document.owner,
    )  # fmt: skip


# --- Reading --------------------------------------------------------------------------------------


def test_the_row_exists_and_empty_values_mean_the_environments_defaults(settings: Any) -> None:
    assert SiteSettings.objects.filter(pk=SITE_SETTINGS_ID).exists()
    settings.AUDIO_MAX_PER_PAGE = 7
    settings.AUDIO_RETENTION_DAYS = 90
    settings.AUDIO_EXPIRY_WARNING_DAYS = 12
    settings.ADMIN_NOTIFICATION_EMAIL = "ops@example.com"
    config = site_settings()
    assert config.max_audios_per_page == 7
    assert config.upload_max_bytes == settings.UPLOAD_MAX_BYTES
    assert config.audio_retention_days == 90
    assert config.expiry_warning_days == 12
    assert config.admin_email == "ops@example.com"
    assert config.audio_generation_enabled is True
    assert config.auto_delete_expired is True


def test_the_shipped_defaults_are_180_days_kept_and_30_days_warned() -> None:
    config = site_settings()
    assert config.audio_retention_days == 180
    assert config.expiry_warning_days == 30


def test_reading_is_cached_and_a_change_is_seen_at_once(
    staff: User, django_assert_num_queries: Any
) -> None:
    assert site_settings().max_audios_per_page == 4
    with django_assert_num_queries(0):
        assert site_settings().max_audios_per_page == 4
    update_site_settings(staff=staff, values={"max_audios_per_page": 2})
    assert site_settings().max_audios_per_page == 2


def test_a_missing_row_reads_as_the_defaults(settings: Any) -> None:
    SiteSettings.objects.all().delete()
    settings.AUDIO_MAX_PER_PAGE = 3
    assert site_settings().max_audios_per_page == 3


def test_values_stored_before_the_form_had_bounds_are_read_within_them(settings: Any) -> None:
    SiteSettings.objects.filter(pk=SITE_SETTINGS_ID).update(
        audio_retention_days=3_000_000, expiry_warning_days=2_000_000, max_audios_per_page=10**9
    )
    config = site_settings()
    assert config.audio_retention_days == settings.MAX_SETTING_DAYS
    assert config.expiry_warning_days == settings.MAX_SETTING_DAYS
    assert config.max_audios_per_page == settings.MAX_SETTING_AUDIOS_PER_PAGE
    # Made audio gets a date that Python and the database can hold.
    assert (timezone.now() + timedelta(days=config.audio_retention_days)).year < 9999


# --- Changing ---------------------------------------------------------------------------------


def test_a_change_is_recorded_with_the_values_before_and_after(staff: User) -> None:
    update_site_settings(
        staff=staff, values={"audio_generation_enabled": False, "max_audios_per_page": 6}
    )
    action = StaffAction.objects.get()
    assert action.staff == staff
    assert action.staff_email == "staff@example.com"
    assert action.action == StaffAction.Kind.SETTINGS_CHANGE
    assert action.via == StaffAction.Via.DASHBOARD
    assert action.before == {"audio_generation_enabled": True, "max_audios_per_page": None}
    assert action.after == {"audio_generation_enabled": False, "max_audios_per_page": 6}
    assert SiteSettings.objects.get().updated_by == staff


def test_saving_the_same_values_records_nothing(staff: User) -> None:
    update_site_settings(staff=staff, values={"max_audios_per_page": None})
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"upload_max_bytes": 10**12}, "upload_max_bytes"),
        ({"upload_max_bytes": 10}, "upload_max_bytes"),
        ({"max_audios_per_page": 0}, "max_audios_per_page"),
        ({"audio_retention_days": 20, "expiry_warning_days": 20}, "expiry_warning_days"),
        ({"audio_retention_days": 0}, "audio_retention_days"),
        ({"admin_email": "not an address"}, "admin_email"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(
    staff: User, values: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as raised:
        update_site_settings(staff=staff, values=values)
    assert field in raised.value.fields
    row = SiteSettings.objects.get()
    assert all(getattr(row, name) in (None, "", True) for name in values)
    assert not StaffAction.objects.exists()


def test_a_shorter_retention_moves_the_expiry_of_kept_audio(staff: User, page: Page) -> None:
    played = timezone.now() - timedelta(days=3)
    audio = Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", status=Audio.Status.COMPLETED,
        completed_at=played - timedelta(days=50), last_played_at=played,
        expires_at=played + timedelta(days=180), file_key="audio/x.mp3",
    )  # fmt: skip
    update_site_settings(staff=staff, values={"audio_retention_days": 40})
    audio.refresh_from_db()
    assert audio.expires_at == played + timedelta(days=40)


# --- Read by the services -----------------------------------------------------------------------


def generate(client: APIClient, page: Page, voice: str = "fake:alpha") -> Any:
    return client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": voice}, format="json")


def test_generation_switched_off_is_503_with_the_message(
    staff: User, page: Page, alice_client: APIClient
) -> None:
    update_site_settings(
        staff=staff,
        values={
            "audio_generation_enabled": False,
            "generation_disabled_message": "Back on Monday.",
        },
    )
    response = generate(alice_client, page)
    assert response.status_code == 503
    body = response.json()["error"]
    assert body["code"] == "service_unavailable"
    assert body["message"] == "Back on Monday."
    assert body["error_id"]
    assert not Audio.objects.exists()


def test_generation_off_has_a_default_message(staff: User, page: Page, alice: User) -> None:
    update_site_settings(staff=staff, values={"audio_generation_enabled": False})
    response = generate(client_for(alice), page)
    assert response.status_code == 503
    assert "switched off" in response.json()["error"]["message"]


def test_access_is_checked_before_the_switch(
    staff: User, page: Page, bob: User, charlie: User
) -> None:
    update_site_settings(staff=staff, values={"audio_generation_enabled": False})
    share(page, bob, "view_only")
    assert generate(client_for(charlie), page).status_code == 404
    assert generate(client_for(bob), page).status_code == 403


def test_retrying_failed_audio_is_refused_while_generation_is_off(
    staff: User, page: Page, alice_client: APIClient
) -> None:
    failed = Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", status=Audio.Status.FAILED
    )
    update_site_settings(staff=staff, values={"audio_generation_enabled": False})
    response = alice_client.post(f"/api/v1/audios/{failed.pk}/retry/")
    assert response.status_code == 503
    failed.refresh_from_db()
    assert failed.status == Audio.Status.FAILED


def test_generation_back_on_works_again(staff: User, page: Page, alice_client: APIClient) -> None:
    update_site_settings(staff=staff, values={"audio_generation_enabled": False})
    assert generate(alice_client, page).status_code == 503
    update_site_settings(staff=staff, values={"audio_generation_enabled": True})
    assert generate(alice_client, page).status_code == 202


def test_the_audio_quota_comes_from_the_site_settings(
    staff: User, page: Page, alice_client: APIClient
) -> None:
    update_site_settings(staff=staff, values={"max_audios_per_page": 1})
    assert generate(alice_client, page, "fake:alpha").status_code == 202
    second = generate(alice_client, page, "fake:beta")
    assert second.status_code == 403
    assert second.json()["error"]["code"] == "quota_exceeded"
    quota = alice_client.get(f"/api/v1/pages/{page.pk}/audios/").json()["quota"]
    assert quota == {"used": 1, "max": 1, "available": 0}


def test_the_upload_limit_comes_from_the_site_settings(
    staff: User, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    update_site_settings(staff=staff, values={"upload_max_bytes": 2048})

    def upload(size: int) -> Any:
        data = SimpleUploadedFile("notes.txt", b"word " * (size // 5), content_type="text/plain")
        return alice_client.post("/api/v1/documents/", {"file": data}, format="multipart")

    refused = upload(4000)
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "payload_too_large"
    assert "2.0" in refused.json()["error"]["message"]
    assert not Document.objects.exists()
    with django_capture_on_commit_callbacks(execute=False):
        assert upload(1000).status_code == 202


def test_audio_is_kept_for_the_site_retention_after_it_is_made(
    staff: User, page: Page, alice: User
) -> None:
    update_site_settings(staff=staff, values={"audio_retention_days": 10, "expiry_warning_days": 3})
    audio = Audio.objects.create(page=page, voice="fake:alpha", engine="fake", created_by=alice)
    speech_services.synthesize_audio(audio_id=audio.pk)
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    assert audio.completed_at is not None
    assert audio.expires_at is not None
    assert audio.expires_at - audio.completed_at == timedelta(days=10)
