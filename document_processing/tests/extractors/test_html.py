from __future__ import annotations

import time
from pathlib import Path

import pytest

from document_processing.extractors import html as html_module
from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.extractors.html import (
    HtmlExtractor,
    decode_markup,
    html_to_markdown,
    markup_to_markdown,
)
from document_processing.markdown import markdown_to_text
from document_processing.tests.extractors.samples import (
    BILLION_LAUGHS_DTD,
    PASSWD_MARKER,
    XXE_DTD,
    with_dtd,
)

LIMITS = ExtractionLimits()

ARTICLE = """<!DOCTYPE html>
<html><head><title>The Page Title</title><meta name="author" content="Jane Writer"></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li></ul></nav>
<header><p>Site banner and menu</p></header>
<main><article>
<h1>On Reading Aloud</h1>
<p>Reading aloud is an old practice with a long history. It slows the reader down and lets the
ear catch what the eye skips. This paragraph is long enough to count as real content, with
<b>bold words</b> and <a href="https://example.com/more">a link to elsewhere</a>.</p>
<h2>Why it works</h2>
<p>Listening engages different attention than reading silently, and many people find that they
remember more of what they hear. This second paragraph continues the main text of the page.</p>
<ul><li>It keeps attention.</li><li>It helps memory.</li></ul>
<table><tr><th>Name</th><th>Minutes</th></tr><tr><td>Morning | walk</td><td>30</td></tr></table>
<p>A closing paragraph rounds off the article with a few more sentences of ordinary prose so
that the extractor is confident it has found the main content of the document.</p>
</article></main>
<footer><p>Copyright footer text, all rights reserved, contact and privacy links.</p></footer>
</body></html>
"""


def _write(tmp_path: Path, html: str | bytes) -> Path:
    path = tmp_path / "page.html"
    path.write_bytes(html.encode() if isinstance(html, str) else html)
    return path


def _all_markdown(html: str) -> str:
    result = html_to_markdown(html, url=None, limits=LIMITS)
    return "\n\n".join(page.markdown for page in result.pages)


def test_main_content_without_menus_and_footers(tmp_path: Path) -> None:
    result = HtmlExtractor().extract(_write(tmp_path, ARTICLE), limits=LIMITS)
    markdown = "\n\n".join(page.markdown for page in result.pages)

    assert "# On Reading Aloud" in markdown
    assert "## Why it works" in markdown
    assert "**bold words**" in markdown
    assert "a link to elsewhere" in markdown
    assert "https://example.com/more" not in markdown  # link text only
    assert "- It keeps attention." in markdown
    assert "Morning \\| walk" in markdown
    for boilerplate in ("About us", "Site banner", "Copyright footer"):
        assert boilerplate not in markdown
    assert result.title
    assert result.author == "Jane Writer"


def test_pages_split_at_top_level_headings() -> None:
    html = (
        "<html><body><article>"
        + "".join(
            f"<h2>Section {i}</h2><p>{'Plenty of words in this section. ' * 20}</p>"
            for i in range(3)
        )
        + "</article></body></html>"
    )

    result = html_to_markdown(html, url="https://example.com/post", limits=LIMITS)

    assert [page.title for page in result.pages] == ["Section 0", "Section 1", "Section 2"]


def test_falls_back_when_trafilatura_finds_nothing() -> None:
    html = "<html><head><title>Tiny</title></head><body><nav>Menu</nav><p>Hi.</p></body></html>"

    result = html_to_markdown(html, url=None, limits=LIMITS)

    assert [page.markdown for page in result.pages] == ["Hi."]
    assert result.title == "Tiny"


def test_title_falls_back_to_the_title_element() -> None:
    result = html_to_markdown(
        "<html><head><title>  Only   a title </title></head><body><p>x</p></body></html>",
        url=None,
        limits=LIMITS,
    )

    assert result.title == "Only a title"


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html><body></body></html>",
        "<html><body><script>var x = 1;</script><style>p{}</style></body></html>",
        "<html><body><img src='a.png'><svg><text>drawn</text></svg></body></html>",
    ],
)
def test_pages_without_text_are_refused(html: str) -> None:
    with pytest.raises(ExtractionError) as caught:
        html_to_markdown(html, url=None, limits=LIMITS)

    assert caught.value.code == "empty"
    assert caught.value.user_message == "This web page contains no readable text."


def test_billion_laughs_is_not_expanded_and_is_quick() -> None:
    html = with_dtd(
        '<?xml version="1.0"?>\n<html><head><title>T &lol9;</title></head><body>'
        "<p>Start &lol9; end. " + "Filler words for the article. " * 20 + "</p></body></html>",
        BILLION_LAUGHS_DTD,
    )

    started = time.monotonic()
    markdown = _all_markdown(html)

    assert time.monotonic() - started < 5
    assert "lollollol" not in markdown
    assert "ENTITY" not in markdown
    assert "Filler words" in markdown


def test_external_entity_is_not_resolved(tmp_path: Path) -> None:
    html = with_dtd(
        '<?xml version="1.0"?>\n<html><body><p>Hello &xxe; there. '
        + "More ordinary words here. " * 20
        + "</p></body></html>",
        XXE_DTD,
    )

    result = HtmlExtractor().extract(_write(tmp_path, html), limits=LIMITS)
    markdown = "\n\n".join(page.markdown for page in result.pages)

    assert PASSWD_MARKER not in markdown
    assert "/etc/passwd" not in markdown
    assert "Hello" in markdown


def test_limits_max_pages() -> None:
    prose = "Some ordinary prose for this chapter. " * 8
    chapters = "".join(f"<h1>Chapter heading {i}</h1><p>{prose}</p>" for i in range(6))
    html = f"<html><body><article>{chapters}</article></body></html>"

    with pytest.raises(ExtractionError) as caught:
        html_to_markdown(html, url=None, limits=ExtractionLimits(max_pages=3))

    assert caught.value.code == "too_many_pages"


def test_limits_max_chars() -> None:
    with pytest.raises(ExtractionError) as caught:
        html_to_markdown(ARTICLE, url=None, limits=ExtractionLimits(max_chars=100))

    assert caught.value.code == "too_large"


def test_file_larger_than_the_budget_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "<p>" + "x" * 5000 + "</p>")

    with pytest.raises(ExtractionError) as caught:
        HtmlExtractor().extract(path, limits=ExtractionLimits(max_uncompressed_bytes=1000))

    assert caught.value.code == "too_large"


# -- decoding ------------------------------------------------------------------------------------

_RUSSIAN = (
    "Все счастливые семьи похожи друг на друга, каждая несчастливая семья несчастлива "  # noqa: RUF001
    "по-своему. Все смешалось в доме Облонских."  # noqa: RUF001
)
_RUSSIAN_PAGE = f"<html><body><h1>Анна</h1><p>{_RUSSIAN}</p></body></html>"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("<meta charset='iso-8859-1'><p>café</p>".encode("latin-1"), "café"),
        (
            '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">€'.encode(
                "cp1252"
            ),
            "€",
        ),
        ('<?xml version="1.0" encoding="ISO-8859-1"?><p>Grüße</p>'.encode("latin-1"), "Grüße"),
        ("\ufeff<p>bom ünïcode</p>".encode(), "bom ünïcode"),
        ("<p>utf-16 text</p>".encode("utf-16"), "utf-16 text"),
        ("<p>plain utf-8 ✓</p>".encode(), "plain utf-8 ✓"),
        ("<p>undeclared café</p>".encode("cp1252"), "undeclared café"),
        ("<meta charset='utf-16'><p>lying label é</p>".encode(), "lying label é"),
        # Legacy encodings, declared or detected; a label the bytes contradict gives way.
        (
            "<meta charset='Shift_JIS'><p>吾輩は猫である。</p>".encode("shift_jis"),
            "吾輩は猫である。",
        ),
        ("<meta charset='gb2312'><p>人人生而自由</p>".encode(), "人人生而自由"),
        ("<meta charset='iso-8859-1'><p>“€5”</p>".encode("cp1252"), "“€5”"),
        (_RUSSIAN_PAGE.encode("cp1251"), _RUSSIAN),
        (_RUSSIAN_PAGE.replace("<p>", "<meta charset='utf-8'><p>").encode("cp1251"), _RUSSIAN),
    ],
)
def test_decode_markup(data: bytes, expected: str) -> None:
    assert expected in decode_markup(data)


def test_decode_markup_puts_the_http_charset_first() -> None:
    data = f"<meta charset='windows-1251'><p>{_RUSSIAN}</p>".encode("koi8-r")

    assert _RUSSIAN in decode_markup(data, declared="koi8-r")
    assert _RUSSIAN not in decode_markup(data)


def test_a_legacy_page_is_extracted(tmp_path: Path) -> None:
    result = HtmlExtractor().extract(
        _write(tmp_path, _RUSSIAN_PAGE.encode("cp1251")), limits=LIMITS
    )

    assert _RUSSIAN in result.pages[0].markdown


# -- the selectolax conversion (also used for EPUB chapters) ---------------------------------------


def test_markup_to_markdown_structure() -> None:
    html = (
        "<h1>Title #</h1><p>Hello <b>bold </b>and <i>it</i><br>next line</p>"
        "<p>1. Not a list * star _under_ [x]</p>"
        "<ul><li>one</li><li>two<ul><li>nested</li></ul></li></ul>"
        '<ol start="3"><li>three</li><li>four</li></ol>'
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1 | x</td><td><code>a|b</code></td></tr>"
        "</table><pre><code>def f():\n    return 1</code></pre>"
        "<blockquote><p>quoted</p></blockquote><hr>"
        '<p>See<a epub:type="noteref" href="#n1">1</a> the note.<img src="x.png" alt="pic"></p>'
    )

    assert markup_to_markdown(html) == (
        "# Title \\#\n\n"
        "Hello **bold** and *it*\\\nnext line\n\n"
        "1\\. Not a list \\* star \\_under\\_ \\[x\\]\n\n"
        "- one\n- two\n  - nested\n\n"
        "3. three\n4. four\n\n"
        "| A | B |\n| --- | --- |\n| 1 \\| x | `a\\|b` |\n\n"
        "```\ndef f():\n    return 1\n```\n\n"
        "> quoted\n\n"
        "---\n\n"
        "See the note."
    )


def test_markup_to_markdown_drops_boilerplate_only_when_asked() -> None:
    html = "<nav>Menu</nav><p>Body</p><footer>Foot</footer>"

    assert markup_to_markdown(html) == "Menu\n\nBody\n\nFoot"
    assert markup_to_markdown(html, drop_boilerplate=True) == "Body"


def test_layout_tables_are_read_as_blocks() -> None:
    html = "<table><tr><td><p>First para</p></td></tr><tr><td><p>Second</p></td></tr></table>"

    assert markup_to_markdown(html) == "First para\n\nSecond"


def test_deep_nesting_does_not_crash() -> None:
    html = "<div>" * 5000 + "deep text" + "</div>" * 5000

    assert "deep text" in markup_to_markdown(html)


def test_html_extractor_name() -> None:
    assert HtmlExtractor.name == "html"


# -- what a reader skips, tables ----------------------------------------------------------------

_ARTICLE = """<html><head><title>Drum</title></head><body><div id="content"><h1>Drum</h1>
<h2>History<span class="mw-editsection"><span class="mw-editsection-bracket">[</span><a
href="/w/index.php?title=Drum&amp;action=edit&amp;section=1">edit</a><span
class="mw-editsection-bracket">]</span></span></h2>
<p>The drum is a member of the percussion group of musical instruments.<sup id="cite_ref-1"
class="reference"><a href="#cite_note-1">[1]</a></sup> In the Hornbostel-Sachs classification
system, it is a membranophone.<sup class="reference"><a href="#cite_note-2">[2]</a></sup> Drums
consist of at least one membrane, called a drumhead or drum skin, that is stretched over a shell
and struck, either directly with the player's hands, or with a percussion mallet.</p>
<p>He heard the <span class="pagenum" id="Page_200">[Pg 200]</span> drums beat long into the
night, louder than the river.<sup><a href="#fn24">24</a></sup>See how the drums are made, and
E = mc<sup>2</sup> still holds when the text runs long enough to be the page's content.</p>
<table><caption>Drums</caption><tr><th>Name</th><th>Origin</th></tr>
<tr><td>Tabla</td><td>India</td></tr><tr><td>Djembe</td><td>West Africa</td></tr></table>
</div></body></html>"""


@pytest.mark.parametrize("through", ["trafilatura", "selectolax"])
def test_a_web_page_without_what_a_reader_skips(
    through: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if through == "selectolax":
        monkeypatch.setattr(html_module, "_trafilatura_extract", lambda html, url: ("", "", ""))

    pages = html_to_markdown(_ARTICLE, url=None, limits=LIMITS).pages
    text = "\n\n".join(markdown_to_text(page.markdown) for page in pages)

    assert "History" in text
    assert "edit" not in text
    assert "instruments. In the Hornbostel-Sachs" in text
    assert "[1]" not in text
    assert "[2]" not in text
    assert "He heard the drums beat" in text
    assert "river.See how" in text  # the mark "24" is gone, not the sentence
    assert "E = mc2 still holds" in text
    assert "<sup>" not in "".join(page.markdown for page in pages)
    assert "Name: Tabla, Origin: India." in text


def test_an_infobox_reads_each_label_with_its_value() -> None:
    paragraph = "<p>" + "Mozilla is a free software community founded in 1998. " * 6 + "</p>"
    page = (
        f"<html><body><article>{paragraph}<table><caption>Mozilla</caption>"
        "<tr><th>Industry</th><td>Software</td></tr><tr><th>Founded</th><td>1998</td></tr>"
        "</table></article></body></html>"
    )

    pages = html_to_markdown(page, url=None, limits=LIMITS).pages
    text = markdown_to_text(pages[0].markdown)

    assert "Industry: Software.\n\nFounded: 1998." in text


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # Header cells, in <thead> or not, or a first row all in bold: a header row.
        (
            "<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>",
            "| k | v |\n| --- | --- |\n| a | 1 |",
        ),
        # A <th> heading its row (before a <td>) does not head the table.
        (
            "<table><tr><th>a</th><td>1</td></tr><tr><th>b</th><td>2</td></tr></table>",
            "|   |   |\n| --- | --- |\n| a | 1 |\n| b | 2 |",
        ),
        (
            "<table><thead><tr><td>k</td><td>v</td></tr></thead><tr><td>a</td><td>1</td></tr>"
            "</table>",
            "| k | v |\n| --- | --- |\n| a | 1 |",
        ),
        (
            "<table><tr><td><b>k</b></td><td><strong>v</strong></td></tr>"
            "<tr><td>a</td><td>1</td></tr></table>",
            "| **k** | **v** |\n| --- | --- |\n| a | 1 |",
        ),
        # Data alone: an empty header row, so no row is read as every other row's header.
        (
            "<table><tr><td>a</td><td>1</td></tr><tr><td>b</td><td>2</td></tr></table>",
            "|   |   |\n| --- | --- |\n| a | 1 |\n| b | 2 |",
        ),
    ],
)
def test_tables_get_a_header_row_only_when_they_have_one(html: str, expected: str) -> None:
    assert markup_to_markdown(html) == expected


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        # A caption row, then the header row, each followed by a delimiter row.
        (
            "| Films |  |  |\n|---|---|---|\n| Film | Year | About |\n|---|---|---|\n"
            "| Groundhog Day | 1993 | A day again |",
            "Films\n\nFilm: Groundhog Day, Year: 1993, About: A day again.",
        ),
        # A caption over rows of a label and its value (an infobox).
        (
            "| New Zealand |  |\n|---|---|\n| Capital | Wellington |\n| Largest city | Auckland |",
            "New Zealand\n\nCapital: Wellington.\n\nLargest city: Auckland.",
        ),
        # Header cells after data rows: no row heads the others.
        (
            "| a | 1 |\n|---|---|\n| b | 2 |\n|---|---|\n| c | 3 |",
            "a: 1.\n\nb: 2.\n\nc: 3.",
        ),
        # No header cells at all: trafilatura writes no delimiter row.
        (
            "| **Status** | **Meaning** |\n| new | ready |\n| done | finished |",
            "Status: new, Meaning: ready.\n\nStatus: done, Meaning: finished.",
        ),
        ("| Load map | yes |\n| Save map | no |", "Load map: yes.\n\nSave map: no."),
        # Inside a code block, lines with pipes are code.
        ("```\n| grep x |\n```", "| grep x |"),
        # A table as Markdown has it is left alone.
        ("| a | b |\n|---|---|\n| 1 | 2 |", "a: 1, b: 2."),
    ],
)
def test_trafilatura_tables_are_read_as_the_page_shows_them(markdown: str, expected: str) -> None:
    assert markdown_to_text(html_module._tidy_tables(markdown)) == expected


# -- an article's lead and captions, which the main-content extractor drops ----------------------

_TIDES = (
    "Twice a day the sea climbs the beach and twice a day it slips away again. Sailors, fishers "
    "and anyone who walks the shore learn its timetable long before they learn why.",
    "The Moon pulls on the whole Earth, but it pulls hardest on the side that faces it and least "
    "on the far side. The oceans, free to move, stretch along that line into two bulges.",
    "As the Earth turns beneath those bulges, each coast passes through both of them every day, "
    "and the water rises and falls with a rhythm of a little more than twelve hours.",
)
_LEAD = (
    "The tides rise and fall twice a day, and the reason lies a quarter of a million miles away."
)
_LOW_TIDE = "Low tide at Saint-Malo, where the sea draws back for miles."
_HIGH_WATER = "The harbour at high water, an hour after the turn of the tide."
# Beside the lead and under the body: what a reader passes over.
_NOT_READ = (
    "Home page",
    "All the news today",
    "Share this article",
    "Related: why the sea",
    "Why the sea is salty",
    "Book your seaside holiday",
    "Copyright and contact",
)


def _tides_page(*, lead_in_header: bool) -> str:
    lead = (
        f"<h1>How the Moon Moves the Sea</h1><p>{_LEAD}</p>"
        '<p class="share-tools">Share this article with your friends on every network</p>'
        '<p><a href="/salt">Related: why the sea is salty, and other questions from readers</a></p>'
    )
    # In the article's <header>, or under the headline outside the element marked as the body.
    head = f"<header>{lead}</header>" if lead_in_header else f'<div class="heading">{lead}</div>'
    return f"""<html><head><title>Tides</title></head><body>
<nav><ul><li><a href="/">Home page</a></li>
<li><a href="/news">All the news today</a></li></ul></nav>
<main><article>{head}
<div itemprop="articleBody">
<p>{_TIDES[0]}</p>
<figure><img src="low-tide.jpg" alt=""><figcaption>{_LOW_TIDE}</figcaption></figure>
<p>{_TIDES[1]}</p>
<div class="image-wrapper"><img src="harbour.jpg" alt=""></div>
<div class="media-caption">{_HIGH_WATER}</div>
<aside><figure><img src="offer.jpg" alt="">
<figcaption>Book your seaside holiday with us today and save</figcaption></figure></aside>
<p>{_TIDES[2]}</p>
</div>
<div class="related-links"><h2>More from the coast</h2><ul>
<li><a href="/salt">Why the sea is salty and the rivers are not</a></li>
<li><a href="/walks">The longest beach walks in the whole of Europe</a></li></ul></div>
</article></main>
<footer><p>Copyright and contact details for the whole of this website.</p></footer>
</body></html>"""


def _spoken_paragraphs(html: str) -> list[str]:
    pages = html_to_markdown(html, url=None, limits=LIMITS).pages
    text = "\n\n".join(markdown_to_text(page.markdown) for page in pages)
    return text.split("\n\n")


@pytest.mark.parametrize("lead_in_header", [True, False], ids=["in-header", "under-headline"])
def test_an_articles_lead_is_read_once_before_its_body(lead_in_header: bool) -> None:
    paragraphs = _spoken_paragraphs(_tides_page(lead_in_header=lead_in_header))

    assert paragraphs.count(_LEAD) == 1
    assert paragraphs.index(_LEAD) < paragraphs.index(_TIDES[0])


def test_captions_are_read_once_where_the_page_shows_them() -> None:
    paragraphs = _spoken_paragraphs(_tides_page(lead_in_header=True))

    assert paragraphs.count(_LOW_TIDE) == 1
    assert paragraphs.count(_HIGH_WATER) == 1
    assert [p for p in paragraphs if p in (*_TIDES, _LOW_TIDE, _HIGH_WATER)] == [
        _TIDES[0],
        _LOW_TIDE,
        _TIDES[1],
        _HIGH_WATER,
        _TIDES[2],
    ]


@pytest.mark.parametrize("lead_in_header", [True, False], ids=["in-header", "under-headline"])
def test_navigation_sharing_related_links_and_asides_stay_out(lead_in_header: bool) -> None:
    text = "\n\n".join(_spoken_paragraphs(_tides_page(lead_in_header=lead_in_header)))

    for boilerplate in _NOT_READ:
        assert boilerplate not in text
