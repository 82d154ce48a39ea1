"""Every model has an admin page that loads for staff; the audit log cannot be edited."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client

from document_processing.tests.factories import document_with_pages
from sharing.models import AccessLog
from users.models import User

pytestmark = pytest.mark.django_db

OWN_APPS = {"users", "document_processing", "speech_processing", "sharing"}


def test_every_model_is_registered() -> None:
    missing = [
        model.__name__
        for model in apps.get_models()
        if model._meta.app_label in OWN_APPS and model not in admin.site._registry
    ]
    assert missing == []


def test_changelists_load_for_staff(alice: User) -> None:
    staff = User.objects.create_superuser(email="staff@example.com", password="x" * 12)
    document_with_pages(owner=alice, pages=2)
    AccessLog.objects.create(user=alice, action="play", outcome="success")
    client = Client()
    client.force_login(staff)
    for model in admin.site._registry:
        if model._meta.app_label not in OWN_APPS:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
        assert client.get(url, {"q": "alice"}).status_code == 200, url
    entry = AccessLog.objects.get()
    assert (
        client.post(f"/admin/sharing/accesslog/{entry.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert AccessLog.objects.exists()


def test_the_admin_is_closed_to_everyone_else(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    response = client.get("/admin/document_processing/document/")
    assert response.status_code == 302
