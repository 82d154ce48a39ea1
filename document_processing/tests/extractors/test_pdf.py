"""PdfExtractor: text, layout and clean-up on PDFs built in the tests, and every bad input."""

from __future__ import annotations

import base64
import io
import json
import os
import random
import shutil
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from document_processing.extractors import pdf as pdf_module
from document_processing.extractors.base import ExtractionError, ExtractionLimits, ExtractionResult
from document_processing.extractors.isolation import run_isolated
from document_processing.extractors.pdf import PdfExtractor
from document_processing.markdown import (
    escape_markdown_inline,
    escape_markdown_line_starts,
    markdown_to_text,
)
from document_processing.tests.extractors import pdf_samples as samples

LIMITS = ExtractionLimits(ocr_enabled=False)


def _extract(tmp_path: Path, data: bytes, limits: ExtractionLimits = LIMITS) -> ExtractionResult:
    return PdfExtractor().extract(samples.write(tmp_path, data), limits=limits)


def _error(tmp_path: Path, data: bytes, limits: ExtractionLimits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        _extract(tmp_path, data, limits)
    return caught.value


def _fake_tesseract(tmp_path: Path, script: str) -> str:
    """A PATH whose first `tesseract` runs `script` (sh), to test the OCR plumbing anywhere."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / "tesseract"
    program.write_text(f"#!/bin/sh\n{script}\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


# --- Text, order and clean-up ------------------------------------------------------------------


def test_pages_come_back_in_order_as_their_paragraphs(tmp_path: Path) -> None:
    pages = samples.report_pages(5)

    result = _extract(tmp_path, samples.report_pdf(5))

    assert [page.markdown for page in result.pages] == ["\n\n".join(page) for page in pages]


def test_running_header_and_page_footer_are_dropped(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.report_pdf(6))

    text = "\n".join(page.markdown for page in result.pages)
    assert samples.RUNNING_HEADER not in text
    assert "Page 3 of 6" not in text
    assert "of 6" not in text


def test_running_headers_that_alternate_between_pages_are_dropped(tmp_path: Path) -> None:
    body = samples.report_pages(8)
    running = ["The Book Title", "Chapter One: Beginnings"]
    pages = [[running[number % 2], *paragraphs] for number, paragraphs in enumerate(body)]

    result = _extract(tmp_path, samples.pdf_bytes(pages))

    assert [page.markdown for page in result.pages] == ["\n\n".join(page) for page in body]


def test_each_chapters_running_title_is_dropped(tmp_path: Path) -> None:
    # Neither title is on most pages, but each runs over several pages in a row.
    body = samples.report_pages(9)
    titles = ["Chapter 1: Beginnings {page}"] * 4 + ["Chapter 2: The Long Middle Part {page}"] * 5
    pages = [
        [title.format(page=number), *paragraphs]
        for number, (title, paragraphs) in enumerate(zip(titles, body, strict=True), start=1)
    ]

    result = _extract(tmp_path, samples.pdf_bytes(pages))

    assert [page.markdown for page in result.pages] == ["\n\n".join(page) for page in body]


def test_short_documents_keep_their_first_and_last_lines(tmp_path: Path) -> None:
    # Three pages are too few to tell a running header from text that happens to repeat.
    result = _extract(tmp_path, samples.report_pdf(3))

    assert all(page.markdown.startswith(samples.RUNNING_HEADER) for page in result.pages)


def test_title_and_author_come_from_the_metadata(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.report_pdf(1))

    assert (result.title, result.author) == ("Example Report", "Ada Lovelace")


def test_placeholder_metadata_is_not_a_title(tmp_path: Path) -> None:
    data = samples.pdf_bytes([["Text."]], title="Microsoft Word - draft3.docx", author="")

    result = _extract(tmp_path, data)

    assert (result.title, result.author) == ("", "")


def test_a_large_first_line_is_the_page_title_and_a_heading(tmp_path: Path) -> None:
    data = samples.pdf_bytes([["Body text of the first page."]], heading="Chapter {page}")

    page = _extract(tmp_path, data).pages[0]

    assert page.title == "Chapter 1"
    assert page.markdown == "## Chapter 1\n\nBody text of the first page."


def test_body_text_is_no_title(tmp_path: Path) -> None:
    assert _extract(tmp_path, samples.report_pdf(1)).pages[0].title == ""


def test_words_broken_at_line_ends_are_joined(tmp_path: Path) -> None:
    data = samples.lines_pdf(
        [["This is the infor-", "mation we need in a pro-", "duction system for every-", "one."]]
    )

    assert _extract(tmp_path, data).pages[0].markdown == (
        "This is the information we need in a production system for everyone."
    )


def test_hyphens_that_belong_to_the_word_stay(tmp_path: Path) -> None:
    data = samples.lines_pdf(
        [
            [
                "A well-known fact, twice well-",
                "known: COVID-",
                "19 struck Jean-",
                "Pierre and a soft\u00ad",
                "ware team.",
            ]
        ]
    )

    assert _extract(tmp_path, data).pages[0].markdown == (
        "A well-known fact, twice well-known: COVID-19 struck Jean-Pierre and a software team."
    )


def test_ligatures_are_spelled_out(tmp_path: Path) -> None:
    data = samples.lines_pdf([["The \ufb01rst \ufb02ow of the \ufb01eld."]])

    assert _extract(tmp_path, data).pages[0].markdown == "The first flow of the field."


def test_wrapped_lines_form_paragraphs_and_gaps_separate_them(tmp_path: Path) -> None:
    first = " ".join(["The first paragraph wraps over several lines of the page."] * 4)
    second = " ".join(["The second paragraph follows after a gap."] * 3)

    markdown = _extract(tmp_path, samples.pdf_bytes([[first, second]])).pages[0].markdown

    assert markdown == f"{first}\n\n{second}"


def test_a_short_line_ends_its_paragraph(tmp_path: Path) -> None:
    data = samples.lines_pdf(
        [
            [
                "A heading without a gap",
                "This paragraph is long enough to reach the right side of the column and so it",
                "wraps onto a second line that ends early.",
                "The next paragraph starts right under it without any extra space between them.",
            ]
        ]
    )

    assert _extract(tmp_path, data).pages[0].markdown.split("\n\n") == [
        "A heading without a gap",
        "This paragraph is long enough to reach the right side of the column and so it wraps "
        "onto a second line that ends early.",
        "The next paragraph starts right under it without any extra space between them.",
    ]


def test_bullets_become_a_markdown_list(tmp_path: Path) -> None:
    data = samples.lines_pdf([["Shopping:", "\u2022 apples", "\u2022 pears"]])

    assert _extract(tmp_path, data).pages[0].markdown == "Shopping:\n\n- apples\n\n- pears"


def test_text_that_looks_like_markdown_stays_text(tmp_path: Path) -> None:
    data = samples.lines_pdf([["# not a heading"], ["1. Not a list, *not* bold, <b>not</b> HTML"]])

    pages = _extract(tmp_path, data).pages

    assert pages[0].markdown == "\\# not a heading"
    assert pages[1].markdown == "1\\. Not a list, \\*not\\* bold, \\<b\\>not\\</b\\> HTML"
    assert markdown_to_text(pages[1].markdown) == "1. Not a list, *not* bold, <b>not</b> HTML"


@pytest.mark.parametrize("row_by_row", [True, False], ids=["drawn-row-by-row", "drawn-by-column"])
def test_two_columns_are_read_column_by_column(tmp_path: Path, row_by_row: bool) -> None:
    data, left, right = samples.two_column_pdf(row_by_row=row_by_row)

    page = _extract(tmp_path, data).pages[0]

    assert page.title == "Two Columns Under One Title"
    assert page.markdown.split("\n\n") == [
        "## Two Columns Under One Title",
        " ".join(left),
        " ".join(right),
    ]


def test_single_column_text_is_not_mistaken_for_columns(tmp_path: Path) -> None:
    with pdfium.PdfDocument(samples.report_pdf(1)) as pdf:
        page = pdf[0]
        textpage = page.get_textpage()
        lines, across = pdf_module._text_lines(textpage)
        textpage.close()
        page.close()

    assert lines
    assert not across


def test_the_markdown_escaping_shortcut_knows_every_character_that_needs_escaping() -> None:
    # pdf.py skips the shared escaping functions on text without these characters.
    for char in map(chr, range(32, 0x250)):
        text = f"{char}{char} a{char}b {char}"
        if char not in pdf_module._INLINE_MARKUP:
            assert escape_markdown_inline(text) == text, repr(char)
        # Paragraphs never start with white space: cleaning strips it.
        if char not in pdf_module._LINE_START_MARKUP and not char.isspace():
            assert escape_markdown_line_starts(text) == text, repr(char)


@settings(max_examples=300, derandomize=True, database=None)
@given(text=st.text(alphabet=st.sampled_from("ab &#;1\\`*_[]<>|~\n\u00e9")))
def test_the_fast_inline_escaping_equals_the_shared_one(text: str) -> None:
    assert pdf_module._escape_inline(text) == escape_markdown_inline(text)


def test_characters_nobody_can_read_are_removed() -> None:
    raw = "a\x00b\u200bc\ufeffd\ue000e\ufffdf \t g\u3000h\uff21"

    assert pdf_module._clean_text(raw) == "abcdef g hA"


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


# --- Shared between processes ------------------------------------------------------------------

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


@pytest.mark.parametrize("parts", [2, 3, 7])
def test_shares_of_a_document_give_what_the_whole_gives(tmp_path: Path, parts: int) -> None:
    path = samples.write(tmp_path, _book_pdf())
    whole = PdfExtractor().extract(path, limits=LIMITS)

    assert _shared(path, parts) == whole
    # What the shares decided together: running lines dropped on every page, and a hyphen kept
    # because another share's page writes the word with one.
    assert not any(RUNNING_TITLE in page.markdown for page in whole.pages)
    assert whole.pages[16].markdown.endswith("It is, twice, well-known and selfmade.")


def test_shares_read_in_children_give_what_the_whole_gives(tmp_path: Path) -> None:
    path = samples.write(tmp_path, _book_pdf())

    result = run_isolated(PdfExtractor(), path, limits=LIMITS, workers=2)

    assert result == PdfExtractor().extract(path, limits=LIMITS)


def test_shares_keep_the_split_pages_and_their_notes(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(20))
    limits = ExtractionLimits(ocr_enabled=False, page_max_chars=600)

    result = _shared(path, 2, limits)

    assert result == PdfExtractor().extract(path, limits=limits)
    assert len(result.pages) > 20
    assert len(result.notes) == 20
    assert result.notes[-1].startswith("Page 20 was longer than 600 characters and was split")


def test_a_short_document_is_read_by_the_first_share(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(4))
    extractor = PdfExtractor()

    second = extractor.read_share(path, limits=LIMITS, part=1, parts=2)

    assert second.pages == []
    assert _shared(path, 2) == extractor.extract(path, limits=LIMITS)


def test_too_much_text_in_all_shares_together_is_refused(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(20))
    whole = PdfExtractor().read_share(path, limits=LIMITS, part=0, parts=1).chars_read
    limits = ExtractionLimits(ocr_enabled=False, max_chars=whole * 3 // 4)  # more than a half

    with pytest.raises(ExtractionError) as caught:
        _shared(path, 2, limits)

    assert caught.value.code == "too_long"
    assert (
        caught.value.user_message == _error(tmp_path, samples.report_pdf(20), limits).user_message
    )


def test_a_document_whose_every_share_is_unreadable_is_refused(tmp_path: Path) -> None:
    path = samples.write(tmp_path, samples.report_pdf(1))
    survey = _json_trip(PdfExtractor().read_share(path, limits=LIMITS, part=0, parts=1).survey())

    with pytest.raises(ExtractionError) as caught:
        PdfExtractor().decide([{**survey, "unreadable": 1}], limits=LIMITS)

    assert caught.value.user_message == pdf_module.MSG_DAMAGED


@pytest.mark.parametrize(
    "change",
    [
        {"pages": True},
        {"first": 3},
        {"chars": "12"},
        {"heights": [["12", 3]]},
        {"edge_keys": [[1]]},
        {"edge_keys": []},
        {"words": "abc"},
        {"edge_words": [["key", "tall", ["a-b"]]]},
    ],
)
def test_a_malformed_survey_is_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    path = samples.write(tmp_path, samples.report_pdf(1))
    survey = _json_trip(PdfExtractor().read_share(path, limits=LIMITS, part=0, parts=1).survey())

    with pytest.raises((TypeError, ValueError)):
        PdfExtractor().decide([{**survey, **change}], limits=LIMITS)


@pytest.mark.parametrize(
    "change",
    [{"pages": [["text", None]]}, {"title": 3}, {"notes": {"ocr": [1]}}],
)
def test_a_malformed_share_answer_is_refused(tmp_path: Path, change: dict[str, Any]) -> None:
    path = samples.write(tmp_path, samples.report_pdf(1))
    extractor = PdfExtractor()
    share = extractor.read_share(path, limits=LIMITS, part=0, parts=1)
    answer = _json_trip(share.finish(extractor.decide([share.survey()], limits=LIMITS)))

    with pytest.raises((TypeError, ValueError, KeyError)):
        extractor.combine([{**answer, **change}], limits=LIMITS)


# --- Pages without text ------------------------------------------------------------------------


def test_a_document_without_text_gives_empty_pages_and_no_error(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.blank_pdf(2))

    assert [page.markdown for page in result.pages] == ["", ""]
    assert result.notes == []


def test_scanned_pages_stay_empty_with_a_note_when_ocr_is_off(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.scanned_pdf(pages=2))

    assert [page.markdown for page in result.pages] == ["", ""]
    assert result.notes == [
        "Pages 1 and 2 have no text layer, only images, and text recognition (OCR) is switched "
        "off; they were left empty."
    ]


def test_scanned_pages_stay_empty_with_a_note_without_tesseract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tesseract there

    result = _extract(tmp_path, samples.scanned_pdf(), ExtractionLimits(ocr_enabled=True))

    assert result.pages[0].markdown == ""
    assert "is not installed" in result.notes[0]


def test_scanned_pages_are_rendered_for_tesseract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = tmp_path / "seen"
    script = f'echo "$@" > {seen}.args\ncat > {seen}.png\nprintf "Recog-\\nnised words\\n\\nNext"'
    monkeypatch.setenv("PATH", _fake_tesseract(tmp_path, script))
    limits = ExtractionLimits(ocr_enabled=True, ocr_language="deu+eng")

    result = _extract(tmp_path, samples.scanned_pdf(), limits)

    assert result.pages[0].markdown == "Recognised words\n\nNext"
    assert result.notes == [
        "The text of page 1 was recognised from images (OCR) and may contain mistakes."
    ]
    assert (tmp_path / "seen.args").read_text().split() == ["stdin", "stdout", "-l", "deu+eng"]
    assert (tmp_path / "seen.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_failing_tesseract_leaves_the_page_empty_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _fake_tesseract(tmp_path, "echo broken >&2\nexit 1"))

    result = _extract(tmp_path, samples.scanned_pdf(), ExtractionLimits(ocr_enabled=True))

    assert result.pages[0].markdown == ""
    assert result.notes == ["Text recognition (OCR) failed on page 1; it was left empty."]


@pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="tesseract is not installed (apt install tesseract-ocr); the OCR plumbing is tested "
    "with a stand-in above",
)
def test_real_tesseract_reads_a_scanned_page(tmp_path: Path) -> None:
    result = _extract(tmp_path, samples.scanned_pdf("HELLO SCANNED WORLD"), ExtractionLimits())

    assert "HELLO SCANNED WORLD" in result.pages[0].markdown.upper()


# --- Limits ------------------------------------------------------------------------------------


def test_too_many_pages_are_refused_with_the_count(tmp_path: Path) -> None:
    error = _error(tmp_path, samples.blank_pdf(5), ExtractionLimits(max_pages=3))

    assert error.user_message == "This PDF has 5 pages; the limit is 3."
    assert error.code == "too_many_pages"


def test_too_much_text_is_refused_as_soon_as_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[int] = []
    real_read_page = pdf_module._read_page

    def counting_read_page(*args: Any) -> Any:
        read.append(1)
        return real_read_page(*args)

    monkeypatch.setattr(pdf_module, "_read_page", counting_read_page)

    error = _error(tmp_path, samples.report_pdf(10), ExtractionLimits(max_chars=3_000))

    assert error.code == "too_long"
    assert error.user_message == (
        "This PDF has more text than allowed (more than 3,000 characters)."
    )
    assert len(read) < 10


def test_a_page_longer_than_the_page_limit_is_split(tmp_path: Path) -> None:
    whole = _extract(tmp_path, samples.report_pdf(1)).pages[0].markdown
    limits = ExtractionLimits(ocr_enabled=False, page_max_chars=600)

    result = _extract(tmp_path, samples.report_pdf(1), limits)

    assert len(result.pages) > 1
    assert all(len(page.markdown) <= 600 for page in result.pages)
    assert " ".join(page.markdown for page in result.pages).split() == whole.split()
    assert result.notes == [
        f"Page 1 was longer than 600 characters and was split into {len(result.pages)} parts."
    ]


def test_a_page_tree_claiming_a_million_pages_is_refused_before_any_page_is_read(
    tmp_path: Path,
) -> None:
    # pdfium believes a /Count below 2**20 without reading the tree; the limit stops it there.
    started = time.monotonic()

    error = _error(tmp_path, samples.claimed_pages_pdf(1_000_000))

    assert error.user_message == "This PDF has 1,000,000 pages; the limit is 2,000."
    assert time.monotonic() - started < 2


def test_a_page_tree_claiming_millions_of_pages_yields_its_real_pages(tmp_path: Path) -> None:
    # Above 2**20 pdfium counts the pages the tree really holds: nothing is made per claim.
    started = time.monotonic()

    result = _extract(tmp_path, samples.claimed_pages_pdf(5_000_000))

    assert [page.markdown for page in result.pages] == [""]
    assert time.monotonic() - started < 2


# --- Cover -------------------------------------------------------------------------------------


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
    assert max(image.size) == pdf_module._COVER_SIDE
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
        pdf_module._COVER_SIDE,
        pdf_module._COVER_SIDE // 4,
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
    scale = pdf_module._COVER_SIDE / samples.HEIGHT
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
    started = time.monotonic()

    result = run_isolated(PdfExtractor(), path, limits=limits)

    assert result.cover == b""
    assert [page.markdown for page in result.pages] == ["Hello cover world"]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("image", "image_filter"),
    [(samples.jpeg_declaring(64), "DCTDecode"), (samples.jpx_declaring(64), "JPXDecode")],
)
def test_an_image_as_large_as_its_dictionary_says_is_drawn(
    tmp_path: Path, image: bytes, image_filter: str
) -> None:
    data = samples.image_page_pdf(image, image_filter=image_filter, width=64, height=64)

    assert _extract(tmp_path, data).cover != b""


# --- Bad input ---------------------------------------------------------------------------------

NO_LIBRARY_WORDS = ("pdfium", "Failed", "error", "Data format")


def _assert_plain(error: ExtractionError) -> None:
    assert not any(word in error.user_message for word in NO_LIBRARY_WORDS)


@pytest.mark.parametrize("kept", [0.1, 0.5, 0.9, 0.99])
def test_a_truncated_pdf_is_refused(tmp_path: Path, kept: float) -> None:
    data = samples.report_pdf(3)

    error = _error(tmp_path, data[: int(len(data) * kept)])

    assert error.user_message == pdf_module.MSG_DAMAGED
    assert error.code == "unreadable"
    _assert_plain(error)


def test_garbage_after_a_pdf_header_is_refused(tmp_path: Path) -> None:
    error = _error(tmp_path, b"%PDF-1.7\n" + os.urandom(4096))

    assert error.user_message == pdf_module.MSG_DAMAGED
    _assert_plain(error)


def test_a_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    data = samples.pdf_bytes([["Secret text."]], encrypt="secret")

    error = _error(tmp_path, data)

    assert error.user_message == pdf_module.MSG_ENCRYPTED
    assert error.user_message.startswith("This PDF is password protected")
    assert error.code == "encrypted"


def test_a_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    from reportlab.lib.pdfencrypt import StandardEncryption

    encryption = StandardEncryption("", ownerPassword="owner", canPrint=0, canCopy=0)
    data = samples.pdf_bytes([["Readable text."]], encrypt=encryption)

    assert _extract(tmp_path, data).pages[0].markdown == "Readable text."


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    error = _error(tmp_path, b"")

    assert (error.user_message, error.code) == (pdf_module.MSG_EMPTY, "empty")


def test_a_file_that_is_not_a_pdf_is_refused(tmp_path: Path) -> None:
    error = _error(tmp_path, b"<html><body>Not a PDF at all</body></html>\n" * 20)

    assert (error.user_message, error.code) == (pdf_module.MSG_NOT_PDF, "not_pdf")


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same files on every run: a failure here must be reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_damaged_pdfs_give_a_result_or_a_plain_error(tmp_path: Path, data: st.DataObject) -> None:
    # Mutations of a valid file: run isolated, as in production, so that a crash in pdfium
    # cannot take the test run with it; it is then an ExtractionError like any other.
    original = bytearray(samples.report_pdf(2))
    for _ in range(data.draw(st.integers(1, 8), label="mutations")):
        position = data.draw(st.integers(0, len(original) - 1), label="position")
        original[position] = data.draw(st.integers(0, 255), label="byte")
    path = samples.write(tmp_path, bytes(original), "fuzzed.pdf")
    limits = ExtractionLimits(ocr_enabled=False, timeout_seconds=20)

    try:
        result = run_isolated(PdfExtractor(), path, limits=limits)
    except ExtractionError as error:
        _assert_plain(error)
    else:
        assert len(result.pages) <= 2
