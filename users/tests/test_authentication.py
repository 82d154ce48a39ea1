from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _age(token: Token, days: float) -> None:
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=days))


def test_a_token_works_until_it_expires_then_is_refused_and_removed(
    alice: User, settings: Any
) -> None:
    settings.API_TOKEN_TTL_DAYS = 30
    token = Token.objects.create(user=alice)
    _age(token, 29)
    assert _client(token.key).get("/api/v1/auth/me/").status_code == 200
    _age(token, 30.01)
    response = _client(token.key).get("/api/v1/auth/me/")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert error["message"] == "The token has expired. Log in again for a new one."
    assert not Token.objects.filter(key=token.key).exists()


def test_logging_in_again_replaces_an_expired_token(
    alice: User, anon_client: APIClient, settings: Any
) -> None:
    settings.API_TOKEN_TTL_DAYS = 30
    credentials = {"email": "alice@example.com", "password": DEFAULT_PASSWORD}
    first = anon_client.post("/api/v1/auth/token/", credentials, format="json").json()["token"]
    # Before it expires, logging in again gives the same token (other devices keep working).
    again = anon_client.post("/api/v1/auth/token/", credentials, format="json").json()["token"]
    assert again == first
    _age(Token.objects.get(key=first), 31)
    fresh = anon_client.post("/api/v1/auth/token/", credentials, format="json").json()["token"]
    assert fresh != first
    assert _client(fresh).get("/api/v1/auth/me/").status_code == 200
    assert _client(first).get("/api/v1/auth/me/").status_code == 401


def test_a_ttl_of_zero_keeps_tokens_until_log_out(alice: User, settings: Any) -> None:
    settings.API_TOKEN_TTL_DAYS = 0
    token = Token.objects.create(user=alice)
    _age(token, 3650)
    client = _client(token.key)
    assert client.get("/api/v1/auth/me/").status_code == 200
    assert client.post("/api/v1/auth/logout/").status_code == 204
    revoked = client.get("/api/v1/auth/me/")
    assert revoked.status_code == 401
    assert revoked.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token ",
        "Token a b",
        "Token \x00",
        "Token " + "a" * 39 + "\x00",
        "Token " + "A" * 40,
        "Token " + "é" * 40,
        "Token ' OR '1'='1",
        "Bearer abc",
        "Token " + "x" * 5000,
        "Basic Og==",
    ],
)
def test_malformed_authorization_headers_are_401_envelopes(header: str) -> None:
    response = APIClient().get("/api/v1/auth/me/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
