"""Social sign-in through django-allauth, with the providers' HTTP answered locally.

The browser flow is real (start the log-in, come back to the callback with a code and the
state); only the provider's token and profile endpoints are replaced by local answers.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.account.models import EmailAddress
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter, get_adapter
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.test import Client

from users.models import User

pytestmark = pytest.mark.django_db

GITHUB = {"github": {"APPS": [{"client_id": "gh-id", "secret": "gh-secret"}]}}


class _Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.headers = {"content-type": "application/json"}
        self.text = json.dumps(body)
        self.content = self.text.encode()
        self._body = body

    def json(self) -> Any:
        return self._body

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(self.status_code)


class FakeGitHub:
    """Answers GitHub's token, profile and email endpoints; records what was asked."""

    def __init__(self) -> None:
        self.profile: dict[str, Any] = {}
        self.emails: list[dict[str, Any]] = []
        self.calls: list[str] = []

    def __enter__(self) -> FakeGitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def request(self, method: str, url: str, **kwargs: Any) -> _Answer:
        self.calls.append(url)
        if url == "https://github.com/login/oauth/access_token":
            assert kwargs["data"]["code"] == "the-code"
            assert kwargs["data"]["client_secret"] == "gh-secret"
            return _Answer(200, {"access_token": "tok", "token_type": "bearer"})
        raise AssertionError(f"unexpected request to {url}")

    def get(self, url: str, **kwargs: Any) -> _Answer:
        self.calls.append(url)
        if url == "https://api.github.com/user":
            return _Answer(200, self.profile)
        if url == "https://api.github.com/user/emails":
            return _Answer(200, self.emails)
        raise AssertionError(f"unexpected request to {url}")


@pytest.fixture
def github(settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    settings.SOCIALACCOUNT_PROVIDERS = GITHUB
    fake = FakeGitHub()
    monkeypatch.setattr(DefaultSocialAccountAdapter, "get_requests_session", lambda self: fake)
    return fake


def sign_in_with_github(client: Client) -> Any:
    started = client.post("/accounts/github/login/")
    assert started.status_code == 302
    authorize = urlsplit(started["Location"])
    assert authorize.netloc == "github.com"
    query = parse_qs(authorize.query)
    assert query["client_id"] == ["gh-id"]
    return client.get(
        "/accounts/github/login/callback/", {"code": "the-code", "state": query["state"][0]}
    )


def logged_in_user(client: Client) -> int | None:
    user_id = client.session.get("_auth_user_id")
    return int(user_id) if user_id else None


def test_providers_are_offered_only_when_configured(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert "GitHub" not in Client().get("/accounts/login/").content.decode()
    settings.SOCIALACCOUNT_PROVIDERS = GITHUB
    for page in ("/accounts/login/", "/accounts/signup/"):
        html = Client().get(page).content.decode()
        assert "GitHub" in html
        assert "/accounts/github/login/" in html


def test_a_new_person_signs_up_with_github_and_is_logged_in(github: FakeGitHub) -> None:
    github.profile = {"id": 101, "login": "newbie", "name": "New Person", "email": None}
    github.emails = [{"email": "newbie@example.com", "primary": True, "verified": True}]
    client = Client()
    response = sign_in_with_github(client)
    assert response.status_code == 302
    user = User.objects.get(email="newbie@example.com")
    assert logged_in_user(client) == user.pk
    assert SocialAccount.objects.filter(user=user, provider="github", uid="101").exists()
    assert EmailAddress.objects.filter(user=user, email="newbie@example.com", verified=True)
    # The provider's token is not kept.
    assert not SocialToken.objects.filter(account__user=user).exists()


@pytest.mark.parametrize("verified", [True, False])
def test_a_github_account_with_an_existing_email_never_takes_the_account_over(
    github: FakeGitHub, alice: User, verified: bool
) -> None:
    github.profile = {"id": 202, "login": "mallory", "name": "Not Alice", "email": None}
    github.emails = [{"email": alice.email, "primary": True, "verified": verified}]
    client = Client()
    response = sign_in_with_github(client)
    assert logged_in_user(client) is None
    assert not SocialAccount.objects.filter(user=alice).exists()
    # allauth asks for the sign-up form instead, where the email is already taken.
    assert response.status_code == 302
    follow = client.get(response["Location"])
    assert follow.status_code == 200
    assert User.objects.filter(email=alice.email).count() == 1


def test_a_returning_github_person_logs_in_again(github: FakeGitHub) -> None:
    github.profile = {"id": 303, "login": "back", "email": "back@example.com"}
    github.emails = [{"email": "back@example.com", "primary": True, "verified": True}]
    sign_in_with_github(Client())
    client = Client()
    sign_in_with_github(client)
    assert logged_in_user(client) == User.objects.get(email="back@example.com").pk
    assert User.objects.filter(email="back@example.com").count() == 1


def test_a_forged_state_is_refused(github: FakeGitHub) -> None:
    client = Client()
    client.post("/accounts/github/login/")
    response = client.get(
        "/accounts/github/login/callback/", {"code": "the-code", "state": "forged"}
    )
    assert logged_in_user(client) is None
    assert response.status_code == 401  # allauth's authentication-error page
    assert github.calls == []  # the code was never exchanged


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/accounts/google/login/"),
        ("post", "/accounts/google/login/"),
        ("get", "/accounts/google/login/callback/?code=the-code&state=s"),
        ("post", "/accounts/github/login/"),
        ("get", "/accounts/github/login/callback/"),
        ("post", "/accounts/oidc/oidc/login/"),
    ],
)
def test_a_provider_that_is_not_switched_on_is_not_found(
    settings: Any, method: str, path: str
) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {}
    response = getattr(Client(raise_request_exception=False), method)(path)
    assert response.status_code == 404


def test_allauth_still_sees_a_missing_provider_as_a_missing_app(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {}
    with pytest.raises(SocialApp.DoesNotExist):
        get_adapter().get_app(None, "google")


OIDC = {
    "openid_connect": {
        "APPS": [
            {
                "provider_id": "oidc",
                "name": "Single sign-on",
                "client_id": "oidc-id",
                "secret": "oidc-secret",
                "settings": {"server_url": "https://sso.example.com"},
            }
        ]
    }
}
OIDC_CONFIGURATION = {
    "issuer": "https://sso.example.com",
    "authorization_endpoint": "https://sso.example.com/authorize",
    "token_endpoint": "https://sso.example.com/token",
    "userinfo_endpoint": "https://sso.example.com/userinfo",
    "jwks_uri": "https://sso.example.com/jwks",
}


class FakeOpenIDProvider:
    """Serves the provider's configuration until it goes down."""

    def __init__(self) -> None:
        self.down = False

    def __enter__(self) -> FakeOpenIDProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get(self, url: str, **kwargs: Any) -> _Answer:
        if self.down:
            raise requests.ConnectionError(f"Failed to resolve {urlsplit(url).netloc}")
        assert url == "https://sso.example.com/.well-known/openid-configuration"
        return _Answer(200, OIDC_CONFIGURATION)


@pytest.fixture
def openid(settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeOpenIDProvider:
    settings.SOCIALACCOUNT_PROVIDERS = OIDC
    fake = FakeOpenIDProvider()
    monkeypatch.setattr(DefaultSocialAccountAdapter, "get_requests_session", lambda self: fake)
    return fake


def test_an_unreachable_openid_provider_is_the_sign_in_error_page(
    openid: FakeOpenIDProvider, caplog: pytest.LogCaptureFixture
) -> None:
    openid.down = True
    response = Client(raise_request_exception=False).post("/accounts/oidc/oidc/login/")
    assert response.status_code == 401  # allauth's authentication-error page
    assert "Logging in did not work" in response.content.decode()
    assert "sso.example.com" not in response.content.decode()
    assert "Sign-in with a provider failed on POST /accounts/oidc/oidc/login/" in caplog.text
    assert "Failed to resolve sso.example.com" in caplog.text


def test_an_openid_provider_that_goes_down_before_the_callback_is_the_error_page(
    openid: FakeOpenIDProvider,
) -> None:
    client = Client(raise_request_exception=False)
    started = client.post("/accounts/oidc/oidc/login/")
    assert started.status_code == 302
    state = parse_qs(urlsplit(started["Location"]).query)["state"][0]
    openid.down = True
    response = client.get("/accounts/oidc/oidc/login/callback/", {"code": "c", "state": state})
    assert response.status_code == 401
    assert logged_in_user(client) is None


def _settings_with(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.SOCIALACCOUNT_PROVIDERS))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "core.settings.dev", **env},
        check=False,
    )


def test_providers_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "DATA_DIR": str(tmp_path),
        "GOOGLE_CLIENT_ID": "g-id",
        "GOOGLE_CLIENT_SECRET": "g-secret",
        "OIDC_CLIENT_ID": "o-id",
        "OIDC_CLIENT_SECRET": "o-secret",
        "OIDC_SERVER_URL": "https://id.example.org",
    }
    result = _settings_with(env)
    assert result.returncode == 0, result.stderr
    providers = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(providers) == {"google", "openid_connect"}
    assert providers["google"]["APPS"][0]["client_id"] == "g-id"
    oidc = providers["openid_connect"]["APPS"][0]
    assert oidc["settings"]["server_url"] == "https://id.example.org"
    assert oidc["name"] == "Single sign-on"


def test_a_client_id_without_its_secret_stops_start_up(tmp_path: Path) -> None:
    result = _settings_with({"DATA_DIR": str(tmp_path), "GITHUB_CLIENT_ID": "only-the-id"})
    assert result.returncode != 0
    assert "Set GITHUB_CLIENT_SECRET too" in result.stderr
