from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from document_processing.extractors import epub as epub_module
from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.extractors.epub import EpubExtractor
from document_processing.tests.extractors.samples import (
    BILLION_LAUGHS_DTD,
    CONTAINER_XML,
    ELF_BYTES,
    PASSWD_MARKER,
    XXE_DTD,
    Chapter,
    epub_members,
    image_bytes,
    ncx_xml,
    png_bytes,
    with_dtd,
    write_bomb_zip,
    write_epub,
    write_zip,
    xhtml,
)

LIMITS = ExtractionLimits()
MIB = 1024 * 1024

CHAPTERS = [
    Chapter("c1.xhtml", "<h1>The Beginning</h1><p>It was a <em>dark</em> night.</p>", "One"),
    Chapter("c2.xhtml", "<p>A chapter without a heading.</p>", "Second from TOC"),
    Chapter("notes.xhtml", "<h1>Notes</h1><p>Out of the reading order.</p>", "Notes", False),
    Chapter("c3.xhtml", "<div><img src='plate.png' alt='A plate'/></div>", "Plate"),
    Chapter(
        "c4.xhtml",
        "<h2>Lists</h2><ul><li>first</li><li>second</li></ul>"
        "<table><tr><th>k</th><th>v</th></tr><tr><td>a|b</td><td>1</td></tr>"
        "</table>",
        "Four",
    ),
]


def _extract(path: Path, limits: ExtractionLimits = LIMITS) -> list[str]:
    """The Markdown of the pages read, the table of contents aside."""
    pages = EpubExtractor().extract(path, limits=limits).pages
    return [page.markdown for page in pages if not page.contents]


def _error(path: Path, limits: ExtractionLimits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        EpubExtractor().extract(path, limits=limits)
    return caught.value


def test_one_page_per_linear_chapter_in_spine_order(tmp_path: Path) -> None:
    result = EpubExtractor().extract(write_epub(tmp_path / "b.epub", CHAPTERS), limits=LIMITS)

    # The navigation document (listed first in this spine) is kept, marked as contents.
    assert [page.markdown for page in result.pages] == [
        "# Contents\n\n1. One\n2. Second from TOC\n3. Notes\n4. Plate\n5. Four",
        "# The Beginning\n\nIt was a *dark* night.",
        "A chapter without a heading.",
        "## Lists\n\n- first\n- second\n\n| k | v |\n| --- | --- |\n| a\\|b | 1 |",
    ]
    assert [page.contents for page in result.pages] == [True, False, False, False]
    # Title from the first heading, else from the TOC (nav document).
    assert [page.title for page in result.pages] == [
        "Contents",
        "The Beginning",
        "Second from TOC",
        "Lists",
    ]
    assert result.title == "A Book"
    assert result.author == "An Author"


def test_titles_from_ncx_when_there_is_no_nav(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub", CHAPTERS, nav=False, ncx=True)

    result = EpubExtractor().extract(path, limits=LIMITS)

    assert result.pages[1].title == "Second from TOC"


def test_spine_order_wins_over_file_order(tmp_path: Path) -> None:
    chapters = [Chapter("z.xhtml", "<p>first</p>"), Chapter("a.xhtml", "<p>second</p>")]

    assert _extract(write_epub(tmp_path / "b.epub", chapters)) == ["first", "second"]


def test_several_authors_and_no_author(tmp_path: Path) -> None:
    members = epub_members(CHAPTERS[:1])
    opf = str(members["OEBPS/content.opf"]).replace(
        "<dc:creator>An Author</dc:creator>",
        "<dc:creator>Ann</dc:creator><dc:creator>Bob</dc:creator>",
    )
    two = write_epub(tmp_path / "two.epub", CHAPTERS[:1], overrides={"OEBPS/content.opf": opf})
    none = write_epub(tmp_path / "none.epub", CHAPTERS[:1], author="")

    assert EpubExtractor().extract(two, limits=LIMITS).author == "Ann, Bob"
    assert EpubExtractor().extract(none, limits=LIMITS).author == ""


def test_long_chapters_are_split(tmp_path: Path) -> None:
    body = "<h1>Long</h1>" + "<p>A sentence in a paragraph that goes on. </p>" * 100
    path = write_epub(tmp_path / "b.epub", [Chapter("c1.xhtml", body)])

    result = EpubExtractor().extract(path, limits=ExtractionLimits(page_max_chars=1000))
    result = replace(result, pages=[page for page in result.pages if not page.contents])

    assert len(result.pages) > 3
    assert all(len(page.markdown) <= 1000 for page in result.pages)
    # The heading names the first page; `extraction` names the rest by their first words.
    assert [page.title for page in result.pages] == ["Long"] + [""] * (len(result.pages) - 1)


def test_hrefs_are_url_decoded_and_resolved_relative_to_the_opf(tmp_path: Path) -> None:
    members = epub_members([Chapter("Text/chapter%201.xhtml", "<p>x</p>")])
    members["OEBPS/Text/chapter 1.xhtml"] = xhtml("<p>Spaced name</p>")
    del members["OEBPS/Text/chapter%201.xhtml"]

    assert _extract(write_zip(tmp_path / "b.epub", members)) == ["Spaced name"]


def test_href_leaving_the_archive_is_ignored(tmp_path: Path) -> None:
    chapters = [Chapter("../../../etc/passwd", "<p>x</p>"), Chapter("ok.xhtml", "<p>Fine</p>")]
    members = epub_members(chapters)
    members.pop("OEBPS/../../../etc/passwd")

    assert _extract(write_zip(tmp_path / "b.epub", members)) == ["Fine"]


def test_missing_chapter_is_skipped_with_a_note(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub", CHAPTERS[:2], overrides={"OEBPS/c2.xhtml": None})

    assert len(_extract(path)) == 1
    assert EpubExtractor().extract(path, limits=LIMITS).notes


def test_font_obfuscation_is_not_drm(tmp_path: Path) -> None:
    encryption = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
        'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
        '<enc:CipherReference URI="{uri}"/></enc:CipherData></enc:EncryptedData></encryption>'
    )
    fonts = write_epub(
        tmp_path / "fonts.epub",
        CHAPTERS[:1],
        overrides={"META-INF/encryption.xml": encryption.format(uri="OEBPS/font.otf")},
    )
    drm = write_epub(
        tmp_path / "drm.epub",
        CHAPTERS[:1],
        overrides={"META-INF/encryption.xml": encryption.format(uri="OEBPS/c1.xhtml")},
    )

    assert _extract(fonts)
    assert _error(drm).code == "encrypted"
    assert "DRM" in _error(drm).user_message


# -- limits ----------------------------------------------------------------------------------------


def test_max_pages(tmp_path: Path) -> None:
    chapters = [Chapter(f"c{i}.xhtml", f"<p>Chapter {i}</p>") for i in range(10)]

    error = _error(write_epub(tmp_path / "b.epub", chapters), ExtractionLimits(max_pages=4))

    assert error.code == "too_many_pages"


def test_max_chars(tmp_path: Path) -> None:
    chapters = [Chapter(f"c{i}.xhtml", "<p>" + "word " * 100 + "</p>") for i in range(5)]

    error = _error(write_epub(tmp_path / "b.epub", chapters), ExtractionLimits(max_chars=1000))

    assert error.code == "too_large"


# -- bad input ------------------------------------------------------------------------------------


def test_no_readable_text(tmp_path: Path) -> None:
    chapters = [Chapter("c1.xhtml", "<div><img src='cover.jpg'/></div>")]

    error = _error(write_epub(tmp_path / "b.epub", chapters))

    assert error.code == "empty"
    assert error.user_message == "This EPUB contains no readable text."


def test_missing_container(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub", CHAPTERS, overrides={"META-INF/container.xml": None})

    assert _error(path).user_message == (
        "This EPUB file is damaged: it does not say where its contents are."
    )


def test_missing_opf(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub", CHAPTERS, overrides={"OEBPS/content.opf": None})

    assert _error(path).code == "corrupt"


def test_malformed_opf(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub", CHAPTERS, overrides={"OEBPS/content.opf": "<pack"})

    error = _error(path)

    assert error.code == "corrupt"
    assert "ParseError" not in error.user_message


def test_container_pointing_outside_the_archive(tmp_path: Path) -> None:
    container = CONTAINER_XML.replace("OEBPS/content.opf", "../../etc/passwd")
    path = write_epub(tmp_path / "b.epub", CHAPTERS, overrides={_CONTAINER: container})

    assert _error(path).code == "corrupt"


_CONTAINER = "META-INF/container.xml"


@pytest.mark.parametrize("member", ["OEBPS/content.opf", _CONTAINER])
@pytest.mark.parametrize("dtd", [BILLION_LAUGHS_DTD, XXE_DTD])
def test_entities_in_package_xml_are_refused(tmp_path: Path, member: str, dtd: str) -> None:
    members = epub_members(CHAPTERS)
    hostile = with_dtd(str(members[member]), dtd)
    path = write_epub(tmp_path / "b.epub", CHAPTERS, overrides={member: hostile})

    started = time.monotonic()
    error = _error(path)

    assert time.monotonic() - started < 5
    assert error.code == "unsafe"
    assert PASSWD_MARKER not in error.user_message


@pytest.mark.parametrize("dtd", [BILLION_LAUGHS_DTD, XXE_DTD])
def test_entities_in_the_ncx_are_refused(tmp_path: Path, dtd: str) -> None:
    members = epub_members(CHAPTERS, nav=False, ncx=True)
    ncx = str(members["OEBPS/toc.ncx"])
    ncx = ncx[: ncx.index("<!DOCTYPE")] + ncx[ncx.index("<ncx") :]  # swap its public DOCTYPE
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        nav=False,
        ncx=True,
        overrides={"OEBPS/toc.ncx": with_dtd(ncx, dtd)},
    )

    assert _error(path).code == "unsafe"


def test_entities_in_chapters_are_not_expanded(tmp_path: Path) -> None:
    laughs = with_dtd(xhtml("<p>Laugh: &lol9;</p>"), BILLION_LAUGHS_DTD)
    xxe = with_dtd(xhtml("<p>Secret: &xxe;</p>"), XXE_DTD)
    chapters = [Chapter("c1.xhtml", ""), Chapter("c2.xhtml", "")]
    path = write_epub(
        tmp_path / "b.epub",
        chapters,
        overrides={"OEBPS/c1.xhtml": laughs, "OEBPS/c2.xhtml": xxe},
    )

    started = time.monotonic()
    pages = _extract(path)

    assert time.monotonic() - started < 5
    text = "\n".join(pages)
    assert "Laugh:" in text
    assert "Secret:" in text
    assert "lollol" not in text
    assert PASSWD_MARKER not in text
    assert "ENTITY" not in text


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    path = write_bomb_zip(
        tmp_path / "bomb.epub",
        epub_members(CHAPTERS),
        bomb_name="OEBPS/images/huge.png",
        bomb_size=300 * MIB,
    )

    started = time.monotonic()
    error = _error(path)

    assert time.monotonic() - started < 5
    assert error.code == "too_large"


def test_total_size_over_the_budget_is_refused(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "b.epub", CHAPTERS)

    assert _error(path, ExtractionLimits(max_uncompressed_bytes=1000)).code == "too_large"


@pytest.mark.parametrize("name", ["/etc/evil.xhtml", "../evil.xhtml", "OEBPS/../../evil"])
def test_unsafe_member_names_are_refused(tmp_path: Path, name: str) -> None:
    members = epub_members(CHAPTERS)
    members[name] = "x"

    assert _error(write_zip(tmp_path / "b.epub", members)).code == "unsafe"


def test_truncated_epub(tmp_path: Path) -> None:
    data = write_epub(tmp_path / "whole.epub", CHAPTERS).read_bytes()
    path = tmp_path / "cut.epub"
    path.write_bytes(data[: len(data) * 2 // 3])

    error = _error(path)

    assert error.code == "corrupt"
    assert error.user_message == "This file is damaged or is not a complete EPUB file."


@pytest.mark.parametrize("data", [b"", png_bytes(), ELF_BYTES, b"PK\x05\x06" + bytes(18)])
def test_files_that_are_not_epubs(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "renamed.epub"
    path.write_bytes(data)

    assert _error(path).code == "corrupt"


def test_plain_zip_is_not_an_epub(tmp_path: Path) -> None:
    assert _error(write_zip(tmp_path / "a.epub", {"readme.txt": "hi"})).code == "corrupt"


def test_extractor_name() -> None:
    assert EpubExtractor.name == "epub"


# --- Cover ---------------------------------------------------------------------------------------

COVER_JPEG = image_bytes((60, 90))
COVER_ITEM = '<item id="{id}" href="{href}" media-type="image/jpeg"{properties}/>'


def _cover_item(
    href: str = "images/front.jpg", *, item_id: str = "art", properties: str = ""
) -> str:
    extra = f' properties="{properties}"' if properties else ""
    return COVER_ITEM.format(id=item_id, href=href, properties=extra)


def _cover_of(path: Path, limits: ExtractionLimits = LIMITS) -> bytes:
    return EpubExtractor().extract(path, limits=limits).cover


def _assert_is_the_cover(cover: bytes) -> None:
    image = Image.open(io.BytesIO(cover))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (60, 90))


def test_the_epub3_cover_image_item_is_the_cover(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        manifest_extra=_cover_item("images/front.jpg", properties="cover-image")
        # Named like a cover, but not the one the package marks.
        + _cover_item("images/cover.png", item_id="cover"),
        overrides={
            "OEBPS/images/front.jpg": COVER_JPEG,
            "OEBPS/images/cover.png": image_bytes((10, 10), image_format="PNG"),
        },
    )

    _assert_is_the_cover(_cover_of(path))


def test_the_epub2_meta_cover_names_the_cover(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        metadata_extra='<meta name="cover" content="art"/>',
        manifest_extra=_cover_item("front.jpg"),
        overrides={"OEBPS/front.jpg": COVER_JPEG},
    )

    _assert_is_the_cover(_cover_of(path))


def test_an_image_named_cover_is_the_cover_when_nothing_says_otherwise(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        manifest_extra=_cover_item("images/plate.jpg", item_id="plate")
        + _cover_item("images/Cover.jpg", item_id="img2"),
        overrides={
            "OEBPS/images/plate.jpg": image_bytes((10, 10)),
            "OEBPS/images/Cover.jpg": COVER_JPEG,
        },
    )

    _assert_is_the_cover(_cover_of(path))


def test_a_book_without_a_cover_has_none(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        manifest_extra=_cover_item("images/plate.jpg", item_id="plate"),
        overrides={"OEBPS/images/plate.jpg": COVER_JPEG},
    )

    assert _cover_of(path) == b""


def test_a_cover_href_that_leaves_the_archive_is_ignored(tmp_path: Path) -> None:
    # OEBPS/../../cover.jpg is outside the archive; OEBPS/../cover.jpg would be cover.jpg.
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        manifest_extra=_cover_item("../../cover.jpg", properties="cover-image"),
        overrides={"cover.jpg": COVER_JPEG},
    )

    result = EpubExtractor().extract(path, limits=LIMITS)

    assert result.cover == b""
    assert len(_extract(path)) == 3


def test_a_cover_href_to_the_archive_root_is_followed(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        manifest_extra=_cover_item("../front.jpg", properties="cover-image"),
        overrides={"front.jpg": COVER_JPEG},
    )

    _assert_is_the_cover(_cover_of(path))


@pytest.mark.parametrize(
    "data",
    [
        b"not a jpeg",
        COVER_JPEG[: len(COVER_JPEG) // 2],
        ELF_BYTES,
        b"\x89PNG\r\n\x1a\n" + bytes(40),
    ],
)
def test_a_corrupt_cover_leaves_a_book_without_one(tmp_path: Path, data: bytes) -> None:
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        manifest_extra=_cover_item(properties="cover-image"),
        overrides={"OEBPS/images/front.jpg": data},
    )

    result = EpubExtractor().extract(path, limits=LIMITS)

    assert result.cover == b""
    assert _extract(path) == _extract(write_epub(tmp_path / "plain.epub", CHAPTERS))


def test_a_cover_listed_but_missing_leaves_a_book_without_one(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "b.epub", CHAPTERS, manifest_extra=_cover_item(properties="cover-image")
    )

    assert _cover_of(path) == b""


def test_a_cover_over_the_byte_cap_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_epub(
        tmp_path / "b.epub",
        CHAPTERS,
        manifest_extra=_cover_item(properties="cover-image"),
        overrides={"OEBPS/images/front.jpg": COVER_JPEG},
    )
    monkeypatch.setattr(epub_module, "MAX_SOURCE_BYTES", len(COVER_JPEG) - 1)

    assert _cover_of(path) == b""


# -- Reading order: fallbacks, odd package documents, contents -----------------------------------


def _package(manifest: str, spine: str, *, spine_attributes: str = "", guide: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x'
        "</dc:identifier><dc:title>Book</dc:title></metadata>"
        f"<manifest>{manifest}</manifest><spine{spine_attributes}>{spine}</spine>{guide}"
        "</package>"
    )


def _book(path: Path, opf: str, files: dict[str, bytes | str]) -> Path:
    members: dict[str, bytes | str] = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": CONTAINER_XML,
        "OEBPS/content.opf": opf,
    }
    members.update({f"OEBPS/{name}": data for name, data in files.items()})
    return write_zip(path, members)


def test_spine_items_that_are_not_chapters_are_read_through_their_fallback(
    tmp_path: Path,
) -> None:
    manifest = (
        '<item id="p1" href="p1.jpg" media-type="image/jpeg" fallback="text"/>'
        '<item id="p2" href="p2.jpg" media-type="image/jpeg" fallback="text"/>'
        '<item id="data" href="book.xml" media-type="application/xml" fallback="step"/>'
        '<item id="step" href="book.json" media-type="application/json" fallback="real"/>'
        '<item id="text" href="text.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="real" href="real.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="loop" href="a.png" media-type="image/png" fallback="loop2"/>'
        '<item id="loop2" href="b.png" media-type="image/png" fallback="loop"/>'
    )
    spine = "".join(f'<itemref idref="{ref}"/>' for ref in ("p1", "p2", "data", "loop"))
    path = _book(
        tmp_path / "b.epub",
        _package(manifest, spine),
        {
            "p1.jpg": COVER_JPEG,
            "text.xhtml": xhtml("<p>The comic's words, once.</p>"),
            "book.xml": "<novel><p>Test fails.</p></novel>",
            "real.xhtml": xhtml("<p>The end of the chain.</p>"),
        },
    )

    # Two pictures falling back to the same text read it once; a chain is followed to its
    # end; a chain that goes round in circles ends.
    assert _extract(path) == ["The comic's words, once.", "The end of the chain."]


def test_an_svg_page_in_the_spine_is_read_for_the_words_it_draws(tmp_path: Path) -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg"><text x="0" y="10">Once upon</text>'
        '<text x="0" y="30"><tspan y="30">a ti</tspan><tspan y="30">me</tspan></text></svg>'
    )
    path = _book(
        tmp_path / "b.epub",
        _package('<item id="s" href="s.svg" media-type="image/svg+xml"/>', '<itemref idref="s"/>'),
        {"s.svg": svg},
    )

    assert _extract(path) == ["Once upon a time"]


def test_an_epub2_whose_toc_attribute_names_something_else_still_reads_its_spine(
    tmp_path: Path,
) -> None:
    chapters = [Chapter("c1.xhtml", "<p>The whole novel.</p>", "One")]
    manifest = (
        '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="contents" href="contents.html" media-type="application/xhtml+xml"/>'
        '<item id="tableofcontents" href="book.ncx" media-type="application/x-dtbncx+xml"/>'
    )
    path = _book(
        tmp_path / "b.epub",
        # `toc` names an HTML page (not well-formed XML), not the NCX.
        _package(manifest, '<itemref idref="c1"/>', spine_attributes=' toc="contents"'),
        {
            "c1.xhtml": xhtml("<p>The whole novel.</p>"),
            "contents.html": "<html><body><p>Contents<br></body>",
            "book.ncx": ncx_xml(chapters),
        },
    )

    result = EpubExtractor().extract(path, limits=LIMITS)

    assert [page.markdown for page in result.pages] == ["The whole novel."]
    assert result.pages[0].title == "One"  # from the NCX, found by its type


def test_a_damaged_ncx_leaves_the_book_readable(tmp_path: Path) -> None:
    manifest = (
        '<item id="c1" href="c1.xhtml" media-type="Application/XHTML+XML; charset=utf-8"/>'
        '<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>'
    )
    path = _book(
        tmp_path / "b.epub",
        _package(manifest, '<itemref idref="c1"/>', spine_attributes=' toc="ncx"'),
        {"c1.xhtml": xhtml("<p>Text.</p>"), "toc.ncx": "<ncx><navMap><navPoint>"},
    )

    assert _extract(path) == ["Text."]


def test_self_closed_elements_in_xhtml_swallow_nothing(tmp_path: Path) -> None:
    chapter = (
        '<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml" '
        'xmlns:epub="http://www.idpf.org/2007/ops"><head><title>T</title>'
        '<script src="reader.js"/></head><body><p>He heard the '
        '<span epub:type="pagebreak" id="page_200" title="200"/>200 drums'
        '<a id="here"/> beat.<br/>Again.</p></body></html>'
    )
    path = write_epub(
        tmp_path / "b.epub", [Chapter("c1.xhtml", "")], overrides={"OEBPS/c1.xhtml": chapter}
    )

    # The empty page-break marker stays empty: the "200" after it is the book's own text.
    assert _extract(path) == ["He heard the 200 drums beat.\\\nAgain."]


def test_page_breaks_ruby_and_note_marks_are_not_read(tmp_path: Path) -> None:
    body = (
        '<p>He heard the <span epub:type="pagebreak" id="page_200" title="200">200</span> drums'
        ' beat.<a epub:type="noteref" href="notes.xhtml#n1">1</a></p>'
        "<p><ruby>太鼓<rp>(</rp><rt>たいこ</rt><rp>)</rp></ruby>の音。</p>"
    )
    path = write_epub(tmp_path / "b.epub", [Chapter("c1.xhtml", body)])

    assert _extract(path) == ["He heard the drums beat.\n\n太鼓の音。"]


def test_the_page_the_guide_names_as_contents_is_marked(tmp_path: Path) -> None:
    links = "".join(f'<p><a href="c1.xhtml#s{i}">Section {i}</a></p>' for i in range(3))
    manifest = (
        '<item id="toc" href="toc.xhtml" media-type="application/xhtml+xml"/>'
        '<item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/>'
    )
    path = _book(
        tmp_path / "b.epub",
        _package(
            manifest,
            '<itemref idref="toc"/><itemref idref="c1"/>',
            guide='<guide><reference type="toc" title="Contents" href="toc.xhtml#top"/></guide>',
        ),
        {"toc.xhtml": xhtml(f"<h1>In this book</h1>{links}"), "c1.xhtml": xhtml("<p>Text.</p>")},
    )

    pages = EpubExtractor().extract(path, limits=LIMITS).pages

    assert [(page.title, page.contents) for page in pages] == [
        ("In this book", True),
        ("", False),
    ]


@pytest.mark.parametrize(("links", "contents"), [(6, True), (4, False)])
def test_a_chapter_that_is_a_list_of_links_is_marked_as_contents(
    tmp_path: Path, links: int, contents: bool
) -> None:
    items = "".join(f'<li><a href="c{i}.xhtml">Chapter {i}</a></li>' for i in range(links))
    chapters = [
        Chapter("list.xhtml", f"<h2>Where to go</h2><ul>{items}</ul>"),
        Chapter("prose.xhtml", '<p>A chapter with <a href="#x">a link</a> in its prose.</p>'),
    ]
    pages = (
        EpubExtractor()
        .extract(write_epub(tmp_path / "b.epub", chapters, nav=False), limits=LIMITS)
        .pages
    )

    assert [page.contents for page in pages] == [contents, False]


def test_a_book_of_pictures_and_its_table_of_contents_has_no_readable_text(
    tmp_path: Path,
) -> None:
    chapters = [Chapter("c1.xhtml", "<img src='p1.jpg' alt=''/>", "Page one")]

    error = _error(write_epub(tmp_path / "b.epub", chapters))

    assert error.code == "empty"
