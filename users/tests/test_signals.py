"""A new password, however it is set, ends every API token and every other session of the
account; the session that made the change stays logged in."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from users.models import User
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token/"
ME = "/api/v1/auth/me/"
NEW_PASSWORD = "a brand new passphrase"


def _api_token(email: str, password: str = DEFAULT_PASSWORD) -> str:
    response = APIClient().post(TOKEN, {"email": email, "password": password})
    assert response.status_code == 200
    return str(response.json()["token"])


def _token_works(key: str) -> bool:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    status = client.get(ME).status_code
    assert status in (200, 401)
    return status == 200


def _browser(user: User, password: str = DEFAULT_PASSWORD) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": password})
    assert response.status_code == 302
    return client


def _logged_in(client: Client) -> bool:
    return client.get(ME).status_code == 200


def test_changing_the_password_ends_tokens_and_other_sessions(alice: User) -> None:
    old_key = _api_token(alice.email)
    changer, elsewhere = _browser(alice), _browser(alice)
    response = changer.post(
        "/accounts/password/change/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not _token_works(old_key)
    assert not _logged_in(elsewhere)
    assert _logged_in(changer)
    # Logging in again gives a new token; the old password gives none.
    new_key = _api_token(alice.email, NEW_PASSWORD)
    assert new_key != old_key
    assert _token_works(new_key)
    refused = APIClient().post(TOKEN, {"email": alice.email, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 400


def test_resetting_the_password_ends_tokens_and_sessions(alice: User) -> None:
    old_key = _api_token(alice.email)
    elsewhere = _browser(alice)
    client = Client()
    client.post("/accounts/password/reset/", {"email": alice.email})
    link = re.search(
        r"http://testserver(/accounts/password/reset/key/\S+)", str(mail.outbox[0].body)
    )
    assert link is not None
    form = client.get(link.group(1), follow=True)
    form_url = form.redirect_chain[-1][0] if form.redirect_chain else link.group(1)
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert not _token_works(old_key)
    assert not _logged_in(elsewhere)
    assert _api_token(alice.email, NEW_PASSWORD) != old_key


def test_setting_a_first_password_ends_tokens(db: None) -> None:
    # An account made through social sign-in has no password until it sets one.
    dora = UserFactory.create(email="dora@example.com")
    dora.set_unusable_password()
    dora.save()
    old_key = Token.objects.create(user=dora).key
    client = Client()
    client.force_login(dora)
    response = client.post(
        "/accounts/password/set/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert not _token_works(old_key)
    assert _logged_in(client)


def test_a_password_changed_in_the_admin_ends_that_persons_tokens(alice: User) -> None:
    boss = UserFactory.create(email="boss@example.com", is_staff=True, is_superuser=True)
    alice_key = _api_token(alice.email)
    boss_key = _api_token(boss.email)
    admin = Client()
    admin.force_login(boss)
    response = admin.post(
        f"/admin/users/user/{alice.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert not _token_works(alice_key)
    assert _token_works(boss_key)


def test_a_staff_persons_own_change_in_the_admin_keeps_their_session(db: None) -> None:
    boss = UserFactory.create(email="boss@example.com", is_staff=True, is_superuser=True)
    old_key = _api_token(boss.email)
    admin = Client()
    admin.force_login(boss)
    response = admin.post(
        "/admin/password_change/",
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert not _token_works(old_key)
    assert admin.get("/admin/").status_code == 200


def test_the_changepassword_command_ends_tokens(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_key = _api_token(alice.email)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": NEW_PASSWORD)
    call_command("changepassword", alice.email, stdout=None)
    assert not _token_works(old_key)


def test_other_changes_to_an_account_keep_its_tokens(alice: User) -> None:
    key = _api_token(alice.email)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.patch(ME, {"preferred_voice": "fake:alpha"}).status_code == 200
    alice.refresh_from_db()
    alice.display_name = "Alice"
    alice.save()
    assert _token_works(key)
