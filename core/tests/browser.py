"""What every browser test shares: Debian's Chromium, headless, and the marks that skip the
tests (with the reason) where it is not installed."""

from __future__ import annotations

import os
import shutil

import pytest

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

E2E_MARKS = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not os.path.exists(CHROMIUM),
        reason="needs Chromium (apt install chromium; .ci/run installs it)",
    ),
]
