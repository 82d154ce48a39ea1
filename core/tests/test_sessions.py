"""Sessions: in the database, and in a signed cookie, for a while, when the database is full."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from core.sessions import SIGNED_PREFIX, SessionStore
from core.tests.full_disk import database_refusing_writes
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def signed_session(data: dict[str, Any]) -> SessionStore:
    store = SessionStore()
    store.update(data)
    with database_refusing_writes():
        store.save()
    return store


def test_a_session_is_a_database_row_as_usual() -> None:
    store = SessionStore()
    store["colour"] = "blue"
    store.save()

    assert store.session_key is not None
    assert not store.is_signed
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {"colour": "blue"}


def test_a_session_the_database_refuses_is_signed_and_reads_back() -> None:
    store = signed_session({"colour": "blue"})

    assert store.is_signed
    assert not Session.objects.exists()
    assert SessionStore(store.session_key)["colour"] == "blue"


def test_a_tampered_or_foreign_signed_session_is_no_session() -> None:
    key = signed_session({"colour": "blue"}).session_key
    assert key is not None

    for forged in (key[:-2] + "xx", SIGNED_PREFIX + "e30:1abc:def", SIGNED_PREFIX):
        store = SessionStore(forged)
        assert store.load() == {}
        assert store.session_key is None


def test_a_signed_session_lapses_after_its_time_from_the_first_signing(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SESSION_FALLBACK_SECONDS = 600
    start = time.time()
    store = signed_session({"colour": "blue"})

    # Re-signed on a later request while the database is still full: the clock does not restart.
    monkeypatch.setattr(time, "time", lambda: start + 500)
    later = SessionStore(store.session_key)
    later["colour"] = "green"
    with database_refusing_writes():
        later.save()
    assert later.is_signed
    assert SessionStore(later.session_key)["colour"] == "green"

    monkeypatch.setattr(time, "time", lambda: start + 601)
    assert SessionStore(later.session_key).load() == {}


def test_a_signed_session_moves_into_the_database_once_it_can() -> None:
    signed = signed_session({"colour": "blue"})

    store = SessionStore(signed.session_key)
    assert store["colour"] == "blue"
    store.save()

    assert not store.is_signed
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {"colour": "blue"}


def test_a_row_the_database_could_not_update_is_deleted_once_it_can() -> None:
    store = SessionStore()
    store["colour"] = "blue"
    store.save()
    row_key = store.session_key

    store["colour"] = "green"
    with database_refusing_writes():
        store.save()  # Django's store would raise UpdateError: "the session was deleted"
    assert store.is_signed
    assert Session.objects.get(session_key=row_key).get_decoded() == {"colour": "blue"}

    moved = SessionStore(store.session_key)
    moved.save()

    assert not Session.objects.filter(session_key=row_key).exists()
    assert Session.objects.get(session_key=moved.session_key).get_decoded() == {"colour": "green"}


def test_a_password_change_ends_a_signed_session(alice: User) -> None:
    browser = Client()
    with database_refusing_writes():
        browser.get("/accounts/login/")
        browser.post("/accounts/login/", {"login": alice.email, "password": DEFAULT_PASSWORD})
        assert browser.cookies["sessionid"].value.startswith(SIGNED_PREFIX)

    alice.set_password("a whole new password")
    alice.save()

    assert browser.get("/library/").status_code == 302  # to the log-in page


def test_logging_out_of_a_signed_session_forgets_it() -> None:
    store = signed_session({"colour": "blue"})

    store.flush()

    assert store.session_key is None
    assert dict(store.items()) == {}
