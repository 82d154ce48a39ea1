"""Invitations become shares when their address is confirmed, or its owner logs in
(sharing/signals.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory
from sharing import invitations
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[object]]


def invite(client: APIClient, document: Document, email: str, capture: Capture) -> None:
    with capture(execute=True):
        response = client.post(
            f"/api/v1/documents/{document.pk}/shares/",
            {"email": email, "permission": "collaborator"},
        )
    assert response.status_code == 201


def link_in(body: str, path: str) -> str:
    found = re.search(rf"http://[^/\s]+({re.escape(path)}\S*)", body)
    assert found is not None, body
    return found.group(1)


def test_signing_up_with_the_address_and_confirming_it_makes_the_share(
    alice: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    document = DocumentFactory.create(owner=alice, title="Minutes")
    invite(alice_client, document, "New@Example.com", django_capture_on_commit_callbacks)
    (invitation_email,) = mail.outbox
    signup = link_in(str(invitation_email.body), "/accounts/signup/")
    browser = Client()
    page = browser.get(signup).content.decode()
    assert 'value="new@example.com"' in page  # the address is filled in
    with django_capture_on_commit_callbacks(execute=True):
        browser.post(signup, {"email": "new@example.com", "password1": "a fresh passphrase",
                              "password2": "a fresh passphrase"})  # fmt: skip
    newcomer = User.objects.get(email="new@example.com")
    # Signed up, not confirmed yet: nothing is shared.
    assert not DocumentShare.objects.exists()
    assert ShareInvitation.objects.count() == 1

    confirmation = link_in(str(mail.outbox[-1].body), "/accounts/confirm-email/")
    response = browser.post(confirmation, follow=True)
    share = DocumentShare.objects.get()
    assert (share.document, share.shared_with, share.permission, share.shared_by) == (
        document, newcomer, "collaborator", alice,
    )  # fmt: skip
    assert not ShareInvitation.objects.exists()
    # The confirmation goes on to the document.
    assert response.redirect_chain[-1][0] == f"/documents/{document.pk}/"
    assert "Minutes" in response.content.decode()
    entry = AccessLog.objects.get(action="invite_accept")
    assert (entry.user, entry.document, entry.outcome) == (newcomer, document, "success")


def test_logging_in_with_a_confirmed_address_accepts(
    alice: User, bob: User, alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    document = DocumentFactory.create(owner=alice)
    invite(alice_client, document, bob.email, django_capture_on_commit_callbacks)
    browser = Client()
    response = browser.post("/accounts/login/", {"login": bob.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert DocumentShare.objects.get().shared_with == bob
    assert browser.get(f"/documents/{document.pk}/").status_code == 200


def test_logging_in_goes_ahead_when_accepting_fails(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = DocumentFactory.create(owner=alice)
    ShareInvitation.objects.create(
        document=document, email=bob.email, permission="view_only", invited_by=alice,
        expires_at=timezone.now() + timedelta(days=1),
    )  # fmt: skip

    def broken(**kwargs: Any) -> list[DocumentShare]:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(invitations, "accept_invitations", broken)
    browser = Client()
    response = browser.post("/accounts/login/", {"login": bob.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert browser.get("/api/v1/auth/me/").json()["email"] == bob.email
    assert ShareInvitation.objects.count() == 1  # tried again at the next log-in
