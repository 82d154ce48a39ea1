"""The web UI's error pages: in the site's layout, with the way back to the library, and the
API's envelopes left as they are."""

from __future__ import annotations

import logging
import re

import pytest
from django.test import Client

from users.models import User

pytestmark = [pytest.mark.django_db, pytest.mark.urls("core.tests.urls_for_errors")]

LIBRARY_LINK = '<a class="button primary" href="/library/">Back to your library</a>'


def signed_in(user: User) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def in_layout(html: str) -> bool:
    return (
        'class="skip-link"' in html and 'class="site-header"' in html and '<main id="main"' in html
    )


def heading(html: str) -> str:
    match = re.search(r'<h1 id="error-title">(.*?)</h1>', html)
    assert match, html
    return match.group(1)


@pytest.mark.parametrize(
    ("path", "status", "title"),
    [
        ("/no-such-page/", 404, "Page not found"),
        ("/test/page-forbidden/", 403, "You may not see this page"),
        ("/test/page-bad-request/", 400, "This request could not be understood"),
        ("/test/page-boom/", 500, "Something went wrong"),
    ],
)
def test_each_error_page_is_in_the_layout_with_the_way_back(
    alice: User, path: str, status: int, title: str
) -> None:
    response = signed_in(alice).get(path)
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert in_layout(html)
    assert heading(html) == title
    assert LIBRARY_LINK in html
    assert "alice@example.com" in html  # the header knows who is signed in
    assert "Not Found</h1>" not in html  # (Django's bare page)


def test_a_visitor_is_offered_the_home_page_and_logging_in() -> None:
    html = Client().get("/no-such-page/").content.decode()
    assert in_layout(html)
    assert '<a class="button primary" href="/">Go to the home page</a>' in html
    assert '<a class="button" href="/accounts/login/">Log in</a>' in html


def test_a_server_error_page_carries_the_id_of_its_log_line(
    alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pagecast.errors"):
        html = signed_in(alice).get("/test/page-boom/").content.decode()
    match = re.search(r"Error ([0-9a-f-]{8,})", html)
    assert match
    assert any(match.group(1) in record.getMessage() for record in caplog.records)
    assert "plain view failure" not in html  # nothing of the exception is shown


def test_without_the_layout_the_page_still_says_what_happened_and_links_back(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> str:
        raise RuntimeError("the database is down")

    monkeypatch.setattr("core.error_pages.render_to_string", broken)
    response = signed_in(alice).get("/test/page-boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side." in html
    assert '<a href="/library/">Back to your library</a>' in html


def test_a_refused_form_is_a_page_in_the_layout(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"login": "a@example.com", "password": "x"})
    assert response.status_code == 403
    html = response.content.decode()
    assert in_layout(html)
    assert heading(html) == "The form could not be sent"
    assert '<a class="button primary" href="/">Go to the home page</a>' in html


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/no-such-thing/", 404, "not_found"),
        ("/api/v1/test/plain-boom/", 500, "server_error"),
    ],
)
def test_api_paths_keep_the_envelope(alice: User, path: str, status: int, code: str) -> None:
    response = signed_in(alice).get(path)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code


def test_a_refused_api_call_keeps_the_envelope(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/api/v1/documents/", {"title": "x", "text": "y"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
