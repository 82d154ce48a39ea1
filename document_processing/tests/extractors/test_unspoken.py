from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from document_processing.extractors.html import markup_to_markdown
from document_processing.extractors.unspoken import drop_unspoken


def _text(html: str) -> str:
    tree = LexborHTMLParser(f"<html><body>{html}</body></html>")
    drop_unspoken(tree)
    assert tree.body is not None
    return " ".join(tree.body.text(deep=True, separator=" ").split())


@pytest.mark.parametrize(
    "marker",
    [
        '<span epub:type="pagebreak" id="page_200" title="200">200</span>',
        '<span role="doc-pagebreak" aria-label="200">200</span>',
        '<div epub:type="pagebreak">200</div>',
        '<span class="pagenum"><a id="Page_200">[Pg 200]</a></span>',
        '<span class="pagenum"><a id="page_200">{200}</a></span>',
        '<span class="pageno" id="Page_200">200</span>',
        '<a id="page_200">200</a>',
        '<span id="p200">[200]</span>',
        '<span class="page-number">xiv</span>',
    ],
)
def test_page_numbers_inside_sentences_are_not_read(marker: str) -> None:
    assert _text(f"<p>He heard the {marker} drums beat.</p>") == "He heard the drums beat."


@pytest.mark.parametrize(
    ("html", "kept"),
    [
        ('<p id="p3">I</p>', "I"),  # a paragraph's id, and the word "I"
        ('<span id="p3">I said so.</span>', "I said so."),
        ('<span class="pagenum">Chapter twelve</span>', "Chapter twelve"),
        ('<h2 id="page_12">Page 12</h2>', "Page 12"),
        ('<span epub:type="pagebreak">A long run of text that is not a number.</span>',
         "A long run of text that is not a number."),
    ],
)  # fmt: skip
def test_what_only_looks_like_a_page_number_is_kept(html: str, kept: str) -> None:
    assert _text(html) == kept


def test_ruby_readings_are_dropped_and_the_base_text_read_once() -> None:
    html = "<p><ruby>漢<rp>(</rp><rt>かん</rt><rp>)</rp>字<rt>じ</rt></ruby>を読む</p>"

    assert markup_to_markdown(html) == "漢字を読む"


@pytest.mark.parametrize(
    "reference",
    [
        '<a epub:type="noteref" href="#n24">24</a>',
        '<a role="doc-noteref" href="notes.xhtml#n24">24</a>',
        '<a href="#fn24" class="footnote-ref" id="fnref24" role="doc-noteref"><sup>24</sup></a>',
        '<sup id="fnref:24"><a class="footnote-ref" href="#fn:24">24</a></sup>',
        '<a class="footnote-reference brackets" href="#f24" id="id1">24</a>',
        '<sup><a href="#fn24">24</a></sup>',
        '<a href="#fn24"><sup>24</sup></a>',
        '<sup id="cite_ref-24" class="reference"><a href="#cite_note-24">[24]</a></sup>',
        '<a class="fnanchor" href="#Footnote_24">[24]</a>',
        '<a href="#note-24">[24]</a>',
        '<sup><a href="#fn-a">*</a></sup>',
    ],
)
def test_note_and_citation_marks_are_not_read(reference: str) -> None:
    assert _text(f"<p>The drums.{reference}See the note.</p>") == "The drums. See the note."


@pytest.mark.parametrize(
    "html",
    [
        "<p>E = mc<sup>2</sup></p>",  # a superscript that is no link is text
        '<p>The <a href="#c21">21<sup>st</sup> century</a></p>',  # part of a longer link
        '<p>See <a href="https://example.com/#x">[1]</a></p>',  # a link to another site
        '<p>Section <a href="#s2">2</a> says so.</p>',  # a plain link to a part of the page
    ],
)
def test_superscripts_and_links_that_are_text_are_kept(html: str) -> None:
    body = LexborHTMLParser(html).body
    assert body is not None
    before = " ".join(body.text(deep=True, separator=" ").split())

    assert _text(html) == before


def test_links_back_from_notes_are_not_read() -> None:
    html = (
        '<ol><li id="n1"><p>Written in February. '
        '<a href="ch23.xhtml#noteref-1" epub:type="backlink">↩</a></p></li>'
        '<li id="cite_note-2"><span class="mw-cite-backlink">^ <a href="#cite_ref-2a">a</a> '
        '<a href="#cite_ref-2b">b</a></span> Fleming, 2016.</li>'
        '<li><p>A note. <a href="#fnref3" class="footnote-back">↩︎</a></p></li></ol>'
    )

    assert _text(html) == "Written in February. Fleming, 2016. A note."


def test_wikipedia_edit_links_are_not_read() -> None:
    html = (
        '<h2>History<span class="mw-editsection"><span class="mw-editsection-bracket">[</span>'
        '<a href="/w/index.php?title=Drum&amp;action=edit&amp;section=1">edit</a>'
        '<span class="mw-editsection-bracket">]</span></span></h2>'
        '<h3>Use <a href="/w/index.php?title=Drum&amp;action=edit&amp;section=2">[edit]</a></h3>'
    )

    assert _text(html) == "History Use"
