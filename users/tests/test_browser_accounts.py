"""The browser flows come from django-allauth: sign up, log in by email, reset a password."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_up_creates_an_account_and_emails_a_confirmation() -> None:
    client = Client()
    assert client.get("/accounts/signup/").status_code == 200
    response = client.post(
        "/accounts/signup/",
        {"email": "New@Example.com", "password1": DEFAULT_PASSWORD, "password2": DEFAULT_PASSWORD},
    )
    assert response.status_code == 302
    assert User.objects.filter(email="new@example.com").exists()
    assert len(mail.outbox) == 1
    assert "/accounts/confirm-email/" in mail.outbox[0].body


def test_log_in_with_email_in_any_case_and_log_out(alice: User) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "ALICE@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/api/v1/auth/me/").json()["email"] == "alice@example.com"
    client.post("/accounts/logout/")
    assert client.get("/api/v1/auth/me/").status_code in (401, 403)


def test_session_key_changes_at_log_in(alice: User) -> None:
    client = Client()
    client.get("/accounts/login/")
    before = client.session.session_key
    client.post("/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD})
    assert client.session.session_key != before


def test_wrong_password_does_not_log_in(alice: User) -> None:
    client = Client()
    response = client.post("/accounts/login/", {"login": alice.email, "password": "wrong-password"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_password_reset_emails_a_working_link(alice: User) -> None:
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": alice.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    body = str(mail.outbox[0].body)
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", body)
    assert link is not None
    page = client.get(link.group(1), follow=True)
    assert page.status_code == 200
    new_password = "a brand new passphrase"
    client.post(
        page.redirect_chain[-1][0] if page.redirect_chain else link.group(1),
        {
            "password1": new_password,
            "password2": new_password,
        },
    )
    alice.refresh_from_db()
    assert alice.check_password(new_password)


def test_repeated_failed_log_ins_lock_the_account_out_for_a_while(alice: User) -> None:
    client = Client()
    for _attempt in range(5):
        response = client.post(
            "/accounts/login/", {"login": "alice@example.com", "password": "wrong password"}
        )
        assert response.status_code == 200  # the form again, with an error
    # Even the right password is refused while the lock-out lasts…
    response = client.post(
        "/accounts/login/", {"login": "alice@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code in (200, 429)
    assert "_auth_user_id" not in client.session
    assert "Too many failed login attempts" in response.content.decode()
    # …from any address, while another account is not affected.
    User.objects.create_user(email="dora@example.com", password=DEFAULT_PASSWORD)
    other = Client(REMOTE_ADDR="10.9.9.9").post(
        "/accounts/login/", {"login": "dora@example.com", "password": DEFAULT_PASSWORD}
    )
    assert other.status_code == 302
    locked_elsewhere = Client(REMOTE_ADDR="10.9.9.8").post(
        "/accounts/login/", {"login": "alice@example.com", "password": DEFAULT_PASSWORD}
    )
    assert locked_elsewhere.status_code != 302
