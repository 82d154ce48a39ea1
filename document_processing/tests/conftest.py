from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.files.storage import default_storage

from document_processing.extractors import forkserver

STORED = "originals"


def stored_originals() -> set[str]:
    """Every original in storage right now."""
    if not default_storage.exists(STORED):
        return set()
    return set(default_storage.listdir(STORED)[1])


@pytest.fixture(autouse=True)
def _children_forked_here(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Extraction forks its children in the test process unless a test asks for the fork
    server (the `fork_server` fixture): a child of the server would not see what a test
    changes in this process, and the server's start up would be paid by every test."""
    if "fork_server" not in request.fixturenames:
        monkeypatch.setattr(forkserver, "run_served", lambda *args, **kwargs: None)
        monkeypatch.setattr(forkserver, "start_server", lambda: None)


@pytest.fixture
def fork_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[forkserver._Client]:
    """Extraction through this process's fork server, started afresh and ready, stopped at
    the end."""
    from document_processing.tests.extractors.served import start_server

    yield start_server(monkeypatch)
    forkserver._stop_server()
