"""The cover drawn from a PDF's first page (`pdf.cover`)."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from document_processing.extractors.base import ExtractionLimits
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.extractors.pdf import cover as pdf_cover
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import LIMITS, _extract, _json_trip


def _cover_image(cover: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(cover))
    image.load()
    assert (image.format, image.mode) == ("JPEG", "RGB")
    return image


def _rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def _assert_shaped_like_a4(cover: bytes) -> None:
    image = _cover_image(cover)
    assert max(image.size) == pdf_cover._COVER_SIDE
    assert image.width / image.height == pytest.approx(samples.WIDTH / samples.HEIGHT, abs=0.005)


def test_the_cover_is_the_first_page_drawn_in_its_shape(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.report_pdf(2))

    _assert_shaped_like_a4(result.cover)
    grey = _cover_image(result.cover).convert("L")
    histogram = grey.histogram()
    assert sum(histogram[:100]) > 0  # text
    assert sum(histogram[240:]) > grey.width * grey.height // 2  # on a white page


def test_the_cover_of_a_wide_page_is_wide(tmp_path: Path) -> None:
    content = b"BT /F1 24 Tf 36 100 Td (A wide banner) Tj ET"
    data = samples.handmade_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1000 250] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
    )

    assert _cover_image(_extract(tmp_path, data).cover).size == (
        pdf_cover._COVER_SIDE,
        pdf_cover._COVER_SIDE // 4,
    )


def test_the_cover_is_the_same_from_one_child_and_from_several(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(24))
    in_process = PdfExtractor().extract(path, limits=LIMITS).cover

    one_child = run_isolated(PdfExtractor(), path, limits=LIMITS, workers=1).cover
    two_children = run_isolated(PdfExtractor(), path, limits=LIMITS, workers=2).cover

    _assert_shaped_like_a4(two_children)
    assert one_child == in_process
    assert two_children == in_process


def test_only_the_share_holding_page_one_draws_the_cover(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(24))
    extractor = PdfExtractor()
    shares = [extractor.read_share(path, limits=LIMITS, part=part, parts=2) for part in (0, 1)]
    decision = extractor.decide([share.survey() for share in shares], limits=LIMITS)

    first, second = (_json_trip(share.finish(decision)) for share in shares)

    _assert_shaped_like_a4(base64.b64decode(first["cover"]))
    assert second["cover"] == ""
    assert shares[1].cover == b""


@pytest.mark.parametrize(
    "cover",
    [3, ["/9j/"], "not base64!", base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(20)).decode()],
)
def test_a_malformed_cover_in_a_share_answer_is_dropped_not_the_document(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, cover: Any
) -> None:
    path = samples.write(tmp_path, samples.report_pdf(2))
    extractor = PdfExtractor()
    share = extractor.read_share(path, limits=LIMITS, part=0, parts=1)
    answer = _json_trip(share.finish(extractor.decide([share.survey()], limits=LIMITS)))

    result = extractor.combine([{**answer, "cover": cover}], limits=LIMITS)

    assert result.cover == b""
    assert result.pages == extractor.extract(path, limits=LIMITS).pages
    assert "The cover of a PDF was dropped" in caplog.text


def test_a_blank_first_page_gives_no_cover(tmp_path: Path) -> None:
    assert _extract(tmp_path, samples.blank_pdf(2)).cover == b""


def test_a_first_page_of_no_size_gives_no_cover_and_no_failure(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.zero_size_page_pdf())

    assert result.cover == b""
    assert [page.markdown for page in result.pages] == [""]


def test_a_picture_on_the_first_page_is_drawn_on_the_cover(tmp_path: Path) -> None:
    image = _cover_image(_extract(tmp_path, samples.photo_pdf()).cover)

    # The picture's lower right quarter is red; the page's corner is white.
    scale = pdf_cover._COVER_SIDE / samples.HEIGHT
    x, y = (72 + 0.8 * 300) * scale, (samples.HEIGHT - 150 - 0.8 * 150) * scale
    red, green, _ = _rgb(image, (round(x), round(y)))
    assert red > 150 > green
    assert min(_rgb(image, (5, 5))) > 240


def test_first_page_images_over_the_pixel_limit_give_no_cover(tmp_path: Path) -> None:
    data = samples.photo_pdf((400, 600))
    below = ExtractionLimits(ocr_enabled=False, cover_max_pixels=400 * 600 - 1)
    at = ExtractionLimits(ocr_enabled=False, cover_max_pixels=400 * 600)

    assert _extract(tmp_path, data, below).cover == b""
    assert _extract(tmp_path, data, at).cover != b""


@pytest.mark.parametrize(
    ("image", "image_filter"),
    [
        (samples.jpeg_declaring(30000), "DCTDecode"),  # 900 megapixels: slow to decode
        (samples.jpx_declaring(8000), "JPXDecode"),  # 64 megapixels: over 256 MiB once decoded
    ],
)
def test_an_image_larger_than_its_dictionary_says_is_not_drawn(
    tmp_path: Path, image: bytes, image_filter: str
) -> None:
    # The dictionary says 64 x 64; pdfium would decode the image at the size its data declares.
    path = samples.write(
        tmp_path, samples.image_page_pdf(image, image_filter=image_filter, width=64, height=64)
    )
    limits = ExtractionLimits(ocr_enabled=False, memory_limit_bytes=256 * 1024 * 1024)

    result = run_isolated(PdfExtractor(), path, limits=limits)

    assert result.cover == b""
    assert [page.markdown for page in result.pages] == ["Hello cover world"]


@pytest.mark.parametrize(
    ("image", "image_filter"),
    [(samples.jpeg_declaring(64), "DCTDecode"), (samples.jpx_declaring(64), "JPXDecode")],
)
def test_an_image_as_large_as_its_dictionary_says_is_drawn(
    tmp_path: Path, image: bytes, image_filter: str
) -> None:
    data = samples.image_page_pdf(image, image_filter=image_filter, width=64, height=64)

    assert _extract(tmp_path, data).cover != b""
