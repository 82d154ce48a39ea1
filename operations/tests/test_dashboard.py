"""The staff dashboard: who may see it, what it shows, and what it costs in queries."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory, document_with_pages
from operations import selectors
from operations.models import SiteSettings, StaffAction, TaskFailure
from operations.services import update_site_settings
from operations.site_settings import site_settings
from operations.storage_usage import storage_usage
from operations.tests.conftest import browser_for
from operations.usage import add_usage
from sharing.models import AccessLog
from speech_processing.models import Audio
from users.models import User
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PAGES = [
    "/dashboard/",
    "/dashboard/?days=7",
    "/dashboard/failures/",
    "/dashboard/activity/",
    "/dashboard/usage/",
    "/dashboard/staff-actions/",
    "/dashboard/settings/",
]


# --- Who may see it -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_people_not_signed_in_are_sent_to_log_in(path: str) -> None:
    response = browser_for(None).get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/dashboard/")


@pytest.mark.parametrize("path", PAGES)
def test_people_who_are_not_staff_find_nothing_there(path: str, alice: User) -> None:
    response = browser_for(alice).get(path)
    assert response.status_code == 404
    assert b"dashboard" not in response.content.lower()


@pytest.mark.parametrize("path", PAGES)
def test_staff_see_every_page(path: str, staff: User) -> None:
    assert browser_for(staff).get(path).status_code == 200


def test_an_inactive_staff_account_finds_nothing(staff: User) -> None:
    client = browser_for(staff)
    User.objects.filter(pk=staff.pk).update(is_active=False)
    assert client.get("/dashboard/").status_code in (302, 404)


def test_people_who_are_not_staff_cannot_change_the_settings(alice: User) -> None:
    response = browser_for(alice).post(
        "/dashboard/settings/", {"audio_generation_enabled": "", "auto_delete_expired": "on"}
    )
    assert response.status_code == 404
    assert SiteSettings.objects.get().audio_generation_enabled is True
    assert not StaffAction.objects.exists()


# --- What it shows --------------------------------------------------------------------------------


def completed_audio(document: Document, **fields: Any) -> Audio:
    page = document.pages.first()
    assert page is not None
    values: dict[str, Any] = {
        "page": page, "voice": "fake:alpha", "engine": "fake", "status": Audio.Status.COMPLETED,
        "duration_seconds": 90.0, "char_count": 1200, "size_bytes": 2048,
        "file_key": "audio/a.mp3", "completed_at": timezone.now(),
    }  # fmt: skip
    values.update(fields)
    return Audio.objects.create(**values)


def html(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


def test_the_overview_shows_totals_charts_storage_and_failures(staff: User, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2, file_size=5000, file_key="originals/a")
    completed_audio(document)
    completed_audio(document, voice="fake:beta", char_count=300, duration_seconds=30.0)
    TaskFailure.objects.create(
        task="speech_processing.generate_audio", object_type="audio", object_id="9",
        message="The engine refused.", error_id="f" * 32, created_at=timezone.now(),
    )  # fmt: skip
    page = html(browser_for(staff), "/dashboard/")
    assert page.count("<svg") == 7  # six figures by day and one by voice
    # Voices by their display names, in the chart and the table.
    assert "<td>Beta (English (GB), Test tones)</td>" in page
    assert "Beta (English (GB), Test tones): 300" in page
    assert "1,500" in page  # characters in all
    assert "2.0" in page  # minutes of audio in all
    assert "ffffffff" in page
    assert "The engine refused." in page
    assert "4.9\xa0KB" in page or "4.9 KB" in page  # the original
    assert "Storage used" in page


def test_the_figures_by_day_put_each_thing_on_its_day(staff: User, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    completed_audio(document, completed_at=timezone.now() - timedelta(days=2), char_count=777)
    page = html(browser_for(staff), "/dashboard/?days=7")
    day = (timezone.localdate() - timedelta(days=2)).isoformat()
    assert re.search(rf"<td>{day}</td><td>777</td>", page)
    assert f"<title>{day}: 777 </title>" in page


def test_pages_carry_no_inline_script_or_style(staff: User, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    completed_audio(document)
    for path in PAGES:
        page = html(browser_for(staff), path)
        assert " style=" not in page, path
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path


def test_names_are_escaped_in_charts_and_lists(staff: User, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1, title="<b>bold</b>")
    completed_audio(document, voice="fake:<i>x</i>")
    AccessLog.objects.create(user=alice, document=document, action="play", outcome="success")
    overview = html(browser_for(staff), "/dashboard/")
    assert "<i>x</i>" not in overview
    assert "&lt;i&gt;x&lt;/i&gt;" in overview
    activity = html(browser_for(staff), "/dashboard/activity/")
    assert "<b>bold</b>" not in activity
    assert "&lt;b&gt;bold&lt;/b&gt;" in activity


def test_activity_names_an_audio_by_its_voices_display_name(staff: User, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    audio = completed_audio(document, voice="fake:beta")
    AccessLog.objects.create(
        user=alice, document=document, audio=audio, action="play", outcome="success"
    )
    activity = html(browser_for(staff), "/dashboard/activity/")
    assert f'#{audio.pk} <span class="muted">Beta (English (GB), Test tones)</span>' in activity


def test_activity_can_be_narrowed_by_person_document_and_action(
    staff: User, alice: User, bob: User
) -> None:
    notes = DocumentFactory.create(owner=alice, title="Notes")
    essay = DocumentFactory.create(owner=bob, title="Essay")
    AccessLog.objects.create(user=alice, document=notes, action="play", outcome="success")
    AccessLog.objects.create(user=alice, document=notes, action="download", outcome="success")
    AccessLog.objects.create(user=bob, document=essay, action="play", outcome="denied")
    client = browser_for(staff)

    def rows(query: str) -> int:
        return html(client, f"/dashboard/activity/?{query}").count("<time")

    assert rows("") == 3
    assert rows("user=bob%40") == 1
    assert rows(f"document={notes.pk}") == 2
    assert rows("document=ess") == 1
    assert rows("action=play") == 2
    assert rows("action=play&outcome=denied") == 1
    assert rows("document=99999999999999999999999") == 0
    # A value that is not a choice is a form error, not a server error.
    assert "form-error" in html(client, "/dashboard/activity/?action=nonsense")


def test_lists_are_paginated_and_keep_their_filters(staff: User, alice: User) -> None:
    document = DocumentFactory.create(owner=alice)
    AccessLog.objects.bulk_create(
        [AccessLog(user=alice, document=document, action="play", outcome="success")] * 30
    )
    client = browser_for(staff)
    first = html(client, "/dashboard/activity/?action=play")
    assert first.count("<time") == 25
    assert 'href="?action=play&amp;page=2"' in first
    second = html(client, "/dashboard/activity/?action=play&page=2")
    assert second.count("<time") == 5
    # Pages out of range or not numbers are the nearest page, not an error.
    assert html(client, "/dashboard/activity/?page=999").count("<time") == 5
    assert html(client, "/dashboard/activity/?page=abc").count("<time") == 25


def test_usage_shows_people_engines_and_cost(staff: User, alice: User, settings: Any) -> None:
    settings.SPEECH_PRICES_PER_MILLION_CHARS = {"polly": 16.0}
    add_usage(user_id=alice.pk, engine="polly", characters=500_000, now=timezone.now())
    page = html(browser_for(staff), "/dashboard/usage/")
    assert "alice@example.com" in page
    assert "500,000" in page
    assert "8.00" in page
    last_year = html(browser_for(staff), "/dashboard/usage/?month=2001-01")
    assert "alice@example.com" not in last_year
    assert html(browser_for(staff), "/dashboard/usage/?month=nonsense")


def test_staff_actions_are_listed_and_cannot_be_changed_there(staff: User) -> None:
    update_site_settings(staff=staff, values={"max_audios_per_page": 9})
    client = browser_for(staff)
    page = html(client, "/dashboard/staff-actions/")
    assert "staff@example.com" in page
    assert "max_audios_per_page" in page
    assert "9" in page
    main = page.split("<main")[1].split("</main>")[0]
    assert 'method="post"' not in main
    assert client.post("/dashboard/staff-actions/").status_code == 405
    action = StaffAction.objects.get()
    action.action = StaffAction.Kind.DELETE
    with pytest.raises(ValueError, match="never changed"):
        action.save()


# --- The settings form ----------------------------------------------------------------------------


def settings_form(**changes: str) -> dict[str, str]:
    values = {
        "audio_generation_enabled": "on",
        "generation_disabled_message": "",
        "max_audios_per_page": "",
        "upload_max_bytes": "",
        "audio_retention_days": "",
        "expiry_warning_days": "",
        "auto_delete_expired": "on",
        "admin_email": "",
    }
    values.update(changes)
    return {name: value for name, value in values.items() if value != "off"}


def test_staff_change_the_settings_in_the_form(staff: User) -> None:
    client = browser_for(staff)
    form = settings_form(audio_generation_enabled="off", max_audios_per_page="2",
                         admin_email="ops@example.com")  # fmt: skip
    response = client.post("/dashboard/settings/", form)
    assert response.status_code == 302
    row = SiteSettings.objects.get()
    assert (row.audio_generation_enabled, row.max_audios_per_page, row.admin_email) == (
        False, 2, "ops@example.com",
    )  # fmt: skip
    action = StaffAction.objects.get()
    assert action.via == StaffAction.Via.DASHBOARD
    assert action.after == {
        "audio_generation_enabled": False, "max_audios_per_page": 2,
        "admin_email": "ops@example.com",
    }  # fmt: skip
    followed = html(client, response["Location"])
    assert "The site settings were saved." in followed


def test_bad_settings_are_shown_and_change_nothing(staff: User, settings: Any) -> None:
    response = browser_for(staff).post(
        "/dashboard/settings/",
        settings_form(upload_max_bytes=str(settings.UPLOAD_MAX_BYTES + 1), max_audios_per_page="0"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "UPLOAD_MAX_BYTES" in page
    assert page.count('class="form-error"') == 2
    row = SiteSettings.objects.get()
    assert (row.upload_max_bytes, row.max_audios_per_page) == (None, None)
    assert not StaffAction.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("audio_retention_days", "3651"),  # ten years is the most
        ("audio_retention_days", "999999999"),  # a date past the year 9999
        ("audio_retention_days", "2147483648"),  # past a database integer
        ("audio_retention_days", "9" * 5000),  # past Python's int() limit
        ("expiry_warning_days", "999999999"),
        ("max_audios_per_page", "99999999999"),
    ],
)
def test_numbers_out_of_range_are_refused_with_a_field_error(
    staff: User, settings: Any, field: str, value: str
) -> None:
    # No warning rule in the way: a warning of 0 days comes before any end of retention.
    form = settings_form(expiry_warning_days="0")
    form[field] = value
    response = browser_for(staff).post("/dashboard/settings/", form)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert re.search(r"less than or equal to|whole number", errors[field][0])
    assert SiteSettings.objects.get().audio_retention_days is None
    assert not StaffAction.objects.exists()
    page = browser_for(staff).get("/dashboard/settings/").content.decode()
    assert f'max="{settings.MAX_SETTING_DAYS}"' in page


def test_the_longest_retention_allowed_is_saved_and_dates_follow(staff: User, alice: User) -> None:
    audio = Audio.objects.create(
        page=document_with_pages(owner=alice, pages=1).pages.get(), voice="fake:alpha",
        engine="fake", status=Audio.Status.COMPLETED, created_by=alice,
        expires_at=timezone.now() + timedelta(days=180),
    )  # fmt: skip
    response = browser_for(staff).post(
        "/dashboard/settings/", settings_form(audio_retention_days="3650")
    )
    assert response.status_code == 302
    audio.refresh_from_db()
    assert audio.expires_at is not None
    assert audio.expires_at > timezone.now() + timedelta(days=3649)
    assert site_settings().audio_retention_days == 3650


def test_the_form_shows_the_environments_defaults(staff: User, settings: Any) -> None:
    settings.AUDIO_MAX_PER_PAGE = 6
    page = html(browser_for(staff), "/dashboard/settings/")
    assert 'placeholder="6"' in page
    assert "the default from the environment (6)" in page


# --- Queries --------------------------------------------------------------------------------------


def grow(alice: User, rounds: int) -> None:
    """More of everything each list and figure shows."""
    for number in range(rounds):
        person = UserFactory.create()
        document = document_with_pages(owner=person, pages=2)
        audio = completed_audio(document, voice=f"fake:v{number}")
        completed_audio(document, voice="fake:alpha", completed_at=timezone.now() - timedelta(1))
        AccessLog.objects.create(user=person, document=document, audio=audio, action="play",
                                 outcome="success")  # fmt: skip
        TaskFailure.objects.create(task="t", object_type="audio", object_id=str(audio.pk),
                                   message="m", error_id=f"{number:032}",
                                   created_at=timezone.now())  # fmt: skip
        add_usage(user_id=person.pk, engine="polly", characters=100, now=timezone.now())
        StaffAction.objects.create(staff=alice, staff_email=alice.email, action="change",
                                   via="admin", target_type="x", target_id=str(number))  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_each_page_costs_the_same_queries_at_any_size(
    path: str, staff: User, alice: User, django_assert_num_queries: Any
) -> None:
    client = browser_for(staff)
    grow(alice, 2)
    cache.clear()  # the cached site settings would save a query on the second request only
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    grow(alice, 30)
    cache.clear()
    with django_assert_num_queries(len(few)):
        assert client.get(path).status_code == 200


def test_a_reused_file_counts_once_and_was_not_synthesised_again(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2)
    first, second = document.pages.order_by("number")
    completed_audio(document, page=first, char_count=1000, size_bytes=4096, file_key="audio/t")
    completed_audio(document, page=second, char_count=1000, size_bytes=4096, file_key="audio/t",
                    reused=True)  # fmt: skip
    completed_audio(document, page=second, voice="fake:beta", char_count=10, size_bytes=100,
                    file_key="audio/u")  # fmt: skip
    totals = selectors.totals()
    assert (totals.audios_made, totals.characters) == (3, 1010)
    audio = next(kind for kind in storage_usage().kinds if kind.key == "audio")
    assert (audio.files, audio.bytes) == (2, 4196)
    figures = selectors.daily(days=1)
    assert figures.characters == [1010]
    assert figures.audios == [3]


def test_only_staff_see_the_dashboard_in_the_menu(alice: Any) -> None:
    from users.tests.factories import UserFactory

    person = Client()
    person.force_login(alice)
    assert 'href="/dashboard/"' not in person.get("/library/").content.decode()
    staff = Client()
    staff.force_login(UserFactory.create(email="staff@example.com", is_staff=True))
    assert 'href="/dashboard/"' in staff.get("/library/").content.decode()


def test_staff_export_a_month_of_the_audit_log_and_download_it(staff: User, alice: User) -> None:
    import gzip
    import json

    AccessLog.objects.create(user=alice, action="play", outcome="success")
    month = f"{timezone.now():%Y-%m}"
    browser = browser_for(staff)
    response = browser.post("/dashboard/activity/export/", {"month": month})
    assert response.status_code == 302
    page = browser.get(response["Location"]).content.decode()
    link = f"/dashboard/activity/export/{month}/"
    assert f'href="{link}"' in page
    download = browser.get(link)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/gzip"
    body = b"".join(download.streaming_content)  # type: ignore[attr-defined]
    lines = gzip.decompress(body).decode().splitlines()
    (entry,) = [json.loads(line) for line in lines]
    assert entry["action"] == "play"
    assert "alice@example.com" not in lines[0]


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2025-13", "Give the month as YYYY-MM, e.g. 2025-01."),
        ("next year", "Give the month as YYYY-MM, e.g. 2025-01."),
        ("2999-01", "That month has not begun yet."),
    ],
)
def test_a_bad_or_future_month_is_refused_with_a_message(
    staff: User, month: str, message: str
) -> None:
    browser = browser_for(staff)
    response = browser.post("/dashboard/activity/export/", {"month": month}, follow=True)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert browser.get(f"/dashboard/activity/export/{month}/").status_code == 404


def test_people_who_are_not_staff_cannot_export_or_download(alice: User) -> None:
    browser = browser_for(alice)
    assert browser.post("/dashboard/activity/export/", {"month": "2025-01"}).status_code == 404
    assert browser.get("/dashboard/activity/export/2025-01/").status_code == 404
    anonymous = browser_for(None).get("/dashboard/activity/export/2025-01/")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
