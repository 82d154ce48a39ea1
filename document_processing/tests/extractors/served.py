"""Extractors the fork server's children can be given in tests, and starting a server for a test.

A child of the server loads the extractor it is sent by importing its module: these live in a
module of their own that imports little (no pytest, no Django), so that it loads quickly.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from document_processing.extractors import forkserver, isolation
from document_processing.extractors.base import ExtractedPage, ExtractionLimits, ExtractionResult

if TYPE_CHECKING:
    import pytest

MIB = 1024 * 1024

# Set by a warm-up in the process that runs it.
_warmed_up = False


def pages(*texts: str) -> ExtractionResult:
    return ExtractionResult(pages=[ExtractedPage(markdown=text) for text in texts])


@dataclass(frozen=True)
class WhoReads:
    """Answers with the process that read the file: its pid, its parent's, whether it had
    warmed up."""

    name: ClassVar[str] = "who-reads"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        return pages(str(os.getpid()), str(os.getppid()), str(_warmed_up))

    def warm_up(self, *, limits: ExtractionLimits) -> None:
        global _warmed_up
        _warmed_up = True


def reader(result: ExtractionResult) -> int:
    return int(result.pages[0].markdown)


def readers_parent(result: ExtractionResult) -> int:
    return int(result.pages[1].markdown)


def had_warmed_up(result: ExtractionResult) -> bool:
    return result.pages[2].markdown == "True"


@dataclass(frozen=True)
class Allocates:
    """Holds `mib` MiB while it reads."""

    mib: int
    name: ClassVar[str] = "allocates"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        block = bytearray(self.mib * MIB)
        return pages(str(len(block)))


@dataclass(frozen=True)
class Sleeps:
    seconds: float
    name: ClassVar[str] = "sleeps"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        time.sleep(self.seconds)
        return pages("awake")


@dataclass(frozen=True)
class ClosesPipeAndLingers:
    """Closes every descriptor it has (its answer pipe with them), then does not leave."""

    name: ClassVar[str] = "closes-pipe-and-lingers"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        os.closerange(3, 1024)
        time.sleep(60)
        return pages("never")


@dataclass(frozen=True)
class Dies:
    """Killed by `signum` while it reads, without an answer."""

    signum: int
    name: ClassVar[str] = "dies"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        os.kill(os.getpid(), self.signum)
        time.sleep(60)
        return pages("never")


@dataclass(frozen=True)
class LooksAtDescriptor:
    """Answers with what descriptor `fd` leads to in the reading process ("" if not open)."""

    fd: int
    name: ClassVar[str] = "looks-at-descriptor"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        try:
            return pages(os.readlink(f"/proc/self/fd/{self.fd}"))
        except OSError:
            return pages("")


class Logs(WhoReads):
    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        logging.getLogger("some.parser").warning("read by a child of the server")
        return super().extract(path, limits=limits)


class WarmsUpForever(WhoReads):
    def warm_up(self, *, limits: ExtractionLimits) -> None:
        time.sleep(60)


class DiesInWarmUp(WhoReads):
    def warm_up(self, *, limits: ExtractionLimits) -> None:
        os._exit(1)


class FailsToWarmUp(WhoReads):
    def warm_up(self, *, limits: ExtractionLimits) -> None:
        raise RuntimeError("no warm-up today")


def server_children(client: forkserver._Client) -> set[int]:
    """The server's children now: its spare (or spares), and those reading files."""
    pid = client.process.pid
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def forked_since(client: forkserver._Client, before: set[int], seconds: float = 10) -> set[int]:
    """The server's children that were not among `before`, once there is one (none after
    `seconds`). A spare that took a file has the server fork the next one while it reads, but
    on a busy machine the worker may have its answer before that fork is done."""
    deadline = time.monotonic() + seconds
    while not (new := server_children(client) - before) and time.monotonic() < deadline:
        time.sleep(0.01)
    return new


def start_server(
    monkeypatch: pytest.MonkeyPatch,
    *,
    warm_ups: Sequence[str] = tuple(forkserver._warm_ups),
    start_seconds: float | None = None,
    wait: bool = True,
) -> forkserver._Client:
    """A fork server of this process, started afresh with these warm-ups (dotted paths) and
    start wait, and (with `wait`) ready."""
    forkserver._stop_server()
    monkeypatch.setattr(forkserver, "_warm_ups", tuple(warm_ups))
    monkeypatch.setattr(forkserver, "_retry_at", 0.0)
    if start_seconds is not None:
        monkeypatch.setattr(isolation, "_START_SECONDS", start_seconds)
    forkserver._ready_client()  # starts it
    client = forkserver._client
    assert client is not None
    deadline = time.monotonic() + 30
    while wait and forkserver._ready_client() is None:
        assert time.monotonic() < deadline, "the fork server did not get ready"
        time.sleep(0.01)
    return client
