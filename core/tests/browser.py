"""What every browser test shares: Debian's Chromium, headless, and the marks that skip the
tests (with the reason) where it is not installed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# Headless, no sandbox (containers), and nothing that would reach another host by itself.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
    # Continuous play starts the next page's audio without a click, as after a user's gesture.
    "--autoplay-policy=no-user-gesture-required",
]


@contextmanager
def sync_playwright_closing_connections() -> Iterator[Playwright]:
    """Playwright's sync API, which closes the database connections made while it ran.

    While its event loop runs in this thread, Django keeps the thread's connections per context
    (asgiref's Local) apart from the thread's own: a test's teardown that comes after the loop
    has stopped (a browser fixture of the test's own) closes the thread's own and misses those.
    One left open makes dropping the test database fail at the end of the run ("being accessed
    by other users")."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        try:
            yield playwright
        finally:
            connections.close_all()


@pytest.fixture(scope="module")
def browser(django_db_setup: None) -> Iterator[Browser]:
    """One headless Chromium for a test module (import this fixture into the module)."""
    # Playwright's sync API runs an event loop in this thread while the browser is open; the ORM
    # calls of the tests are sync, and the test database exists before the loop starts.
    with pytest.MonkeyPatch.context() as patch, sync_playwright_closing_connections() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


E2E_MARKS = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="needs Chromium (apt install chromium; .ci/run installs it)",
    ),
]


# axe-core, installed from the npm registry by `make browser-tools` (package-lock.json).
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# What fails a test: the two worst of axe's four impact levels.
AXE_FAILING = ("serious", "critical")


def axe_violations(tab: Any) -> list[str]:
    """The serious and critical accessibility violations axe-core finds on the tab's page now,
    one line each (rule, impact, and where). Skips the test when axe-core is not installed."""
    if not AXE.exists():
        pytest.skip("needs axe-core: make browser-tools (npm ci)")
    # Evaluated through the browser's debugging protocol, which the page's Content-Security-
    # Policy does not govern: no inline script is added to the page.
    if not tab.evaluate("typeof window.axe === 'object'"):
        tab.evaluate(AXE.read_text(encoding="utf-8"))
    results = tab.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        f"{violation['id']} ({violation['impact']}): "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results
        if violation["impact"] in AXE_FAILING
    ]
