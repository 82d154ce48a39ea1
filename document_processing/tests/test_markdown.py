from __future__ import annotations

from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from document_processing import markdown as markdown_module
from document_processing.markdown import (
    _MAYBE_SYNTAX,
    _join_blocks,
    _maybe_syntax,
    _parsed_blocks,
    escape_markdown,
    first_words,
    markdown_to_text,
    render_markdown,
    wrap_emphasis,
)
from document_processing.site_syntax import strip_site_syntax


def _parsed_text(markdown: str) -> str:
    """What the parser makes of `markdown` (site-generator syntax taken out first)."""
    return _join_blocks(_parsed_blocks(strip_site_syntax(markdown)))


ALLOWED_TAGS = {
    "a", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol",
    "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)><circle r=10 /></svg>",
    '<a href="javascript:alert(1)">click</a>',
    "<iframe src=javascript:alert(1)></iframe>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](  javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "![x](javascript:alert(1))",
    '![x" onerror="alert(1)](https://example.com/a.png)',
    '[a](https://example.com "title\\" onmouseover=alert(1)")',
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
    '<object data="data:text/html,<script>alert(1)</script>"></object>',
    "<<script>script>alert(1)<</script>/script>",
    "```\n</code></pre><script>alert(1)</script>\n```",
    "| a | b |\n|---|---|\n| <script>alert(1)</script> | <img src=x onerror=alert(1)> |",
]


class _TagCollector(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    collector = _TagCollector()
    collector.feed(html)
    collector.close()
    return collector.tags


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_xss_payload_survives_rendering(payload: str) -> None:
    html = render_markdown(payload)

    tags = _tags(html)
    assert {name for name, _ in tags} <= ALLOWED_TAGS
    for name, attributes in tags:
        assert set(attributes) <= {"href", "title", "rel", "start"}
        href = attributes.get("href", "").strip().lower()
        assert href.startswith(("https:", "http:", "mailto:")) or "href" not in attributes
        if name == "a":
            assert attributes["rel"] == "noopener noreferrer nofollow"


def test_raw_html_is_shown_as_text() -> None:
    assert render_markdown("<b>hi</b>") == "<p>&lt;b&gt;hi&lt;/b&gt;</p>\n"


def test_links_get_rel_and_keep_safe_urls() -> None:
    html = render_markdown("[site](https://example.com/a?b=1) [mail](mailto:a@example.com)")

    assert '<a href="https://example.com/a?b=1" rel="noopener noreferrer nofollow">site</a>' in html
    assert 'href="mailto:a@example.com"' in html


@pytest.mark.parametrize("url", ["/account/delete", "../x", "//evil.example/x", "#top"])
def test_relative_links_lose_their_target(url: str) -> None:
    html = render_markdown(f"[click]({url})")

    assert "href" not in html
    assert "click" in html


def test_images_render_as_alt_text_only() -> None:
    html = render_markdown("![A *nice* chart](https://tracker.example/pixel.png)")

    assert "<img" not in html
    assert "tracker.example" not in html
    assert "A nice chart" in html


def test_common_markdown_renders() -> None:
    html = render_markdown(
        "# Title\n\nSome **bold** and *em* and `code`.\n\n- a\n- b\n\n1. one\n\n"
        "> quote\n\n| h1 | h2 |\n|---|---|\n| c1 | c2 |\n\n```\ncode\n```\n\n---\n"
    )

    for fragment in (
        "<h1>Title</h1>",
        "<strong>bold</strong>",
        "<em>em</em>",
        "<code>code</code>",
        "<ul>",
        "<ol>",
        "<blockquote>",
        "<table>",
        "<th>h1</th>",
        "<td>c2</td>",
        "<pre><code>code",
        "<hr>",
    ):
        assert fragment in html


# -- markdown_to_text -----------------------------------------------------------------------------


def test_text_drops_syntax_and_urls() -> None:
    markdown = (
        "# The *Title*\n\nSee [the docs](https://example.com/docs) and **bold** text.\n\n"
        "![A diagram](diagram.png)\n\n![](decorative.png)\n\n- one\n- two\n"
    )

    assert markdown_to_text(markdown) == (
        "The Title\n\nSee the docs and bold text.\n\nA diagram\n\none\n\ntwo"
    )


def test_text_keeps_code_and_reads_tables_row_by_row() -> None:
    markdown = (
        "```python\nprint(1)\n```\n\n| Name | Age | |\n|---|---|---|\n| Ann | 30 | x |\n"
        "| Bob | | y |\n"
    )

    # Each cell after its column's header; an empty cell is not read, nor an empty header.
    assert markdown_to_text(markdown) == "print(1)\n\nName: Ann, Age: 30, x.\n\nName: Bob, y."


def test_a_table_with_only_its_header_row_reads_the_headers() -> None:
    assert markdown_to_text("| Name | Age |\n|---|---|\n") == "Name, Age."


def test_text_normalises_whitespace_and_breaks() -> None:
    markdown = "first   line\nsame   paragraph\\\nnew line\n\n\n\n  second paragraph  "

    assert markdown_to_text(markdown) == ("first line same paragraph\nnew line\n\nsecond paragraph")


def test_text_strips_raw_html_but_keeps_its_words() -> None:
    markdown = "Hello <b>there</b>.\n\n<div>Block <i>text</i><script>evil()</script></div>\n"

    assert markdown_to_text(markdown) == "Hello there.\n\nBlock text"


def test_text_decodes_entities_and_escapes() -> None:
    assert markdown_to_text("Fish &amp; chips \\*not emphasis\\*") == (
        "Fish & chips *not emphasis*"
    )


@settings(max_examples=300)
@given(st.text(alphabet="ab Z.,;:!?'\"()-+=>0123\t\r\n\u00a0\u2028é", max_size=200))
def test_fast_path_for_plain_prose_matches_the_parser(text: str) -> None:
    # markdown_to_text skips the parser when nothing in the text can be syntax; whatever it
    # decides, the result must be what the parser would have produced.
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")

    assert markdown_to_text(text) == _parsed_text(normalised)


# Every character that can start or take part in syntax, escapes included, and the spaces that
# matter at line starts and ends.
SYNTAX_ALPHABET = "ab Z.,;:!?'\"()-+=>0123\t\r\n\u00a0\u2028é\\*_#[]`&<|~{}/$@^%"


@settings(max_examples=500)
@given(st.text(alphabet=SYNTAX_ALPHABET, max_size=120))
def test_the_quick_syntax_check_finds_what_the_pattern_finds(text: str) -> None:
    assert _maybe_syntax(text) == (_MAYBE_SYNTAX.search(text) is not None)


@settings(max_examples=500)
@given(st.text(alphabet=SYNTAX_ALPHABET, max_size=120))
def test_any_text_with_syntax_or_escapes_reads_as_the_parser_reads_it(text: str) -> None:
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")

    assert markdown_to_text(text) == _parsed_text(normalised)


@settings(max_examples=300)
@given(st.lists(st.text(alphabet=SYNTAX_ALPHABET, max_size=80), max_size=6))
def test_escaped_paragraphs_read_as_the_parser_reads_them(paragraphs: list[str]) -> None:
    # What extractors write: text escaped so that nothing in it is syntax.
    markdown = "\n\n".join(escape_markdown(paragraph) for paragraph in paragraphs)

    assert markdown_to_text(markdown) == _parsed_text(markdown)


def test_escaped_prose_reads_as_its_text() -> None:
    markdown = (
        "1\\. Not a list: \\*stars\\*, snake\\_case, \\[1\\] and a back\\\\slash.\n\n"
        "\\# Nor a heading"
    )

    assert markdown_to_text(markdown) == (
        "1. Not a list: *stars*, snake_case, [1] and a back\\slash.\n\n# Nor a heading"
    )


@pytest.mark.parametrize("indent", [" \t", "  \t", "   \t", "\t", "    "])
def test_text_indented_as_code_reads_as_the_parser_reads_it(indent: str) -> None:
    markdown = f"{indent}code\nafter"

    assert markdown_to_text(markdown) == _parsed_text(markdown) == "code\n\nafter"


def test_plain_and_escaped_prose_skip_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(markdown: str) -> list[str]:
        raise AssertionError(f"parsed {markdown!r}")

    monkeypatch.setattr(markdown_module, "_parsed_blocks", no_parsing)

    assert markdown_to_text("Plain  prose,\nwrapped.\n\nTwo.") == "Plain prose, wrapped.\n\nTwo."
    assert markdown_to_text("2\\. Point \\*two\\*") == "2. Point *two*"


def test_text_of_empty_markdown() -> None:
    assert markdown_to_text("") == ""
    assert markdown_to_text("---\n\n   \n") == ""


# -- escaping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "# not a heading",
        "1. not a list",
        "- not a list",
        "> not a quote",
        "    not code",
        "*not emphasis* and _not either_",
        "[not](a link)",
        "a | b | c",
        "&amp; stays literal",
        "<b>not html</b>",
        "Title\n=====",
        "`not code`",
        "back\\slash",
    ],
)
def test_escaped_text_reads_back_unchanged(text: str) -> None:
    assert markdown_to_text(escape_markdown(text)) == " ".join(text.split())


@given(st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=80))
def test_escaped_single_line_text_round_trips(text: str) -> None:
    assert markdown_to_text(escape_markdown(text)) == " ".join(text.split())


def test_wrap_emphasis_keeps_spaces_outside() -> None:
    assert wrap_emphasis(" bold ", "**") == " **bold** "
    assert wrap_emphasis("   ", "*") == "   "


def test_badges_are_not_read_and_other_pictures_are() -> None:
    markdown = (
        "[![Build Status][travis-image]][travis-url] "
        "[![PyPI](https://img.shields.io/pypi/v/x.svg)](https://pypi.org/project/x/) "
        "![coverage](docs/badges/coverage.svg)\n\n"
        "# Project\n\n![A diagram of the parts](docs/parts.png)\n\n"
        "[travis-image]: https://travis-ci.org/a/b.svg?branch=main\n"
        "[travis-url]: https://travis-ci.org/a/b\n"
    )

    assert markdown_to_text(markdown) == "Project\n\nA diagram of the parts"


def test_a_table_without_a_header_reads_two_cells_as_a_label_and_its_value() -> None:
    markdown = "|   |   |   |\n|---|---|---|\n| Capital | Wellington | |\n| a | b | c |\n"

    assert markdown_to_text(markdown) == "Capital: Wellington.\n\na, b, c."


def test_first_words_name_a_page_without_a_heading() -> None:
    assert first_words("Short text.") == "Short text."
    assert first_words(
        "  It was the best of times,\n it was the worst of times, it was the age"
    ) == ("It was the best of times, it was the worst of times, it was\u2026")
    assert len(first_words("word " * 40)) <= 60
    # Without spaces (Japanese), it is cut where it must be.
    assert first_words("吾輩は猫である。" * 20) == "吾輩は猫である。" * 7 + "吾輩は\u2026"
    assert first_words("") == ""
