"""Locked files: a password or DRM, found before anything is stored."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from reportlab.lib.pdfencrypt import StandardEncryption

from document_processing import protection
from document_processing.detection import detect_file_type
from document_processing.extractors import pdf as pdf_module
from document_processing.extractors.base import ExtractionLimits
from document_processing.protection import Lock, find_lock
from document_processing.tests.extractors import pdf_samples
from document_processing.tests.extractors.samples import Chapter, write_epub

# Files from public projects' test suites; sources and licences in tests/corpus/README.md.
CORPUS = Path(__file__).resolve().parent / "corpus"
LIMITS = ExtractionLimits()


def _lock(path: Path) -> Lock | None:
    return find_lock(path, kind=detect_file_type(path), limits=LIMITS)


def _written(tmp_path: Path, data: bytes, name: str = "upload.bin") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- Office documents ------------------------------------------------------------------------------


def test_a_password_protected_word_document_names_the_password() -> None:
    # Apache POI's file for bug 53475 (password "pass"): an OLE compound file, not a ZIP.
    path = CORPUS / "docx" / "poi-bug53475-password-is-pass.docx"

    assert detect_file_type(path) is None
    assert _lock(path) == Lock(protection.MSG_OFFICE_LOCKED, "password")
    assert "password" in protection.MSG_OFFICE_LOCKED


def _compound_file(*names: str, misaligned: str = "") -> bytes:
    """An OLE compound file's header and one directory sector naming `names`; `misaligned`
    appears in it too, but not where a directory entry starts."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    entries = b""
    for name in ("Root Entry", *names):
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        entries += encoded.ljust(64, b"\x00") + struct.pack("<HB", len(encoded), 2).ljust(64, b"\0")
    noise = b"xx" + misaligned.encode("utf-16-le") + b"\x00\x00"
    return header + entries + noise.ljust(512, b"\x00")


def test_rights_management_on_an_office_document_is_named_as_drm(tmp_path: Path) -> None:
    data = _compound_file("EncryptedPackage", "DRMEncryptedDataSpace")

    assert _lock(_written(tmp_path, data)) == Lock(protection.MSG_OFFICE_DRM, "drm")


@pytest.mark.parametrize(
    "data",
    [
        _compound_file("WordDocument", "1Table"),  # a legacy .doc: not ours, not locked
        _compound_file("WordDocument", misaligned="EncryptedPackage"),
    ],
)
def test_other_compound_files_are_not_locked(tmp_path: Path, data: bytes) -> None:
    assert _lock(_written(tmp_path, data)) is None


def test_a_docx_with_password_encrypted_zip_members_is_locked(tmp_path: Path) -> None:
    path = _with_encrypted_members(_plain_docx(tmp_path))

    assert detect_file_type(path) == "docx"
    assert _lock(path) == Lock(protection.MSG_ZIP_LOCKED, "password")


def _plain_docx(tmp_path: Path) -> Path:
    from document_processing.tests.extractors.samples import write_docx

    return write_docx(tmp_path / "plain.docx", lambda d: d.add_paragraph("Open."))


def _with_encrypted_members(path: Path) -> Path:
    """The ZIP at `path` with every member flagged as encrypted (traditional PKWARE)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (found := data.find(signature, start)) >= 0:
            flags = struct.unpack_from("<H", data, found + offset)[0]
            struct.pack_into("<H", data, found + offset, flags | 1)
            start = found + 4
    path.write_bytes(bytes(data))
    return path


# -- EPUB ----------------------------------------------------------------------------------------

_CHAPTERS = [Chapter("one.xhtml", "<p>The keeper climbed the stairs.</p>")]


def _encryption_xml(*entries: tuple[str, str]) -> str:
    data = "".join(
        '<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
        f'<EncryptionMethod Algorithm="{algorithm}"/>'
        f'<CipherData><CipherReference URI="{uri}"/></CipherData></EncryptedData>'
        for algorithm, uri in entries
    )
    return (
        f'<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">{data}</encryption>'
    )


@pytest.mark.parametrize(
    ("member", "scheme"),
    [
        ("META-INF/rights.xml", "Adobe"),
        ("META-INF/sinf.xml", "Apple FairPlay"),
        ("META-INF/license.lcpl", "Readium LCP"),
    ],
)
def test_epub_drm_is_named(tmp_path: Path, member: str, scheme: str) -> None:
    path = write_epub(tmp_path / "book.epub", _CHAPTERS, overrides={member: "<rights/>"})

    lock = _lock(path)

    assert lock == Lock(protection.MSG_EPUB_DRM.format(scheme=scheme), "drm")
    assert "DRM" in lock.message


def test_encrypted_chapters_are_drm(tmp_path: Path) -> None:
    encryption = _encryption_xml(("http://www.w3.org/2001/04/xmlenc#aes128-cbc", "OEBPS/one.xhtml"))
    path = write_epub(
        tmp_path / "b.epub", _CHAPTERS, overrides={"META-INF/encryption.xml": encryption}
    )

    assert _lock(path) == Lock(protection.MSG_EPUB_ENCRYPTED, "drm")


def test_obfuscated_fonts_lock_nothing(tmp_path: Path) -> None:
    # As the EPUB 3 samples' "wasteland-otf-obf" does: fonts obfuscated, text in the clear.
    encryption = _encryption_xml(
        ("http://www.idpf.org/2008/embedding", "OEBPS/fonts/Regular.obf.otf"),
        ("http://ns.adobe.com/pdf/enc#RC", "OEBPS/fonts/Italic.otf"),
    )
    path = write_epub(
        tmp_path / "b.epub", _CHAPTERS, overrides={"META-INF/encryption.xml": encryption}
    )

    assert _lock(path) is None


def test_an_epub_with_password_encrypted_members_is_locked(tmp_path: Path) -> None:
    path = _with_encrypted_members(write_epub(tmp_path / "b.epub", _CHAPTERS))

    assert detect_file_type(path) == "epub"
    assert _lock(path) == Lock(protection.MSG_ZIP_LOCKED, "password")


def test_an_encryption_file_that_is_not_xml_locks_nothing(tmp_path: Path) -> None:
    path = write_epub(
        tmp_path / "b.epub", _CHAPTERS, overrides={"META-INF/encryption.xml": "<not xml"}
    )

    assert _lock(path) is None


# -- PDF -----------------------------------------------------------------------------------------


def test_a_password_protected_pdf_names_the_password(tmp_path: Path) -> None:
    # pdf.js's issue 6010 (user password "abc").
    path = CORPUS / "pdf" / "pdfjs-issue6010_1-password-abc.pdf"

    assert _lock(path) == Lock(pdf_module.MSG_ENCRYPTED, "password")
    assert pdf_module.MSG_ENCRYPTED.startswith("This PDF is protected by a password")


def test_a_password_only_pdfminer_asks_for_is_found(tmp_path: Path) -> None:
    # pdf.js's issue 19484: pdfium fails to open it without saying why.
    assert _lock(CORPUS / "pdf" / "pdfjs-issue19484_1.pdf") == Lock(
        pdf_module.MSG_ENCRYPTED, "password"
    )


def test_a_made_password_protected_pdf_is_locked(tmp_path: Path) -> None:
    data = pdf_samples.pdf_bytes([["Secret text."]], encrypt="secret")

    assert _lock(_written(tmp_path, data)) == Lock(pdf_module.MSG_ENCRYPTED, "password")


@pytest.mark.parametrize(
    "data",
    [
        pdf_samples.pdf_bytes([["Plain text."]]),
        # An owner password only restricts printing or copying: the text opens.
        pdf_samples.pdf_bytes(
            [["Readable."]], encrypt=StandardEncryption("", ownerPassword="owner", canCopy=0)
        ),
        b"%PDF-1.7\n/Encrypt but nothing else",  # damaged: the extraction says so
    ],
)
def test_pdfs_that_open_are_not_locked(tmp_path: Path, data: bytes) -> None:
    assert _lock(_written(tmp_path, data)) is None


def test_a_pdf_without_an_encrypt_entry_is_not_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError("a PDF without /Encrypt was opened")

    monkeypatch.setattr("document_processing.extractors.isolation.run_isolated", no_child)

    assert _lock(_written(tmp_path, pdf_samples.pdf_bytes([["Plain."]]))) is None


def test_text_files_are_never_locked(tmp_path: Path) -> None:
    path = _written(tmp_path, b"# Notes\n\nEncryptedPackage /Encrypt rights.xml\n")

    assert _lock(path) is None
