from __future__ import annotations

import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from docx.enum.text import WD_BREAK
from PIL import Image

from document_processing.extractors import docx as docx_module
from document_processing.extractors.base import ExtractionError, ExtractionLimits
from document_processing.extractors.docx import DocxExtractor
from document_processing.tests.extractors.samples import (
    BILLION_LAUGHS_DTD,
    ELF_BYTES,
    PASSWD_MARKER,
    XXE_DTD,
    image_bytes,
    png_bytes,
    replace_member,
    with_dtd,
    write_bomb_zip,
    write_docx,
    write_zip,
    zip_members,
)

LIMITS = ExtractionLimits()
MIB = 1024 * 1024


def _pages(path: Path, limits: ExtractionLimits = LIMITS) -> list[str]:
    return [page.markdown for page in DocxExtractor().extract(path, limits=limits).pages]


def _error(path: Path, limits: ExtractionLimits = LIMITS) -> ExtractionError:
    with pytest.raises(ExtractionError) as caught:
        DocxExtractor().extract(path, limits=limits)
    return caught.value


def _report(document: Any) -> None:
    document.add_heading("Report", level=1)
    paragraph = document.add_paragraph("Plain, ")
    paragraph.add_run("bold").bold = True
    paragraph.add_run(", ")
    paragraph.add_run("italic").italic = True
    paragraph.add_run(" and # 1. *stars*.")
    document.add_heading("Details", level=2)
    document.add_paragraph("first point", style="List Bullet")
    document.add_paragraph("second point", style="List Bullet")
    document.add_paragraph("step one", style="List Number")
    table = document.add_table(rows=2, cols=2)
    for (row, col), text in {(0, 0): "Name", (0, 1): "Value", (1, 0): "a|b", (1, 1): "2"}.items():
        table.cell(row, col).text = text
    document.add_paragraph("After the table.")


def test_structure_in_document_order(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "r.docx", _report, title="The Report", author="Ann Author")

    result = DocxExtractor().extract(path, limits=LIMITS)

    assert [page.markdown for page in result.pages] == [
        "# Report\n\n"
        "Plain, **bold**, *italic* and # 1. \\*stars\\*.\n\n"
        "## Details\n\n"
        "- first point\n- second point\n\n"
        "1. step one\n\n"
        "| Name | Value |\n| --- | --- |\n| a\\|b | 2 |\n\n"
        "After the table."
    ]
    assert result.pages[0].title == "Report"
    assert result.title == "The Report"
    assert result.author == "Ann Author"


def test_all_heading_levels(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        for level in range(1, 7):
            document.add_heading(f"Level {level}", level=level)

    pages = _pages(write_docx(tmp_path / "h.docx", build))

    assert pages == [
        "# Level 1\n\n## Level 2\n\n### Level 3\n\n#### Level 4\n\n##### Level 5\n\n###### Level 6"
    ]


def test_title_style_is_a_top_heading(tmp_path: Path) -> None:
    pages = _pages(write_docx(tmp_path / "t.docx", lambda d: d.add_heading("Doc", level=0)))

    assert pages == ["# Doc"]


def test_pages_split_at_top_level_headings(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        document.add_paragraph("Preface text.")
        for name in ("One", "Two"):
            document.add_heading(name, level=1)
            document.add_paragraph(f"Body of {name}.")

    result = DocxExtractor().extract(write_docx(tmp_path / "c.docx", build), limits=LIMITS)

    assert [page.markdown for page in result.pages] == [
        "Preface text.",
        "# One\n\nBody of One.",
        "# Two\n\nBody of Two.",
    ]
    assert [page.title for page in result.pages] == ["", "One", "Two"]


def test_pages_split_at_page_breaks(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        document.add_heading("Chapter", level=1)
        document.add_paragraph("Page one.")
        document.add_page_break()
        paragraph = document.add_paragraph("Before the break ")
        paragraph.add_run().add_break(WD_BREAK.PAGE)
        paragraph.add_run("after the break.")
        document.add_paragraph("Broken before.").paragraph_format.page_break_before = True

    result = DocxExtractor().extract(write_docx(tmp_path / "b.docx", build), limits=LIMITS)

    assert [page.markdown for page in result.pages] == [
        "# Chapter\n\nPage one.",
        "Before the break",
        "after the break.",
        "Broken before.",
    ]
    # Pages after a break keep the title of the section they are in.
    assert {page.title for page in result.pages} == {"Chapter"}


def test_line_breaks_are_hard_breaks(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        paragraph = document.add_paragraph("Line one")
        paragraph.add_run().add_break()
        paragraph.add_run("line two")
        paragraph.add_run().add_break()

    assert _pages(write_docx(tmp_path / "l.docx", build)) == ["Line one\\\nline two"]


def test_nested_list_levels(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        document.add_paragraph("top", style="List Bullet")
        document.add_paragraph("nested", style="List Bullet 2")
        document.add_paragraph("deeper", style="List Bullet 3")

    pages = _pages(write_docx(tmp_path / "n.docx", build))

    # Only whether the items form one list matters here; the default template's "List Bullet 2"
    # style carries its level in the numbering definition.
    assert pages[0].startswith("- top\n")
    assert pages[0].count("- ") == 3


def test_size_cap_splits_long_documents(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        document.add_heading("Long", level=1)
        for index in range(60):
            document.add_paragraph(f"Paragraph {index} has a handful of words in it.")

    path = write_docx(tmp_path / "long.docx", build)

    result = DocxExtractor().extract(path, limits=ExtractionLimits(page_max_chars=500))

    assert len(result.pages) > 3
    assert all(len(page.markdown) <= 500 for page in result.pages)
    # The heading names the first page; `extraction` names the rest by their first words.
    assert [page.title for page in result.pages] == ["Long"] + [""] * (len(result.pages) - 1)


def test_empty_document(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        document.add_paragraph("")
        document.add_paragraph("   ")

    error = _error(write_docx(tmp_path / "e.docx", build))

    assert error.code == "empty"
    assert error.user_message == "This Word document contains no readable text."


def test_document_without_core_properties_has_no_title(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "d.docx", lambda d: d.add_paragraph("x"), title="T")
    members = zip_members(path)
    del members["docProps/core.xml"]
    rels = members["_rels/.rels"].decode()
    start = rels.rindex("<Relationship", 0, rels.index("core-properties"))
    members["_rels/.rels"] = (rels[:start] + rels[rels.index("/>", start) + 2 :]).encode()

    result = DocxExtractor().extract(write_zip(tmp_path / "nocore.docx", members), limits=LIMITS)

    assert result.title == ""


# -- limits ----------------------------------------------------------------------------------------


def test_max_pages(tmp_path: Path) -> None:
    def build(document: Any) -> None:
        for index in range(6):
            document.add_heading(f"H{index}", level=1)

    error = _error(write_docx(tmp_path / "m.docx", build), ExtractionLimits(max_pages=5))

    assert error.code == "too_many_pages"


def test_max_chars(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "m.docx", lambda d: d.add_paragraph("word " * 500))

    assert _error(path, ExtractionLimits(max_chars=100)).code == "too_large"


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("member", ["word/document.xml", "[Content_Types].xml", "word/styles.xml"])
@pytest.mark.parametrize("dtd", [BILLION_LAUGHS_DTD, XXE_DTD])
def test_entities_in_any_xml_part_are_refused(tmp_path: Path, member: str, dtd: str) -> None:
    path = write_docx(tmp_path / "x.docx", lambda d: d.add_paragraph("Hello &xxe; &lol9;"))
    original = zip_members(path)[member].decode()
    hostile = with_dtd(original.replace("Hello &amp;xxe; &amp;lol9;", "Hello &xxe; &lol9;"), dtd)
    replace_member(path, member, hostile)

    started = time.monotonic()
    error = _error(path)

    assert time.monotonic() - started < 5
    assert error.code == "unsafe"
    assert PASSWD_MARKER not in error.user_message


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    members = zip_members(write_docx(tmp_path / "ok.docx", lambda d: d.add_paragraph("x")))

    path = write_bomb_zip(
        tmp_path / "bomb.docx", members, bomb_name="word/media/image1.png", bomb_size=300 * MIB
    )

    started = time.monotonic()
    assert _error(path).code == "too_large"
    assert time.monotonic() - started < 5


def test_total_size_over_the_budget_is_refused(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "ok.docx", lambda d: d.add_paragraph("x"))

    assert _error(path, ExtractionLimits(max_uncompressed_bytes=10_000)).code == "too_large"


@pytest.mark.parametrize("name", ["/word/evil.xml", "../evil.xml", "word/../../evil.xml"])
def test_unsafe_member_names_are_refused(tmp_path: Path, name: str) -> None:
    path = write_docx(tmp_path / "ok.docx", lambda d: d.add_paragraph("x"))
    members = zip_members(path)
    members[name] = b"<x/>"

    assert _error(write_zip(tmp_path / "evil.docx", members)).code == "unsafe"


def test_truncated_docx(tmp_path: Path) -> None:
    data = write_docx(tmp_path / "ok.docx", _report).read_bytes()
    path = tmp_path / "cut.docx"
    path.write_bytes(data[: len(data) // 2])

    error = _error(path)

    assert error.code == "corrupt"
    assert error.user_message == "This file is damaged or is not a complete Word file."


def test_malformed_document_xml(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "ok.docx", lambda d: d.add_paragraph("x"))
    replace_member(path, "word/document.xml", "<w:document><unclosed>")

    error = _error(path)

    assert error.code == "corrupt"
    assert error.user_message == "This Word document is damaged or is not a .docx file."


def test_missing_document_part(tmp_path: Path) -> None:
    members = zip_members(write_docx(tmp_path / "ok.docx", lambda d: d.add_paragraph("x")))
    del members["word/document.xml"]

    assert _error(write_zip(tmp_path / "broken.docx", members)).code == "corrupt"


@pytest.mark.parametrize(
    "members",
    [
        {"readme.txt": "just a zip"},
        {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"},
    ],
)
def test_zips_that_are_not_word_documents(tmp_path: Path, members: dict[str, str]) -> None:
    assert _error(write_zip(tmp_path / "named.docx", members)).code == "corrupt"


@pytest.mark.parametrize("data", [b"", png_bytes(), ELF_BYTES, b"plain text, not a zip"])
def test_files_that_are_not_docx(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "renamed.docx"
    path.write_bytes(data)

    assert _error(path).code == "corrupt"


def test_extractor_name() -> None:
    assert DocxExtractor.name == "docx"


# --- Cover ---------------------------------------------------------------------------------------

THUMBNAIL_TYPE = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail"
PACKAGE_RELS = "_rels/.rels"


def _plain(path: Path) -> Path:
    return write_docx(path, lambda d: d.add_paragraph("Some text."))


def _repackaged(path: Path, *, thumbnail: str | None, parts: dict[str, bytes]) -> Path:
    """The document without the template's thumbnail, with a package relationship to
    `thumbnail` (if not None; "External:..." for an external one) and `parts` added."""
    members = zip_members(path)
    del members["docProps/thumbnail.jpeg"]
    rels = members[PACKAGE_RELS].decode()
    rels = re.sub(r"<Relationship [^>]*metadata/thumbnail[^>]*/>", "", rels)
    if thumbnail is not None:
        mode = ' TargetMode="External"' if thumbnail.startswith("External:") else ""
        target = thumbnail.removeprefix("External:")
        relationship = f'<Relationship Id="rId9" Type="{THUMBNAIL_TYPE}" Target="{target}"{mode}/>'
        rels = rels.replace("</Relationships>", relationship + "</Relationships>")
    members[PACKAGE_RELS] = rels.encode()
    types = members["[Content_Types].xml"].decode()
    extra = "".join(
        f'<Default Extension="{extension}" ContentType="image/{extension}"/>'
        for extension in ("png", "wmf")
    )
    members["[Content_Types].xml"] = types.replace("<Default ", extra + "<Default ", 1).encode()
    members.update(parts)
    return write_zip(path, members)


def _assert_cover_of_size(cover: bytes, size: tuple[int, int]) -> None:
    image = Image.open(io.BytesIO(cover))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", size)


def test_the_package_thumbnail_is_the_cover(tmp_path: Path) -> None:
    path = replace_member(
        _plain(tmp_path / "a.docx"), "docProps/thumbnail.jpeg", image_bytes((60, 90))
    )

    result = DocxExtractor().extract(path, limits=LIMITS)

    _assert_cover_of_size(result.cover, (60, 90))
    assert _pages(path) == ["Some text."]


def test_the_thumbnail_relationship_is_followed(tmp_path: Path) -> None:
    png = image_bytes((90, 60), image_format="PNG")
    path = _repackaged(
        _plain(tmp_path / "a.docx"),
        thumbnail="/docProps/preview.png",
        parts={"docProps/preview.png": png},
    )

    _assert_cover_of_size(DocxExtractor().extract(path, limits=LIMITS).cover, (90, 60))


def test_a_thumbnail_found_by_name_when_no_relationship_names_it(tmp_path: Path) -> None:
    png = image_bytes(image_format="PNG")
    path = _repackaged(
        _plain(tmp_path / "a.docx"), thumbnail=None, parts={"docProps/thumbnail.png": png}
    )

    _assert_cover_of_size(DocxExtractor().extract(path, limits=LIMITS).cover, (60, 90))


def test_the_blank_thumbnail_of_the_template_is_no_cover(tmp_path: Path) -> None:
    # python-docx's template, like Word's, carries an all-white thumbnail.
    path = _plain(tmp_path / "a.docx")
    assert "docProps/thumbnail.jpeg" in zip_members(path)

    assert DocxExtractor().extract(path, limits=LIMITS).cover == b""


def test_a_document_without_a_thumbnail_has_no_cover(tmp_path: Path) -> None:
    path = _repackaged(_plain(tmp_path / "a.docx"), thumbnail=None, parts={})

    result = DocxExtractor().extract(path, limits=LIMITS)

    assert result.cover == b""
    assert _pages(path) == ["Some text."]


@pytest.mark.parametrize(
    ("target", "name"),
    [
        ("docProps/thumbnail.jpeg", "docProps/thumbnail.jpeg"),
        ("/docProps/thumbnail.jpeg", "docProps/thumbnail.jpeg"),
        ("docProps/my%20thumb.png", "docProps/my thumb.png"),
        ("docProps/../media/t.png", "media/t.png"),
        ("../outside.png", None),
        ("/docProps/../../outside.png", None),
        ("https://example.com/x.png", None),
        ("//example.com/x.png", None),
        ("", None),
    ],
)
def test_thumbnail_targets_outside_the_package_name_no_part(target: str, name: str | None) -> None:
    assert docx_module._part_name(target) == name


def test_an_external_thumbnail_is_not_fetched_or_read(tmp_path: Path) -> None:
    path = _repackaged(
        _plain(tmp_path / "a.docx"),
        thumbnail="External:docProps/thumb.png",
        parts={"docProps/thumb.png": image_bytes(image_format="PNG")},
    )

    result = DocxExtractor().extract(path, limits=LIMITS)

    assert result.cover == b""
    assert _pages(path) == ["Some text."]


@pytest.mark.parametrize("data", [b"not an image", ELF_BYTES, image_bytes((60, 90))[:300]])
def test_a_corrupt_thumbnail_leaves_a_document_without_a_cover(tmp_path: Path, data: bytes) -> None:
    path = replace_member(_plain(tmp_path / "a.docx"), "docProps/thumbnail.jpeg", data)

    result = DocxExtractor().extract(path, limits=LIMITS)

    assert result.cover == b""
    assert _pages(path) == ["Some text."]


def test_a_windows_metafile_thumbnail_is_not_decoded(tmp_path: Path) -> None:
    # Word on Windows writes thumbnail.emf/.wmf: vector formats, left alone.
    wmf = b"\xd7\xcd\xc6\x9a" + bytes(40)
    path = _repackaged(
        _plain(tmp_path / "a.docx"),
        thumbnail="docProps/thumbnail.wmf",
        parts={"docProps/thumbnail.wmf": wmf},
    )

    assert DocxExtractor().extract(path, limits=LIMITS).cover == b""


# -- what a reader sees, once: real files ---------------------------------------------------
# Files from public projects' test suites; sources and licences in tests/corpus/README.md.

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "docx"


def _corpus_text(name: str) -> str:
    return "\n\n".join(_pages(CORPUS / name))


def test_footnotes_follow_the_paragraph_that_cites_them() -> None:
    # python-docx's acceptance-test file: three footnotes cited in two paragraphs.
    assert _pages(CORPUS / "python-docx-footnotes.docx") == [
        "This paragraph contains one footnote here.\n\n"
        "Note 1: This is footnote text for the first footnote.\n\n"
        "This paragraph has no footnote.\n\n"
        "And this paragraph contains two footnotes, here and here.\n\n"
        "Note 2: This is footnote text for the second footnote.\n\n"
        "Note 3: This is footnote text for the third footnote."
    ]


def test_endnotes_follow_the_paragraph_that_cites_them() -> None:
    text = _corpus_text("poi-endnotes.docx")

    assert text.count("Note 1: XXX") == 1
    assert text.index("Also known as Maang Tika.") < text.index("Note 1: XXX")
    assert text.index("Note 1: XXX") < text.index("Tika Waylan")


def test_text_frames_boxes_and_notes_are_read_once_and_the_rest_is_left_out() -> None:
    # Open XML SDK's Comment015: a header, a footer, a footnote, an endnote, a comment, a frame
    # and a text box (stored twice: DrawingML and its VML fallback).
    text = _corpus_text("openxml-sdk-Comment015.docx")

    assert text.count("TextFrame Story") == 1
    assert text.count("Frame story") == 1
    assert text.count("Note 1: Endnote story") == 1
    assert text.count("Note 2: Footnote story") == 1
    for left_out in ("Header story", "Footer story", "Comment story", "Trying to add a comment"):
        assert left_out not in text


def test_a_vml_text_box_is_read() -> None:
    assert _pages(CORPUS / "openxml-sdk-txtBox.docx") == ["This is a test paragraph"]


def test_strict_open_xml_is_read_like_transitional() -> None:
    # Saved by Word as "Strict Open XML Document"; its comment is not read.
    assert _pages(CORPUS / "openxml-sdk-strict-CommentRangeStart.docx") == ["This is some text."]


def test_hidden_text_is_left_out() -> None:
    text = _corpus_text("openxml-sdk-format-font2.docx")

    assert "Hidden start\n\nHidden end" in text
    assert "idden text" not in text


def test_deleted_revisions_are_left_out_and_insertions_kept() -> None:
    text = _corpus_text("poi-delins.docx")

    assert "March 2009: Apache Tika Release" in text  # inserted
    assert "A pendant worn in place of the red spot" not in text  # deleted
    assert "Tika Waylan" not in text  # deleted


def test_headers_and_footers_are_left_out_including_the_first_page_ones() -> None:
    pages = _pages(CORPUS / "python-docx-sct-first-page-hdrftr.docx")

    assert pages[0] == "First page."
    assert not any("Header" in page for page in pages)


def test_ruby_base_text_is_read_once_without_its_reading() -> None:
    assert _pages(CORPUS / "poi-61470-ruby.docx") == ["東京"]


def test_cells_inside_content_controls_are_read() -> None:
    text = _corpus_text("openxml-sdk-sdtCell.docx")

    assert "| This is an sdtCell. | This is another sdtCell. |" in text


# -- what a reader sees, once: the cases one at a time ------------------------------------

_NAMESPACES = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)
_NOTE_RELATIONSHIP = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/{kind}"
_NOTE_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.{kind}+xml"


def _word_file(
    tmp_path: Path,
    body: str,
    *,
    footnotes: dict[str, str] | None = None,
    styles: str = "",
) -> Path:
    """A python-docx package whose body is `body` (WordprocessingML), with `footnotes`
    (id → text) in a footnotes part and `styles` added to its styles."""
    path = write_docx(tmp_path / "made.docx", lambda d: None)
    members = zip_members(path)
    members["word/document.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><w:document {_NAMESPACES}>'
        f"<w:body>{body}</w:body></w:document>"
    ).encode()
    if styles:
        members["word/styles.xml"] = members["word/styles.xml"].replace(
            b"</w:styles>", styles.encode() + b"</w:styles>"
        )
    if footnotes is not None:
        notes = "".join(
            f'<w:footnote w:id="{key}"><w:p><w:r><w:footnoteRef/></w:r>'
            f'<w:r><w:t xml:space="preserve"> {text}</w:t></w:r></w:p></w:footnote>'
            for key, text in footnotes.items()
        )
        separator = (
            '<w:footnote w:type="separator" w:id="-1">'
            "<w:p><w:r><w:separator/></w:r></w:p></w:footnote>"
        )
        members["word/footnotes.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><w:footnotes {_NAMESPACES}>'
            f"{separator}{notes}</w:footnotes>"
        ).encode()
        rels = members["word/_rels/document.xml.rels"].decode()
        relationship = (
            f'<Relationship Id="rIdNotes" Type="{_NOTE_RELATIONSHIP.format(kind="footnotes")}" '
            'Target="footnotes.xml"/>'
        )
        members["word/_rels/document.xml.rels"] = rels.replace(
            "</Relationships>", relationship + "</Relationships>"
        ).encode()
        types = members["[Content_Types].xml"].decode()
        override = (
            '<Override PartName="/word/footnotes.xml" '
            f'ContentType="{_NOTE_CONTENT_TYPE.format(kind="footnotes")}"/>'
        )
        members["[Content_Types].xml"] = types.replace("</Types>", override + "</Types>").encode()
    return write_zip(path, members)


def _p(*runs: str, ppr: str = "") -> str:
    return f"<w:p>{ppr}{''.join(runs)}</w:p>"


def _r(text: str, rpr: str = "") -> str:
    return (
        f'<w:r>{f"<w:rPr>{rpr}</w:rPr>" if rpr else ""}<w:t xml:space="preserve">{text}</w:t></w:r>'
    )


def _note(note_id: str, *, custom_mark: str = "") -> str:
    if custom_mark:
        return (
            f'<w:r><w:footnoteReference w:customMarkFollows="1" w:id="{note_id}"/>'
            f"<w:t>{custom_mark}</w:t></w:r>"
        )
    return f'<w:r><w:footnoteReference w:id="{note_id}"/></w:r>'


def _box(text: str) -> str:
    return f"<w:txbxContent>{_p(_r(text))}</w:txbxContent>"


def _alternate(choice: str, fallback: str) -> str:
    return (
        '<w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx>'
        f"{choice}</wps:txbx></wps:wsp></w:drawing></mc:Choice><mc:Fallback><w:pict><v:shape>"
        f"<v:textbox>{fallback}</v:textbox></v:shape></w:pict></mc:Fallback>"
        "</mc:AlternateContent></w:r>"
    )


def test_a_text_box_stored_twice_is_read_once_after_its_paragraph(tmp_path: Path) -> None:
    body = _p(_r("Anchor."), _alternate(_box("In the box."), _box("In the box."))) + _p(
        _r("After.")
    )

    assert _pages(_word_file(tmp_path, body)) == ["Anchor.\n\nIn the box.\n\nAfter."]


def test_the_fallback_is_read_when_the_choice_holds_no_text(tmp_path: Path) -> None:
    body = _p(_alternate("", _box("Only in the fallback.")))

    assert _pages(_word_file(tmp_path, body)) == ["Only in the fallback."]


def test_a_note_cited_twice_is_read_once(tmp_path: Path) -> None:
    body = _p(_r("One"), _note("1"), _r(" and again"), _note("1"), _r("."))

    pages = _pages(_word_file(tmp_path, body, footnotes={"1": "The note."}))

    assert pages == ["One and again.\n\nNote 1: The note."]


def test_a_custom_note_mark_is_not_read(tmp_path: Path) -> None:
    body = _p(_r("Starred"), _note("1", custom_mark="*"), _r(" claim."))

    pages = _pages(_word_file(tmp_path, body, footnotes={"1": "* Where the star leads."}))

    assert pages == ["Starred claim.\n\nNote 1: Where the star leads."]


def test_notes_cited_in_a_list_come_after_the_list(tmp_path: Path) -> None:
    item = '<w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>'
    body = (
        _p(_r("first"), _note("1"), ppr=item)
        + _p(_r("second"), ppr=item)
        + _p(_r("After the list."))
    )

    pages = _pages(_word_file(tmp_path, body, footnotes={"1": "On the first item."}))

    assert pages == ["- first\n- second\n\nNote 1: On the first item.\n\nAfter the list."]


def test_a_note_that_does_not_exist_is_skipped(tmp_path: Path) -> None:
    body = _p(_r("Cites nothing"), _note("7"), _r("."))

    assert _pages(_word_file(tmp_path, body, footnotes={"1": "Unused."})) == ["Cites nothing."]


def test_hidden_text_through_styles_and_direct_formatting(tmp_path: Path) -> None:
    styles = (
        '<w:style w:type="character" w:styleId="Secret"><w:name w:val="Secret"/>'
        "<w:rPr><w:vanish/></w:rPr></w:style>"
        '<w:style w:type="character" w:styleId="AlsoSecret"><w:name w:val="Also"/>'
        '<w:basedOn w:val="Secret"/></w:style>'
        '<w:style w:type="paragraph" w:styleId="HiddenPara"><w:name w:val="Hidden Para"/>'
        "<w:rPr><w:vanish/></w:rPr></w:style>"
    )
    body = (
        _p(_r("Seen"), _r(" direct", "<w:vanish/>"), _r(" styled", '<w:rStyle w:val="Secret"/>'))
        + _p(_r("Based", '<w:rStyle w:val="AlsoSecret"/>'), _r("Shown"))
        + _p(
            _r("Whole paragraph hidden"),
            _r(" but this run says otherwise", '<w:vanish w:val="0"/>'),
            ppr='<w:pPr><w:pStyle w:val="HiddenPara"/></w:pPr>',
        )
    )

    pages = _pages(_word_file(tmp_path, body, styles=styles))

    assert pages == ["Seen\n\nShown\n\nbut this run says otherwise"]


def test_deleted_table_rows_and_moved_away_text_are_left_out(tmp_path: Path) -> None:
    def row(first: str, second: str, trpr: str = "") -> str:
        return f"<w:tr>{trpr}<w:tc>{_p(_r(first))}</w:tc><w:tc>{_p(_r(second))}</w:tc></w:tr>"

    body = (
        "<w:tbl>"
        + row("Name", "Value")
        + row("gone", "row", '<w:trPr><w:del w:id="1" w:author="A"/></w:trPr>')
        + row("kept", "row")
        + "</w:tbl>"
        + _p(
            _r("Stays"),
            f'<w:moveFrom w:id="2" w:author="A">{_r(" moved away")}</w:moveFrom>',
            f'<w:ins w:id="3" w:author="A">{_r(" inserted")}</w:ins>',
        )
    )

    pages = _pages(_word_file(tmp_path, body))

    assert pages == ["| Name | Value |\n| --- | --- |\n| kept | row |\n\nStays inserted"]


def test_text_boxes_nested_beyond_the_limit_are_left_out(tmp_path: Path) -> None:
    content = _box("level 12")
    for level in range(11, 0, -1):
        content = (
            f"<w:txbxContent>{_p(_r(f'level {level}'), _alternate(content, ''))}</w:txbxContent>"
        )
    body = _p(_r("Anchor."), _alternate(content, ""))

    pages = _pages(_word_file(tmp_path, body))

    assert pages[0].startswith("Anchor.\n\nlevel 1\n\nlevel 2")
    assert "level 12" not in pages[0]
