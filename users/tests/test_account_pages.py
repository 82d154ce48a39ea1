"""allauth's pages in the site's words: sentence case, "Log in" and "Sign up", no colon after a
label, and a confirmation after every form that succeeded."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

# allauth's own spellings, which the site does not use.
NOT_OURS = re.compile(
    r"Sign In|Sign Up|Signup|Sign Out|sign in|signed in|Remember Me|Change Password|Set Password|"
    r"Email Addresses|Password Reset|Reset My Password|Make Primary|Re-send|Add Email|"
    r"Confirm Access|Forgotten your password|Successfully"
)
VISITOR_PAGES = [
    "/accounts/login/",
    "/accounts/signup/",
    "/accounts/password/reset/",
    "/accounts/password/reset/done/",
    "/accounts/password/reset/key/1-set-password/",
    "/accounts/password/reset/key/done/",
    "/accounts/confirm-email/",
    "/accounts/confirm-email/no-such-key/",
    "/accounts/inactive/",
]
MEMBER_PAGES = [
    "/accounts/password/change/",
    "/accounts/email/",
    "/accounts/logout/",
    "/accounts/reauthenticate/",
]


def words(html: str) -> str:
    main = html[html.index("<main") : html.index("</main>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


def headings(html: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", heading)).strip()
        for heading in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)
    ]


def is_sentence_case(text: str) -> bool:
    later = text.split()[1:]
    return text[:1].isupper() and not any(
        word[:1].isupper() and word not in {"Pagecast", "I"} for word in later
    )


def member(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("path", VISITOR_PAGES + MEMBER_PAGES)
def test_each_account_page_says_log_in_and_sign_up_in_sentence_case(alice: User, path: str) -> None:
    client = member(alice) if path in MEMBER_PAGES else Client()
    response = client.get(path, follow=True)
    assert response.status_code == 200, path
    html = response.content.decode()
    assert NOT_OURS.search(words(html)) is None, (path, NOT_OURS.search(words(html)))
    assert all(is_sentence_case(heading) for heading in headings(html)), headings(html)
    assert not re.search(r":\s*</label>", html), path


def test_the_log_in_form_reads_remember_me(alice: User) -> None:
    html = Client().get("/accounts/login/").content.decode()
    assert re.search(
        r'<label for="id_remember"><input [^>]*id="id_remember"[^>]*> Remember me</label>', html
    )
    assert "<h1>Log in</h1>" in html
    assert re.search(r'<button[^>]*type="submit"[^>]*>\s*Log in\s*</button>', html)


def test_changing_the_password_ends_in_the_settings_with_a_confirmation(alice: User) -> None:
    client = member(alice)
    page = client.get("/accounts/password/change/").content.decode()
    for label in ("Current password", "New password", "New password (again)"):
        assert re.search(rf"<label[^>]*>\s*{re.escape(label)}\s*</label>", page), label
    response = client.post(
        "/accounts/password/change/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": "a new long passphrase",
         "password2": "a new long passphrase"},
        follow=True,
    )  # fmt: skip
    assert response.redirect_chain[-1][0] == "/settings/"
    html = response.content.decode()
    assert re.search(r'<p class="message message-success" role="status">\s*Your password was '
                     r"changed\.\s*</p>", html)  # fmt: skip
    alice.refresh_from_db()
    assert alice.check_password("a new long passphrase")


def test_logging_in_and_out_are_confirmed_in_the_sites_words(alice: User) -> None:
    client = Client()
    response = client.post(
        "/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD}, follow=True
    )
    assert f"You are logged in as {alice.email}." in response.content.decode()
    response = client.post("/accounts/logout/", follow=True)
    assert "You have logged out." in response.content.decode()
