"""The browser tests' helpers (core/tests/browser.py)."""

from __future__ import annotations

import pytest
from django.db import connections

from core.tests.browser import sync_playwright_closing_connections
from users.models import User


@pytest.mark.django_db(transaction=True)
def test_connections_made_while_playwright_runs_are_closed_when_it_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Playwright's sync API runs an event loop in this thread; the ORM calls here are sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright_closing_connections():
        User.objects.exists()
        during = connections["default"]
        assert during.connection is not None
    # Once the loop has stopped, the thread's own connection is another one: a teardown would
    # close that one, and never see the one made meanwhile.
    assert connections["default"] is not during
    assert during.connection is None
