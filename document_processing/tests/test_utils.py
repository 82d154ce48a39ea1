from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from document_processing.utils import MAX_FILENAME_CHARS, sanitize_filename


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("/absolute/path/book.epub", "book.epub"),
        ("C:\\Users\\me\\notes.txt", "notes.txt"),
        ("in\x00valid.pdf", "invalid.pdf"),
        ("\u202egnp.exe", "gnp.exe"),
        ("zero\u200bwidth.md", "zerowidth.md"),
        ("\ufeffbom.txt", "bom.txt"),
        ("résumé final.docx", "résumé final.docx"),
        ("東京の本.epub", "東京の本.epub"),
        ("🎉 party.pdf", "party.pdf"),
        ("a:b*c?.txt", "a_b_c_.txt"),
        ("a..b.pdf", "a.b.pdf"),
        ("...", "document"),
        ("..", "document"),
        ("", "document"),
        (".pdf", "document.pdf"),
        ("  .hidden.txt", "hidden.txt"),
        ("name.pdf.", "name.pdf"),
        ("ｆｕｌｌｗｉｄｔｈ．ｐｄｆ", "fullwidth.pdf"),  # noqa: RUF001 NFKC folds these
        ("a／b.pdf", "b.pdf"),  # noqa: RUF001 fullwidth solidus is a separator after NFKC
        ("CON.txt", "_CON.txt"),
        ("lpt1.tar.gz", "_lpt1.tar.gz"),
        ("Chapter (1).docx", "Chapter (1).docx"),
    ],
)
def test_sanitize_filename(name: str, expected: str) -> None:
    assert sanitize_filename(name) == expected


def test_header_injection_characters_are_removed() -> None:
    result = sanitize_filename('x.pdf"\r\nSet-Cookie: a=b\r\n.pdf')

    assert "\r" not in result
    assert "\n" not in result
    assert '"' not in result
    assert result.endswith(".pdf")


def test_long_names_keep_their_extension() -> None:
    result = sanitize_filename("a" * 1000 + ".epub")

    assert len(result) <= MAX_FILENAME_CHARS
    assert result.endswith(".epub")
    assert result.startswith("aaa")


def test_long_multibyte_names_fit_in_255_bytes() -> None:
    result = sanitize_filename("東" * 300 + ".pdf")

    assert len(result.encode()) <= 255
    assert result.endswith(".pdf")


def test_fallback_is_used_for_empty_stems() -> None:
    assert sanitize_filename("///", fallback="upload") == "upload"
    assert sanitize_filename("🎉.txt", fallback="upload") == "upload.txt"


def _is_safe_char(char: str) -> bool:
    category = unicodedata.category(char)
    return char in " -_.()" or category[0] in "LN" or category in ("Mn", "Mc")


@given(st.text(max_size=400))
def test_properties_hold_for_any_name(name: str) -> None:
    result = sanitize_filename(name)

    assert result
    assert len(result) <= MAX_FILENAME_CHARS
    assert len(result.encode()) <= 255
    assert not set(result) & {"/", "\\", "\x00"}
    assert all(_is_safe_char(char) for char in result)
    assert not any(unicodedata.category(char) in ("Cc", "Cf") for char in result)
    assert ".." not in result
    assert not result.startswith((".", " "))
    assert sanitize_filename(result) == result


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=300))
def test_idempotent_on_ascii(name: str) -> None:
    once = sanitize_filename(name)

    assert sanitize_filename(once) == once
