"""Backends that take their time, for workers that tests kill half-way through a job.

Registered by core/tests/worker_settings.py through the ordinary plug-in settings
(DOCUMENT_EXTRACTORS, STORAGES): the code under test runs unchanged, it only waits longer at
the points where a real job spends its time (reading a document, writing or deleting files).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Any, ClassVar

from django.conf import settings
from django.core.files.storage import FileSystemStorage

from document_processing.extractors.base import ExtractionLimits, ExtractionResult
from document_processing.extractors.text import MarkdownExtractor


class SlowMarkdownExtractor:
    """The Markdown extractor, after SLOW_EXTRACTION_SECONDS (read in the isolated child)."""

    name: ClassVar[str] = "markdown"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        time.sleep(getattr(settings, "SLOW_EXTRACTION_SECONDS", 0.0))
        return MarkdownExtractor().extract(path, limits=limits)


class SlowFileSystemStorage(FileSystemStorage):
    """Local files, where a write or a deletion under one of `slow_folders` waits
    `delay_seconds` before it happens: a worker killed meanwhile has changed nothing there.
    Elsewhere (audio and its stream parts, say) it is as fast as ever."""

    def __init__(
        self, *, delay_seconds: float = 0.0, slow_folders: tuple[str, ...] = (), **options: Any
    ) -> None:
        super().__init__(**options)
        self.delay_seconds = delay_seconds
        self.slow_folders = tuple(f"{folder.rstrip('/')}/" for folder in slow_folders)

    def _wait_for(self, name: str) -> None:
        if name.startswith(self.slow_folders):
            time.sleep(self.delay_seconds)

    def save(self, name: str | None, content: IO[Any], max_length: int | None = None) -> str:
        self._wait_for(name or "")
        return super().save(name, content, max_length=max_length)

    def delete(self, name: str) -> None:
        self._wait_for(name)
        super().delete(name)
