"""Sign-up in the browser (users.forms.SignupForm): the same answer whether or not the address
already has an account."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings

from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

SIGNUP = "/accounts/signup/"


def _sign_up(
    email: str, password: str = "a fresh passphrase", path: str = SIGNUP
) -> tuple[Any, str, Client]:
    client = Client()
    client.get(path)
    response = client.post(path, {"email": email, "password1": password, "password2": password})
    page = client.get(response["Location"]) if response.status_code == 302 else response
    return response, _comparable(page.content.decode(), email), client


def _comparable(html: str, email: str) -> str:
    # CSRF tokens and CSP nonces differ on every page, and the page names the address typed.
    html = re.sub(
        r'(csrfmiddlewaretoken" value=|name="csrf-token" content=|nonce=)"[^"]*"', "", html
    )
    return html.replace(email.lower(), "ADDRESS")


@pytest.mark.parametrize("taken", ["alice@example.com", "ALICE@Example.com"])
def test_a_taken_address_gets_the_same_answer_as_a_new_one(alice: User, taken: str) -> None:
    new_response, new_page, new_client = _sign_up("new@example.com")
    taken_response, taken_page, taken_client = _sign_up(taken)
    assert taken_response.status_code == new_response.status_code == 302
    assert taken_response["Location"] == new_response["Location"]
    assert set(taken_response.cookies) == set(new_response.cookies)
    assert taken_page == new_page
    assert "Check your email" in new_page
    # Neither is logged in by signing up.
    assert "_auth_user_id" not in new_client.session
    assert "_auth_user_id" not in taken_client.session
    # The new address has an account and a confirmation link; alice's is unchanged and she is
    # told someone tried, with a way to log in.
    assert User.objects.filter(email="new@example.com").exists()
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    alice.refresh_from_db()
    assert alice.check_password(DEFAULT_PASSWORD)
    assert [message.to for message in mail.outbox] == [["new@example.com"], ["alice@example.com"]]
    assert "/accounts/confirm-email/" in str(mail.outbox[0].body)
    assert "http://testserver/accounts/login/" in str(mail.outbox[1].body)
    assert "http://testserver/accounts/password/reset/" in str(mail.outbox[1].body)


def test_a_new_account_logs_in_with_its_password_straight_away() -> None:
    _sign_up("new@example.com", DEFAULT_PASSWORD)
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": "new@example.com", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/api/v1/auth/me/").json()["email"] == "new@example.com"


def test_the_confirmation_link_logs_the_new_account_in_and_goes_on() -> None:
    _response, _page, client = _sign_up("new@example.com", path=f"{SIGNUP}?next=/settings/")
    link = re.search(r"http://testserver(/accounts/confirm-email/\S+)", str(mail.outbox[0].body))
    assert link is not None
    response = client.post(link.group(1))
    assert response.status_code == 302
    assert response["Location"] == "/settings/"
    assert client.get("/api/v1/auth/me/").json()["email"] == "new@example.com"


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_mandatory_verification_answers_the_same_too(alice: User) -> None:
    new_response, new_page, _new = _sign_up("new@example.com")
    taken_response, taken_page, _taken = _sign_up(alice.email)
    assert taken_response["Location"] == new_response["Location"]
    assert taken_page == new_page


@override_settings(ACCOUNT_EMAIL_VERIFICATION="none")
def test_without_verification_a_new_account_is_logged_in_at_once() -> None:
    # Nothing to hide behind here (no email is sent): allauth's behaviour stays.
    response, _page, client = _sign_up("new@example.com")
    assert response.status_code == 302
    assert client.get("/api/v1/auth/me/").json()["email"] == "new@example.com"
