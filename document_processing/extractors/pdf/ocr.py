"""Text recognition (OCR) of a page without a text layer, with the `tesseract` binary when it
is installed and allowed."""

from __future__ import annotations

import io
import logging
import math
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pypdfium2 as pdfium

from document_processing.extractors.base import ExtractionLimits

logger = logging.getLogger(__name__)


# OCR: 300 dpi as tesseract recommends, fewer for huge pages so the bitmap stays bounded.
_OCR_DPI = 300
_OCR_MAX_PIXELS = 40_000_000
_OCR_PAGE_TIMEOUT_SECONDS = 120.0
_OCR_LANGUAGE = re.compile(r"[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*")


@dataclass(frozen=True, slots=True)
class _Ocr:
    executable: str
    language: str

    @classmethod
    def find(cls, limits: ExtractionLimits) -> _Ocr | None:
        if not limits.ocr_enabled:
            return None
        executable = shutil.which("tesseract")
        if executable is None:
            return None
        if not _OCR_LANGUAGE.fullmatch(limits.ocr_language):
            logger.error("OCR language %r is not a tesseract language name", limits.ocr_language)
            return None
        return cls(executable, limits.ocr_language)

    def recognise(self, page: pdfium.PdfPage) -> str | None:
        """The page's text as tesseract reads it, or None when tesseract fails."""
        image = _render_png(page)
        # One thread: extraction runs beside other work; OpenMP's default would take every core.
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
        command = [self.executable, "stdin", "stdout", "-l", self.language]
        try:
            # The executable comes from PATH and the arguments are fixed or validated above.
            completed = subprocess.run(  # noqa: S603
                command,
                input=image,
                capture_output=True,
                timeout=_OCR_PAGE_TIMEOUT_SECONDS,
                env=env,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            logger.warning("tesseract did not finish", exc_info=True)
            return None
        if completed.returncode != 0:
            stderr = completed.stderr.decode("utf-8", "replace")[:500]
            logger.warning("tesseract failed (%d): %s", completed.returncode, stderr)
            return None
        return completed.stdout.decode("utf-8", "replace")


def _render_png(page: pdfium.PdfPage) -> bytes:
    width, height = page.get_size()
    scale = min(_OCR_DPI / 72, math.sqrt(_OCR_MAX_PIXELS / max(width * height, 1.0)))
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        buffer = io.BytesIO()
        # Fast compression: the PNG only travels through a pipe.
        bitmap.to_pil().save(buffer, format="PNG", compress_level=1)
        return buffer.getvalue()
    finally:
        bitmap.close()
