"""Lines of a PDF joined into paragraphs and written as Markdown (`pdf.paragraphs`)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from document_processing.extractors.pdf import paragraphs as pdf_paragraphs
from document_processing.markdown import (
    escape_markdown_inline,
    escape_markdown_line_starts,
    markdown_to_text,
)
from document_processing.tests.extractors import pdf_samples as samples
from document_processing.tests.extractors.pdf.helpers import _extract


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


def test_the_markdown_escaping_shortcut_knows_every_character_that_needs_escaping() -> None:
    # pdf/paragraphs.py skips the shared escaping functions on text without these characters.
    for char in map(chr, range(32, 0x250)):
        text = f"{char}{char} a{char}b {char}"
        if char not in pdf_paragraphs._INLINE_MARKUP:
            assert escape_markdown_inline(text) == text, repr(char)
        # Paragraphs never start with white space: cleaning strips it.
        if char not in pdf_paragraphs._LINE_START_MARKUP and not char.isspace():
            assert escape_markdown_line_starts(text) == text, repr(char)


@settings(max_examples=300, derandomize=True, database=None)
@given(text=st.text(alphabet=st.sampled_from("ab &#;1\\`*_[]<>|~\n\u00e9")))
def test_the_fast_inline_escaping_equals_the_shared_one(text: str) -> None:
    assert pdf_paragraphs._escape_inline(text) == escape_markdown_inline(text)
