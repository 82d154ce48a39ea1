"""What the tests of the PDF extractor share: extraction with test limits, and a book read
in shares as run_isolated reads it."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from document_processing.extractors.base import ExtractionError, ExtractionLimits, ExtractionResult
from document_processing.extractors.pdf import PdfExtractor
from document_processing.tests.extractors import pdf_samples as samples

LIMITS = ExtractionLimits(ocr_enabled=False)


def _extract(tmp_path: Path, data: bytes, limits: ExtractionLimits = LIMITS) -> ExtractionResult:
    return PdfExtractor().extract(samples.write(tmp_path, data), limits=limits)


def _error(tmp_path: Path, data: bytes, limits: ExtractionLimits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        _extract(tmp_path, data, limits)
    return caught.value


RUNNING_TITLE = "Field Notes of a Self-Made Naturalist"


def _json_trip(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _shared(path: Path, parts: int, limits: ExtractionLimits = LIMITS) -> ExtractionResult:
    """What run_isolated does with `parts` children, here: every message through JSON."""
    extractor = PdfExtractor()
    shares = [
        extractor.read_share(path, limits=limits, part=part, parts=parts) for part in range(parts)
    ]
    surveys = [_json_trip(share.survey()) for share in shares]
    decision = _json_trip(extractor.decide(surveys, limits=limits))
    finished = [_json_trip(share.finish(decision)) for share in shares]
    return extractor.combine(finished, limits=limits)


def _book_pdf() -> bytes:
    """20 pages under a running title, numbered at the foot; on page 17 a word broken at a line
    end that page 3 writes with a hyphen, and one that only the running title does."""
    rng = random.Random(5)
    pages = []
    for number in range(1, 21):
        lines = [RUNNING_TITLE]
        for _ in range(3):
            paragraph = samples.paragraph_text(rng)
            lines += [*samples.wrap(paragraph, samples.WIDTH - 2 * samples.MARGIN), ""]
        if number == 3:
            lines.append("A well-known fact about rivers.")
        if number == 17:
            lines += ["It is, twice, well-", "known and self-", "made."]
        lines.append(str(number))
        pages.append(lines)
    return samples.lines_pdf(pages)
