from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from document_processing.detection import HEAD_BYTES, detect_document_type, detect_file_type
from document_processing.tests.extractors.samples import (
    ELF_BYTES,
    Chapter,
    epub_members,
    png_bytes,
    write_docx,
    write_epub,
    write_zip,
)


def _file(tmp_path: Path, data: bytes, name: str = "upload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- PDF -------------------------------------------------------------------------------------------


def test_pdf_signature_at_start() -> None:
    assert detect_document_type(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj") == "pdf"


def test_pdf_signature_after_junk_within_1024_bytes() -> None:
    assert detect_document_type(b"\x00" * 500 + b"%PDF-1.4\n") == "pdf"


def test_pdf_signature_too_late_is_not_pdf() -> None:
    assert detect_document_type(b"\x00" * 2000 + b"%PDF-1.4\n") is None


# -- ZIP containers ------------------------------------------------------------------------------


def test_epub(tmp_path: Path) -> None:
    path = write_epub(tmp_path / "book.bin", [Chapter("c1.xhtml", "<p>Hi</p>")])

    assert detect_file_type(path) == "epub"
    assert detect_document_type(path.read_bytes()[:HEAD_BYTES], path=path) == "epub"


def test_epub_with_wrong_mimetype_is_not_epub(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "book.epub",
        [Chapter("c1.xhtml", "<p>Hi</p>")],
        overrides={"mimetype": "application/zip"},
    )

    assert detect_file_type(path) is None


def test_epub_without_container_is_not_epub(tmp_path: Path) -> None:
    members = epub_members([Chapter("c1.xhtml", "<p>Hi</p>")])
    del members["META-INF/container.xml"]

    assert detect_file_type(write_zip(tmp_path / "book.epub", members)) is None


def test_docx(tmp_path: Path) -> None:
    path = write_docx(tmp_path / "letter.bin", lambda d: d.add_paragraph("Hello"))

    assert detect_file_type(path) == "docx"


@pytest.mark.parametrize(
    "members",
    [
        {"readme.txt": "just an archive"},
        {"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"},  # XLSX
        {"[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p/>"},  # PPTX
        {"word/document.xml": "<document/>"},  # no content types: not a package
    ],
)
def test_other_zips_are_not_documents(tmp_path: Path, members: dict[str, str]) -> None:
    assert detect_file_type(write_zip(tmp_path / "named.docx", members)) is None


def test_whole_small_zip_can_be_passed_as_head(tmp_path: Path) -> None:
    data = write_epub(tmp_path / "b.epub", [Chapter("c1.xhtml", "<p>Hi</p>")]).read_bytes()

    assert detect_document_type(data) == "epub"


def test_zip_head_without_path_and_without_directory_is_none(tmp_path: Path) -> None:
    words = " ".join(f"word{i}" for i in range(5000))  # too varied to compress away
    chapters = [Chapter(f"c{i}.xhtml", f"<p>{words}</p>") for i in range(5)]
    data = write_epub(tmp_path / "b.epub", chapters).read_bytes()

    assert detect_document_type(data[:HEAD_BYTES]) is None


def test_truncated_zip_is_none(tmp_path: Path) -> None:
    data = write_docx(tmp_path / "a.docx", lambda d: d.add_paragraph("Hi")).read_bytes()

    assert detect_file_type(_file(tmp_path, data[: len(data) // 2])) is None


# -- other binary files -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        png_bytes(),
        ELF_BYTES,
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!",
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01",
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(100),
        b"MZ\x90\x00\x03\x00\x00\x00\x04\x00",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
        b"{\\rtf1\\ansi Hello}",
        b"%!PS-Adobe-3.0\n",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100),  # legacy .doc
    ],
)
def test_non_documents_are_none(tmp_path: Path, data: bytes) -> None:
    # Named as a document on purpose: only the content counts.
    assert detect_file_type(_file(tmp_path, data, "renamed.pdf")) is None


def test_empty_file_is_none(tmp_path: Path) -> None:
    assert detect_file_type(_file(tmp_path, b"")) is None
    assert detect_document_type(b"") is None
    assert detect_document_type(codecs.BOM_UTF8) is None


# -- text: HTML, Markdown, plain ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"<!DOCTYPE html><html><head><title>x</title></head><body>Hi</body></html>",
        b"<!doctype HTML>\n<p>lower-case doctype</p>",
        b"  \n<html lang='en'><body>no doctype</body></html>",
        b"<!-- generated -->\n<html><body>x</body></html>",
        codecs.BOM_UTF8 + b"<html><body>with bom</body></html>",
        b'<?xml version="1.0" encoding="utf-8"?>\n<html xmlns="http://www.w3.org/1999/xhtml">'
        b"<body/></html>",
        b"<head><meta charset='utf-8'></head><body>fragment</body>",
        b"<div class='post'><p>Just a fragment of HTML.</p></div>",
    ],
)
def test_html(data: bytes) -> None:
    assert detect_document_type(data) == "html"


@pytest.mark.parametrize(
    "text",
    [
        "# Title\n\nSome text.",
        "Intro\n\n## Section\n",
        "See [the docs](https://example.com) for more.",
        "Shopping:\n\n- eggs\n- **fresh** milk\n",
        "```python\nprint(1)\n```\n",
        "Title\n=====\n\nBody text.",
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        '<p align="center"><img src="logo.png"></p>\n\n# Project\n\nA README.',
        "The tag <b> appears in prose, and # is not at a line start.\n\n- one\n- two\n",
    ],
)
def test_markdown(text: str) -> None:
    assert detect_document_type(text.encode()) == "markdown"


@pytest.mark.parametrize(
    "text",
    [
        "Just some plain prose.\n\nAnother paragraph, with a * star.",
        "MZ is how this sentence starts, like a Windows executable.",
        "BM: initials at the start of a letter.",
        "Line one\r\nLine two\r\n",
        "Tabs\tand form feeds\x0care fine in text.",
        "naïve café \u2013 \u201cquotes\u201d \u2014 日本語",
        "<3 is a heart, not a tag",
    ],
)
def test_plain_text(text: str) -> None:
    assert detect_document_type(text.encode()) == "text"


def test_utf16_with_bom_is_text() -> None:
    assert detect_document_type("Plain words in UTF-16.".encode("utf-16")) == "text"
    assert detect_document_type(codecs.BOM_UTF16_BE + "Big end.".encode("utf-16-be")) == "text"


def test_utf16_without_bom_is_not_text() -> None:
    assert detect_document_type("No BOM here.".encode("utf-16-le")) is None


def test_head_cut_inside_a_multibyte_character_is_still_text() -> None:
    data = ("a" + "é" * HEAD_BYTES).encode()[:HEAD_BYTES]

    assert data.endswith(b"\xc3")
    assert detect_document_type(data) == "text"


def test_whole_file_ending_inside_a_character_is_still_text() -> None:
    assert detect_document_type("naïve café".encode()[:-1]) == "text"


# Legacy encodings, declared or not: the kind is told from the text they decode to.
_KOREAN = "모든 인간은 태어날 때부터 자유로우며 그 존엄과 권리에 있어 동등하다."
_JAPANESE = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。"
_CHINESE = "人人生而自由，在尊严和权利上一律平等。"  # noqa: RUF001


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ("Latin-1 café, crème brûlée".encode("latin-1"), "text"),
        ("Naïve “quotes” \u2013 Windows-1252".encode("cp1252"), "text"),
        ("Съешь же ещё этих мягких французских булок.".encode("cp1251"), "text"),
        (_KOREAN.encode("euc_kr"), "text"),
        (f"# 标题\n\n{_CHINESE}\n\n- 一\n- 二\n".encode("gb2312"), "markdown"),
        (
            f'<html><head><meta charset="Shift_JIS"></head><body><p>{_JAPANESE}</p>'.encode(
                "shift_jis"
            ),
            "html",
        ),
        (
            f'<?xml version="1.0" encoding="EUC-KR"?><html><body>{_KOREAN}</body></html>'.encode(
                "euc_kr"
            ),
            "html",
        ),
    ],
)
def test_legacy_encodings(data: bytes, kind: str) -> None:
    assert detect_document_type(data) == kind


def test_head_cut_inside_a_legacy_multibyte_character_is_still_text() -> None:
    data = ((_JAPANESE + "\n") * 400).encode("shift_jis")[: HEAD_BYTES + 1][:HEAD_BYTES]

    assert len(data) == HEAD_BYTES
    assert detect_document_type(data) == "text"


@pytest.mark.parametrize(
    "data",
    [
        b"text with a NUL\x00 byte",
        b"\x01\x02\x03\x04 binary-ish control bytes \x05\x06",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>',
    ],
)
def test_not_readable_text_is_none(data: bytes) -> None:
    assert detect_document_type(data) is None


def test_name_is_never_consulted(tmp_path: Path) -> None:
    assert detect_file_type(_file(tmp_path, b"# Heading\n", "photo.png")) == "markdown"
    assert detect_file_type(_file(tmp_path, png_bytes(), "notes.md")) is None
