"""PdfExtractor as a whole (`pdf.extractor`)."""

from __future__ import annotations

import threading
from pathlib import Path

from document_processing.extractors.base import ExtractionResult
from document_processing.extractors.pdf import PdfExtractor
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import LIMITS, _extract


def test_pages_come_back_in_order_as_their_paragraphs(tmp_path: Path) -> None:
    pages = samples.report_pages(5)

    result = _extract(tmp_path, samples.report_pdf(5))

    assert [page.markdown for page in result.pages] == ["\n\n".join(page) for page in pages]


def test_threads_may_share_the_extractor(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(8))
    expected = PdfExtractor().extract(path, limits=LIMITS)
    results: list[ExtractionResult] = []

    def work() -> None:
        results.append(PdfExtractor().extract(path, limits=LIMITS))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [expected] * 4
