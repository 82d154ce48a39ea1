from __future__ import annotations

import pytest

from document_processing.markdown import markdown_to_text
from document_processing.site_syntax import strip_site_syntax


def test_front_matter_is_not_read() -> None:
    markdown = "---\ntitle: Setup\ntags:\n  - guide\n---\n\n# Setup\n\nText."

    assert markdown_to_text(markdown) == "Setup\n\nText."


def test_meta_lines_at_the_start_are_not_read() -> None:
    markdown = "Title: Setup\nAuthors: Ann\n    Bob\nDate: 2024-01-01\n\n# Setup\n\nText."

    assert markdown_to_text(markdown) == "Setup\n\nText."


@pytest.mark.parametrize(
    "markdown",
    [
        "Note: this is a sentence.\n\nMore.",  # one line that looks like a meta line
        "Title: Annual report\nThe year went well.\n\nMore.",  # a line that is not meta
        "---\n\nA rule, then text: with a colon.\n\n---\n\nMore.",  # rules, not front matter
    ],
)
def test_prose_that_only_looks_like_meta_lines_is_read(markdown: str) -> None:
    assert strip_site_syntax(markdown) == markdown


def test_admonitions_read_their_title_then_their_body() -> None:
    markdown = (
        '!!! note "Read this first"\n\n    The body, **with** Markdown.\n\n'
        "    - a list\n\n"
        "??? warning\n    Collapsed body.\n\n"
        '???+ tip ""\n    A body without a title.\n\n'
        '!!! danger inline end "Nested"\n    Outer.\n\n    !!! info\n        Inner.\n\n'
        "After."
    )

    assert markdown_to_text(markdown) == (
        "Read this first\n\nThe body, with Markdown.\n\na list\n\nWarning\n\nCollapsed body.\n\n"
        "A body without a title.\n\nNested\n\nOuter.\n\nInfo\n\nInner.\n\nAfter."
    )


def test_content_tabs_read_their_titles() -> None:
    markdown = '=== "Python"\n\n    Use pip.\n\n=== ":material-apple: macOS"\n\n    Use brew.\n'

    assert markdown_to_text(markdown) == "Python\n\nUse pip.\n\nmacOS\n\nUse brew."


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("## Setup { #setup }\n\nText.", "Setup\n\nText."),
        ('## Setup {#setup .wide data-x="1"}', "Setup"),
        ("A paragraph.\n{: .note }", "A paragraph."),
        ("Text {: #id } more", "Text more"),
        ("A set {1, 2} stays.", "A set {1, 2} stays."),
    ],
)
def test_attribute_lists_are_not_read(markdown: str, expected: str) -> None:
    assert markdown_to_text(markdown) == expected


def test_footnote_marks_are_not_read_and_notes_are() -> None:
    markdown = "A claim.[^1] Another[^long-note].\n\n[^1]: The source.\n[^long-note]: More."

    assert markdown_to_text(markdown) == "A claim. Another.\n\nThe source. More."


def test_directives_icons_and_edit_links_are_not_read() -> None:
    markdown = (
        "[TOC]\n\n# Title\\[edit\\]\n\nThe HTML spec :octicons-link-16: here.\n\n"
        '*[HTML]: Hyper Text Markup Language\n\n--8<-- "includes/links.md"\n\n'
        "::: package.module\n\nEnd [edit source]."
    )

    assert markdown_to_text(markdown) == "Title\n\nThe HTML spec here.\n\nEnd."


def test_code_shows_the_syntax_as_written() -> None:
    markdown = (
        "Use `{ #id }` or `[^1]`:\n\n```markdown\n!!! note\n\n    Body {: .x }[^1]\n"
        '=== "Tab"\n[TOC]\n```\n\n~~~\n---\ntitle: x\n~~~'
    )

    assert strip_site_syntax(markdown) == markdown
    assert markdown_to_text(markdown) == (
        'Use { #id } or [^1]:\n\n!!! note\nBody {: .x }[^1]\n=== "Tab"\n[TOC]\n\n---\ntitle: x'
    )


def test_text_without_site_syntax_is_returned_as_it_is() -> None:
    markdown = "# Plain\n\nNothing to do here, not even an edit."

    assert strip_site_syntax(markdown) is markdown
