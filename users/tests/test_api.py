from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
LOGOUT = "/api/v1/auth/logout/"
ME = "/api/v1/auth/me/"


def test_register_creates_an_account_with_a_lower_cased_email(anon_client: APIClient) -> None:
    response = anon_client.post(
        REGISTER, {"email": "New.Person@Example.COM", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 201
    # No id: the answer for an address that already has an account could not carry a real one.
    assert response.json() == {"email": "new.person@example.com"}
    user = User.objects.get(email="new.person@example.com")
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@example.com", "Alice@Example.Com"])
def test_register_answers_the_same_for_an_address_that_has_an_account(
    anon_client: APIClient, alice: User, email: str
) -> None:
    new = anon_client.post(REGISTER, {"email": "Someone.New@example.com", "password": "p" * 12})
    taken = anon_client.post(REGISTER, {"email": email, "password": "another passphrase"})
    assert taken.status_code == new.status_code == 201
    assert taken.json().keys() == new.json().keys()
    assert taken.json() == {"email": "alice@example.com"}
    assert taken["Content-Type"] == new["Content-Type"]
    # Nothing was made or changed for alice's address…
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1
    alice.refresh_from_db()
    assert alice.check_password(DEFAULT_PASSWORD)
    # …and she, not the caller, is told: with a way to log in and to reset her password.
    assert [message.to for message in mail.outbox] == [["someone.new@example.com"], [alice.email]]
    notice = str(mail.outbox[1].body)
    assert "already has an account" in notice
    assert "http://testserver/accounts/login/" in notice
    assert "http://testserver/accounts/password/reset/" in notice


def test_register_for_a_taken_address_notifies_its_owner_once_per_cooldown(
    anon_client: APIClient, alice: User
) -> None:
    first = anon_client.post(REGISTER, {"email": alice.email, "password": "another passphrase"})
    second = anon_client.post(REGISTER, {"email": alice.email, "password": "another passphrase"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert len(mail.outbox) == 1


def test_register_for_an_address_another_account_uses_creates_nothing(
    anon_client: APIClient, alice: User
) -> None:
    EmailAddress.objects.create(user=alice, email="second@example.com", verified=True)
    response = anon_client.post(REGISTER, {"email": "second@example.com", "password": "p" * 12})
    assert response.status_code == 201
    assert response.json() == {"email": "second@example.com"}
    assert not User.objects.filter(email="second@example.com").exists()


def test_a_weak_password_is_refused_alike_for_new_and_taken_addresses(
    anon_client: APIClient, alice: User
) -> None:
    new = anon_client.post(REGISTER, {"email": "x@example.com", "password": "short"})
    taken = anon_client.post(REGISTER, {"email": alice.email, "password": "short"})
    assert new.status_code == taken.status_code == 400
    assert new.json() == taken.json()
    assert not mail.outbox


def test_a_newly_registered_account_can_log_in(anon_client: APIClient) -> None:
    anon_client.post(REGISTER, {"email": "new@example.com", "password": DEFAULT_PASSWORD})
    response = anon_client.post(TOKEN, {"email": "new@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert response.json()["token"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "x@example.com", "password": "short"}, "password"),
        ({"email": "x@example.com", "password": "password123"}, "password"),
        ({"email": "x@example.com", "password": "12345678901234"}, "password"),
        ({"email": "not-an-email", "password": DEFAULT_PASSWORD}, "email"),
        ({"password": DEFAULT_PASSWORD}, "email"),
        ({"email": "x@example.com"}, "password"),
        ({"email": ["x@example.com"], "password": DEFAULT_PASSWORD}, "email"),
        ({"email": 12, "password": {"a": 1}}, "password"),
    ],
)
def test_register_rejects_bad_input_with_field_messages(
    anon_client: APIClient, body: dict[str, object], field: str
) -> None:
    response = anon_client.post(REGISTER, body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not User.objects.exists()


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'"a string"', b"null", b"\xff\xfe\x00"])
def test_malformed_json_is_a_400_envelope(anon_client: APIClient, raw: bytes) -> None:
    response = anon_client.generic(
        "POST",
        REGISTER,
        raw,  # type: ignore[arg-type]  # bytes on purpose
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_token_for_valid_credentials_in_any_case(anon_client: APIClient, alice: User) -> None:
    response = anon_client.post(TOKEN, {"email": "ALICE@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=alice).key


def test_wrong_password_and_unknown_email_get_the_same_answer(
    anon_client: APIClient, alice: User
) -> None:
    wrong_password = anon_client.post(TOKEN, {"email": alice.email, "password": "nope nope nope"})
    unknown_email = anon_client.post(TOKEN, {"email": "who@example.com", "password": "nope nope"})
    assert wrong_password.status_code == unknown_email.status_code == 400
    assert wrong_password.json() == unknown_email.json()
    assert not Token.objects.exists()


def test_inactive_user_gets_no_token(anon_client: APIClient, alice: User) -> None:
    alice.is_active = False
    alice.save()
    response = anon_client.post(TOKEN, {"email": alice.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 400


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_mandatory_verification_refuses_a_token_until_the_email_is_confirmed(
    anon_client: APIClient,
) -> None:
    anon_client.post(REGISTER, {"email": "new@example.com", "password": DEFAULT_PASSWORD})
    response = anon_client.post(TOKEN, {"email": "new@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 400
    assert "confirm" in response.json()["error"]["message"]


def test_register_sends_a_confirmation_email(anon_client: APIClient) -> None:
    anon_client.post(REGISTER, {"email": "new@example.com", "password": DEFAULT_PASSWORD})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new@example.com"]


def test_logout_revokes_the_token(alice: User) -> None:
    token = Token.objects.create(user=alice)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.post(LOGOUT).status_code == 204
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_me_answers_who_is_calling(alice_client: APIClient, alice: User) -> None:
    response = alice_client.get(ME)
    assert response.status_code == 200
    assert response.json() == {"id": alice.pk, "email": alice.email, "preferred_voice": ""}


def test_me_patch_sets_the_preferred_voice(alice_client: APIClient, alice: User) -> None:
    response = alice_client.patch(ME, {"preferred_voice": "piper:en_US-joe-medium"})
    assert response.status_code == 200
    assert response.json()["preferred_voice"] == "piper:en_US-joe-medium"
    alice.refresh_from_db()
    assert alice.preferred_voice == "piper:en_US-joe-medium"


@pytest.mark.parametrize("value", ["no-colon", "a:b c", ":x", "x" * 300, 5, ["piper:x"]])
def test_me_patch_rejects_malformed_voice_ids(alice_client: APIClient, value: object) -> None:
    response = alice_client.patch(ME, {"preferred_voice": value}, format="json")
    assert response.status_code == 400
    assert "preferred_voice" in response.json()["error"]["fields"]


@pytest.mark.parametrize(("method", "path"), [("get", ME), ("patch", ME), ("post", LOGOUT)])
def test_account_endpoints_need_authentication(
    anon_client: APIClient, method: str, path: str
) -> None:
    response = getattr(anon_client, method)(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_invalid_token_is_401(anon_client: APIClient) -> None:
    anon_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = anon_client.get(ME)
    assert response.status_code == 401


def test_session_login_needs_csrf_for_writes(alice: User) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(ME).status_code == 200
    response = client.patch(ME, {"preferred_voice": "piper:x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_token_attempts_against_one_account_are_limited(
    anon_client: APIClient, alice: User
) -> None:
    # The default limit is 10 attempts a minute per account, from any address.
    for _ in range(10):
        anon_client.post(TOKEN, {"email": alice.email, "password": "wrong wrong wrong"})
    response = anon_client.post(TOKEN, {"email": alice.email.upper(), "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    other = anon_client.post(TOKEN, {"email": "someone@example.com", "password": "x" * 12})
    assert other.status_code == 400


@pytest.mark.parametrize(
    "raw", ['{"email": "a@example.com", "password": "\\ud800 long enough pw"}']
)
def test_lone_surrogates_are_400_not_500(anon_client: APIClient, raw: str) -> None:
    for path in (REGISTER, TOKEN):
        response = anon_client.generic("POST", path, raw, content_type="application/json")
        assert response.status_code == 400


def test_a_very_long_email_is_a_400_not_a_cache_error(anon_client: APIClient) -> None:
    email = "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".example"
    response = anon_client.post(TOKEN, {"email": email, "password": "whatever password"})
    assert response.status_code == 400
