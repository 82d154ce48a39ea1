"""The admin has no log-in of its own: /admin/login/ is the site's log-in, with its lock-out."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from users.models import User
from users.tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boss(db: None) -> User:
    return UserFactory.create(email="boss@example.com", is_staff=True, is_superuser=True)


def _admin_login_url(client: Client) -> str:
    """Where the admin sends someone who is not logged in."""
    to_admin_login = client.get("/admin/")
    assert to_admin_login.status_code == 302
    to_site_login = client.get(to_admin_login["Location"])
    assert to_site_login.status_code == 302
    return str(to_site_login["Location"])


def test_the_admin_log_in_is_the_sites_log_in(boss: User) -> None:
    client = Client()
    login_url = _admin_login_url(client)
    assert urlsplit(login_url).path == "/accounts/login/"
    assert parse_qs(urlsplit(login_url).query)["next"] == ["/admin/"]
    # Credentials posted to the admin's old form are not checked there.
    response = client.post("/admin/login/", {"username": boss.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_staff_log_in_and_reach_the_admin(boss: User) -> None:
    client = Client()
    login_url = _admin_login_url(client)
    response = client.post(login_url, {"login": boss.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    # Already logged in, the admin's log-in page goes straight on.
    assert client.get("/admin/login/?next=/admin/").status_code == 302


def test_the_admin_path_locks_out_after_too_many_wrong_passwords(boss: User) -> None:
    client = Client()
    login_url = _admin_login_url(client)
    for _attempt in range(settings.LOGIN_ATTEMPTS_LIMIT):
        response = client.post(login_url, {"login": boss.email, "password": "wrong password"})
        assert response.status_code == 200
    response = client.post(login_url, {"login": boss.email, "password": DEFAULT_PASSWORD})
    assert response.status_code in (200, 429)
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
    client.post(
        "/admin/login/?next=/admin/", {"username": boss.email, "password": DEFAULT_PASSWORD}
    )
    assert "_auth_user_id" not in client.session


def test_people_who_are_not_staff_are_refused(alice: User) -> None:
    client = Client()
    client.force_login(alice)
    assert client.get("/admin/login/?next=/admin/").status_code == 403
    assert client.get("/admin/").status_code == 302
