"""Helpers for the command's tests: documents to convert, and running `pagecast` two ways.

`invoke` runs the command in this process (Typer's runner, the test settings and their fake
engine); `run` starts the installed console script as a person would, in a fresh process.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from document_processing.tests.extractors.pdf_samples import pdf_bytes
from pagecast_cli.main import app

ROOT = Path(__file__).resolve().parents[2]
PAGECAST = Path(sys.executable).with_name("pagecast")
FAKE = "fake:alpha"

BOOK_MARKDOWN = """# The harbour

The boats came in at dawn. Gulls followed them, crying over the nets.

# The market

Fish was sold by noon. The square emptied as the heat rose.

# The evening

Lamps were lit along the quay. Somebody sang an old song.
"""


@pytest.fixture(autouse=True)
def _one_core() -> Iterator[None]:
    """Commands run on one core unless a test asks for more: a worker pool per `convert` would
    cost each test a new interpreter. `convert` also sets PIPER_THREADS for itself, so this
    process's values are put back afterwards (after the test's own monkeypatch is undone: this
    fixture does not use it, so it is torn down last)."""
    saved = {name: os.environ.get(name) for name in ("PAGECAST_JOBS", "PIPER_THREADS")}
    os.environ["PAGECAST_JOBS"] = "1"
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    # A command sets up the root logger for itself; other tests in this process expect theirs.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """Three pages, each with a heading (its title) and two sentences."""
    path = tmp_path / "book.md"
    path.write_text(BOOK_MARKDOWN, encoding="utf-8")
    return path


def two_page_pdf(path: Path) -> Path:
    pages = [
        ["The first page is short. It has two sentences."],
        ["The second page follows. It ends the document."],
    ]
    path.write_bytes(pdf_bytes(pages, title="Tiny Book", heading="Chapter {page}"))
    return path


def invoke(
    *args: str | Path, input: str | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    return CliRunner().invoke(app, [str(arg) for arg in args], input=input, env=env)


def run(
    *args: str | Path,
    cwd: Path,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 300,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """The installed `pagecast` script in a new process (by default on the test settings)."""
    # The checkout on the path, as pytest has it, for the test settings and their fake engine.
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    for key, value in (env or {}).items():  # None: unset
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return subprocess.run(
        [str(PAGECAST), *(str(arg) for arg in args)],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        check=False,
    )


def error_line(stderr: str) -> str:
    """The one line a failure prints; fails the test if there is more (or a traceback)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("pagecast: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0].removeprefix("pagecast: error: ")


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []
