"""The Django admin: every model is there with search and filters, audit trails are read-only,
and what staff change or delete there goes to the staff trail."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.forms import CheckboxInput, MultiWidget
from django.test import Client
from django.urls import reverse

from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from operations.models import SiteSettings, StaffAction, TaskFailure
from operations.site_settings import site_settings
from operations.tests.conftest import browser_for
from sharing.models import AccessLog, DocumentShare
from speech_processing.models import Audio
from users.models import User
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

APPS = ["users", "document_processing", "speech_processing", "sharing", "operations"]
MODELS = [model for name in APPS for model in apps.get_app_config(name).get_models()]
READ_ONLY = [AccessLog, StaffAction, TaskFailure]


@pytest.fixture
def boss(db: None) -> User:
    return UserFactory.create(email="boss@example.com", is_staff=True, is_superuser=True)


def url(model: type[Any], view: str, *args: object) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def stored(name: str) -> str:
    return default_storage.save(name, ContentFile(b"\xff\xfb\x90\x00" * 16))


# --- Every model, searchable ------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_every_model_has_an_admin_with_search(model: type[Any], boss: User) -> None:
    model_admin = admin.site._registry.get(model)
    assert model_admin is not None, f"{model._meta.label} has no admin"
    if model is not SiteSettings:
        assert model_admin.search_fields
        response = browser_for(boss).get(url(model, "changelist"), {"q": "x"})
        assert response.status_code == 200


def test_the_main_lists_have_filters() -> None:
    for model in [User, Document, Page, Audio, DocumentShare, AccessLog, StaffAction,
                  TaskFailure]:  # fmt: skip
        assert admin.site._registry[model].list_filter, model


def test_people_who_are_not_staff_cannot_reach_the_admin(alice: User) -> None:
    for model in [Document, Audio, SiteSettings, StaffAction]:
        response = browser_for(alice).get(url(model, "changelist"))
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


# --- Audit trails are read-only -------------------------------------------------------------------


@pytest.mark.parametrize("model", READ_ONLY, ids=lambda model: model._meta.label)
def test_audit_trails_are_read_only(model: type[Any], boss: User, alice: User) -> None:
    if model is AccessLog:
        entry: Any = AccessLog.objects.create(user=alice, action="play", outcome="success")
    elif model is StaffAction:
        entry = StaffAction.objects.create(staff=boss, staff_email=boss.email, action="change",
                                           via="admin", target_type="x")  # fmt: skip
    else:
        entry = TaskFailure.objects.create(task="t", message="m", error_id="e",
                                           created_at="2025-01-01T00:00Z")  # fmt: skip
    client = browser_for(boss)
    assert client.get(url(model, "add")).status_code == 403
    view = client.get(url(model, "change", entry.pk))
    assert view.status_code == 200
    assert b'name="_save"' not in view.content
    assert client.post(url(model, "change", entry.pk), {}).status_code == 403
    assert client.post(url(model, "delete", entry.pk), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=entry.pk).exists()


# --- Staff changes go to the staff trail ---------------------------------------------------------


def form_data(client: Client, path: str) -> dict[str, Any]:
    """The admin change form as the browser would send it back unchanged."""
    context = client.get(path).context
    data: dict[str, Any] = {}
    forms = [context["adminform"].form]
    for inline in context["inline_admin_formsets"]:
        formset = inline.formset
        forms.append(formset.management_form)
        forms.extend(formset.forms)
    for form in forms:
        for name, field in form.fields.items():
            key, value = form.add_prefix(name), form[name].value()
            if isinstance(field.widget, CheckboxInput):
                if value:
                    data[key] = "on"
            elif isinstance(field.widget, MultiWidget):
                for index, part in enumerate(field.widget.decompress(value) or []):
                    data[f"{key}_{index}"] = "" if part is None else str(part)
            elif isinstance(value, list | tuple):
                data[key] = [str(item) for item in value]
            else:
                data[key] = "" if value is None else str(value)
    return data


def test_a_change_in_the_admin_is_recorded_with_before_and_after(boss: User, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2, title="Old title")
    client = browser_for(boss)
    path = url(Document, "change", document.pk)
    data = form_data(client, path)
    data["title"] = "New title"
    response = client.post(path, data)
    assert response.status_code == 302, response.context and response.context["errors"]
    document.refresh_from_db()
    assert document.title == "New title"
    action = StaffAction.objects.get()
    assert (action.staff, action.action, action.via) == (boss, "change", "admin")
    assert (action.target_type, action.target_id) == ("document_processing.document",
                                                      str(document.pk))  # fmt: skip
    assert action.before == {"title": "Old title"}
    assert action.after == {"title": "New title"}
    assert Page.objects.filter(document=document).count() == 2  # the inline changed nothing


def test_saving_without_changes_records_nothing(boss: User, alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    client = browser_for(boss)
    path = url(Document, "change", document.pk)
    assert client.post(path, form_data(client, path)).status_code == 302
    assert not StaffAction.objects.exists()


def test_deleting_audio_in_the_admin_removes_its_file_and_is_recorded(
    boss: User, alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    key = stored("audio/admin.mp3")
    audio = Audio.objects.create(page=document.pages.get(), voice="fake:alpha", engine="fake",
                                 status="completed", file_key=key)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(boss).post(url(Audio, "delete", audio.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Audio.objects.filter(pk=audio.pk).exists()
    assert not default_storage.exists(key)
    action = StaffAction.objects.get()
    assert action.action == StaffAction.Kind.DELETE
    assert action.before["file_key"] == key
    assert action.before["voice"] == "fake:alpha"


def test_deleting_documents_in_bulk_removes_their_files(
    boss: User, alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    first = document_with_pages(owner=alice, pages=1, file_key=stored("originals/one.pdf"))
    second = document_with_pages(owner=bob, pages=1, file_key=stored("originals/two.pdf"))
    audio_key = stored("audio/bulk.mp3")
    Audio.objects.create(page=first.pages.get(), voice="fake:alpha", engine="fake",
                         status="completed", file_key=audio_key)  # fmt: skip
    keys = [first.file_key, second.file_key, audio_key]
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(boss).post(
            url(Document, "changelist"),
            {"action": "delete_selected", "_selected_action": [first.pk, second.pk],
             "post": "yes"},
        )  # fmt: skip
    assert response.status_code == 302
    assert not Document.objects.exists()
    assert not any(default_storage.exists(key) for key in keys)
    assert StaffAction.objects.filter(action="delete").count() == 2


def test_deleting_a_person_in_the_admin_runs_the_full_account_deletion(
    boss: User, alice: User, bob: User, django_capture_on_commit_callbacks: Any
) -> None:
    from django.core import mail

    from sharing.models import AccessLog, DocumentShare

    document = document_with_pages(owner=alice, pages=1, file_key=stored("originals/a.pdf"))
    DocumentShare.objects.create(document=document, shared_with=bob, permission="view_only")
    AccessLog.objects.create(user=alice, document=document, action="play", outcome="success")
    alice_id = alice.pk
    with django_capture_on_commit_callbacks(execute=True):
        response = browser_for(boss).post(url(User, "delete", alice_id), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=alice_id).exists()
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not default_storage.exists(document.file_key)
    # The same purge as a person's own deletion: audit rows anonymised, bob told.
    assert not AccessLog.objects.filter(user_id=alice_id).exists()
    assert [m.to for m in mail.outbox] == [[bob.email]]
    action = StaffAction.objects.get(action=StaffAction.Kind.DELETE)
    assert action.before["email"] == "alice@example.com"


def test_site_settings_changed_in_the_admin_are_recorded_and_apply(boss: User) -> None:
    client = browser_for(boss)
    assert client.get(url(SiteSettings, "changelist")).status_code == 302
    path = url(SiteSettings, "change", 1)
    assert site_settings().audio_generation_enabled
    data = form_data(client, path)
    data.pop("audio_generation_enabled", None)
    data["max_audios_per_page"] = "3"
    response = client.post(path, data)
    assert response.status_code == 302
    assert not site_settings().audio_generation_enabled
    assert site_settings().max_audios_per_page == 3
    action = StaffAction.objects.get()
    assert (action.action, action.via) == (StaffAction.Kind.SETTINGS_CHANGE, "admin")
    assert action.after == {"audio_generation_enabled": False, "max_audios_per_page": 3}
    assert client.get(url(SiteSettings, "add")).status_code == 403
    assert client.post(url(SiteSettings, "delete", 1), {"post": "yes"}).status_code == 403


def test_bad_site_settings_in_the_admin_are_refused(boss: User, settings: Any) -> None:
    client = browser_for(boss)
    path = url(SiteSettings, "change", 1)
    data = form_data(client, path)
    data["upload_max_bytes"] = str(settings.UPLOAD_MAX_BYTES * 2)
    response = client.post(path, data)
    assert response.status_code == 200
    assert b"UPLOAD_MAX_BYTES" in response.content
    assert SiteSettings.objects.get().upload_max_bytes is None
    assert not StaffAction.objects.exists()


def test_changes_to_people_never_record_passwords(boss: User, alice: User) -> None:
    client = browser_for(boss)
    path = url(User, "change", alice.pk)
    data = form_data(client, path)
    data["is_staff"] = "on"
    assert client.post(path, data).status_code == 302
    action = StaffAction.objects.get()
    assert action.after == {"is_staff": True}
    assert "password" not in action.before
    assert "password" not in action.after
