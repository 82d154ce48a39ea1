from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from document_processing.extractors.base import ExtractedPage, ExtractionError, ExtractionLimits
from document_processing.extractors.splitting import (
    PageBudget,
    fit_markdown,
    parse_blocks,
    split_markdown,
    split_text,
)


def _texts(pages: list[ExtractedPage]) -> list[str]:
    return [page.markdown for page in pages]


def test_splits_at_top_level_headings() -> None:
    markdown = "Preface.\n\n# One\n\nText one.\n\n## One point one\n\nMore.\n\n# Two\n\nText two."

    pages = split_markdown(markdown, max_chars=10_000, title="Book")

    assert _texts(pages) == [
        "Preface.",
        "# One\n\nText one.\n\n## One point one\n\nMore.",
        "# Two\n\nText two.",
    ]
    assert [page.title for page in pages] == ["Book", "One", "Two"]


def test_top_level_is_the_highest_heading_present() -> None:
    pages = split_markdown("## A\n\na\n\n### A.1\n\nx\n\n## B\n\nb", max_chars=1000)

    assert [page.title for page in pages] == ["A", "B"]


def test_explicit_split_level() -> None:
    pages = split_markdown("## A\n\na\n\n## B\n\nb", max_chars=1000, split_level=1)

    assert len(pages) == 1


def test_hash_lines_in_code_fences_are_not_headings() -> None:
    markdown = "# Real\n\n```bash\n# just a comment\necho hi\n```\n\nAfter."

    pages = split_markdown(markdown, max_chars=1000)

    assert len(pages) == 1
    assert pages[0].title == "Real"


def test_setext_headings_count() -> None:
    pages = split_markdown("One\n===\n\ntext\n\nTwo\n===\n\nmore", max_chars=1000)

    assert [page.title for page in pages] == ["One", "Two"]


def test_heading_title_is_plain_text() -> None:
    pages = split_markdown("# The *[Linked](https://x.example)* `Title`\n\nBody", max_chars=100)

    assert pages[0].title == "The Linked Title"


def test_long_section_splits_at_lower_headings_and_packs() -> None:
    section = "# Chapter\n\n" + "\n\n".join(f"## Part {i}\n\n" + "word " * 30 for i in range(6))

    pages = split_markdown(section, max_chars=400)

    assert len(pages) > 1
    assert all(len(page.markdown) <= 400 for page in pages)
    assert pages[0].title == "Chapter"
    # Pages after the first start at a subsection and are titled by it.
    assert all(page.markdown.startswith("## Part") for page in pages[1:])
    assert pages[1].title.startswith("Part")


def test_long_paragraphs_split_at_sentences() -> None:
    paragraph = " ".join(f"Sentence number {i} ends here." for i in range(40))

    pages = fit_markdown(paragraph, max_chars=200, title="T")

    assert all(len(page.markdown) <= 200 for page in pages)
    assert all(page.markdown.endswith("here.") for page in pages)
    assert [page.title for page in pages] == ["T"] + [""] * (len(pages) - 1)
    assert " ".join(_texts(pages)) == paragraph


def test_text_without_boundaries_is_cut_hard() -> None:
    pages = fit_markdown("x" * 250, max_chars=100)

    assert _texts(pages) == ["x" * 100, "x" * 100, "x" * 50]


def test_short_text_stays_one_page() -> None:
    assert _texts(fit_markdown("# A\n\nB\n\n# C", max_chars=100)) == ["# A\n\nB\n\n# C"]


def test_long_code_fence_is_reopened_on_each_page() -> None:
    code = "\n".join(f"line_{i} = {i}" for i in range(60))
    markdown = f"```python\n{code}\n```"

    pages = fit_markdown(markdown, max_chars=200)

    assert len(pages) > 1
    for page in pages:
        assert len(page.markdown) <= 200
        assert page.markdown.startswith("```python\n")
        assert page.markdown.endswith("\n```")
        assert len(parse_blocks(page.markdown)) == 1
    lines = [line for page in pages for line in page.markdown.split("\n")[1:-1]]
    assert lines == code.split("\n")


def test_long_table_repeats_its_header() -> None:
    rows = "\n".join(f"| r{i} | {i} |" for i in range(50))
    markdown = f"| name | value |\n|---|---|\n{rows}"

    pages = fit_markdown(markdown, max_chars=150)

    assert len(pages) > 1
    for page in pages:
        assert len(page.markdown) <= 150
        assert page.markdown.startswith("| name | value |\n|---|---|\n")


def test_heading_shares_a_page_with_the_start_of_a_long_block() -> None:
    markdown = "# Heading\n\n" + "Many words in a sentence. " * 40

    pages = fit_markdown(markdown, max_chars=300)

    assert pages[0].markdown.startswith("# Heading\n\nMany words")


def test_reference_definitions_are_kept() -> None:
    markdown = "See [the site][s].\n\n[s]: https://example.com\n"

    assert "[s]: https://example.com" in split_markdown(markdown, max_chars=1000)[0].markdown


def test_empty_markdown_gives_no_pages() -> None:
    assert split_markdown("", max_chars=100) == []
    assert split_markdown("\n\n   \n", max_chars=100) == []


def test_max_chars_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        fit_markdown("text", max_chars=0)


def test_line_separators_do_not_confuse_line_numbers() -> None:
    # str.splitlines() would split at U+2028 and the form feed; markdown-it does not.
    markdown = "# A\n\nx\u2028y\x0cz\n\n# B\n\nw"

    assert _texts(split_markdown(markdown, max_chars=100)) == ["# A\n\nx\u2028y\x0cz", "# B\n\nw"]


def test_split_text_without_strip_concatenates_back() -> None:
    text = "alpha beta.\n gamma delta!  epsilon\n" * 20

    assert "".join(split_text(text, 37, strip=False)) == text


_MARKDOWNISH = st.text(alphabet="abc XYZ.!?#-*\n", max_size=2_000)


@settings(max_examples=150, deadline=None)
@given(markdown=_MARKDOWNISH, max_chars=st.integers(min_value=1, max_value=300))
def test_no_page_exceeds_the_cap_and_no_text_is_lost(markdown: str, max_chars: int) -> None:
    pages = split_markdown(markdown, max_chars=max_chars)

    assert all(0 < len(page.markdown) <= max_chars for page in pages)
    # Only whitespace may change at the cuts: the visible characters all survive, in order.
    assert "".join("".join(_texts(pages)).split()) == "".join(markdown.split())


# -- PageBudget ------------------------------------------------------------------------------------


def test_budget_refuses_too_many_pages() -> None:
    budget = PageBudget(ExtractionLimits(max_pages=2))
    budget.add([ExtractedPage("a"), ExtractedPage("b")])

    with pytest.raises(ExtractionError) as caught:
        budget.add([ExtractedPage("c")])

    assert caught.value.code == "too_many_pages"
    assert "more than 2 pages" in caught.value.user_message


def test_budget_refuses_too_much_text() -> None:
    budget = PageBudget(ExtractionLimits(max_chars=10))

    with pytest.raises(ExtractionError) as caught:
        budget.add([ExtractedPage("12345"), ExtractedPage("678901")])

    assert caught.value.code == "too_large"
    assert len(budget.pages) == 1


def test_pages_are_named_by_their_first_heading_and_continuations_left_unnamed() -> None:
    markdown = "Before.\n\n# One\n\n" + "A sentence here. " * 40 + "\n\nText, then\n\n## Later\n\nx"

    pages = split_markdown(markdown, max_chars=300, title="Doc")

    assert pages[0].title == "Doc"  # before any heading: the name given
    assert pages[1].title == "One"
    # A page without a heading of its own is named later, by its first words.
    assert "" in [page.title for page in pages[2:]]
    # A heading further down a page names it.
    assert any(page.title == "Later" and not page.markdown.startswith("#") for page in pages)


def test_reference_definitions_go_to_every_page_that_uses_them() -> None:
    markdown = (
        "# One\n\n[![Build][badge]][ci] and [the docs][Docs] and [docs].\n\n"
        "# Two\n\nNo links here.\n\n"
        "# Three\n\nAgain [the docs][docs].\n\n"
        '[badge]: https://img.shields.io/b.svg "Badge"\n'
        "[ci]: https://ci.example/job\n"
        "[docs]:\n  https://docs.example/\n"
        "> [quoted]: https://q.example/\n"
    )

    pages = split_markdown(markdown, max_chars=10_000)

    assert [page.markdown for page in pages] == [
        "# One\n\n[![Build][badge]][ci] and [the docs][Docs] and [docs].\n\n"
        '[badge]: https://img.shields.io/b.svg "Badge"\n[ci]: https://ci.example/job\n'
        "[docs]:\n  https://docs.example/",
        "# Two\n\nNo links here.",
        # The page that holds the definitions keeps them once.
        "# Three\n\nAgain [the docs][docs].\n\n"
        '[badge]: https://img.shields.io/b.svg "Badge"\n'
        "[ci]: https://ci.example/job\n"
        "[docs]:\n  https://docs.example/\n\n"
        "> [quoted]: https://q.example/",
    ]
