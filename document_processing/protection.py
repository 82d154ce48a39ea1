"""Files locked against reading: protected by a password, or by DRM.

Asked of every upload before it is stored, so that a locked file is refused at once with a
sentence that names the lock (400), never taken for a type we do not read (415) and never left
to fail later. What each format calls a lock:

* PDF: a user password (or a security handler we cannot open). Only a file that has an
  `/Encrypt` entry at all is opened, by pdfium in an isolated child (`isolation.run_isolated`,
  as for extraction), since the many PDFs restricted by an owner password alone open and read
  normally.
* Office documents: a password-protected .docx is not a ZIP package but an OLE compound file
  holding `EncryptionInfo` and `EncryptedPackage` streams (MS-OFFCRYPTO); with a
  `DRMEncryptedDataSpace` it is protected by rights management (DRM) instead.
* EPUB: DRM by Adobe (`META-INF/rights.xml`), Apple (`META-INF/sinf.xml`) or Readium LCP
  (`META-INF/license.lcpl`), or content documents encrypted by other means. Fonts obfuscated
  as the EPUB specification describes (listed in `META-INF/encryption.xml`) lock nothing.
* A ZIP container (EPUB, DOCX) whose members are encrypted with a password.

Nothing here imports Django: the checks run wherever a file is judged.
"""

from __future__ import annotations

import mmap
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from document_processing.extractors.archive import read_bounded
from document_processing.extractors.base import (
    ExtractionError,
    ExtractionLimits,
    ExtractionResult,
)

__all__ = ["Lock", "find_lock"]

MSG_OFFICE_LOCKED = (
    "This Office document is protected by a password. Remove the password in the program that "
    "made it, save it again and upload the copy."
)
MSG_OFFICE_DRM = (
    "This Office document is protected by rights management (DRM) and cannot be read. Upload "
    "a copy without the protection."
)
MSG_EPUB_DRM = (
    "This EPUB is protected by DRM ({scheme}) and cannot be read; upload a DRM-free copy."
)
MSG_EPUB_ENCRYPTED = (
    "The chapters of this EPUB are encrypted (DRM) and cannot be read; upload a DRM-free copy."
)
MSG_ZIP_LOCKED = "This file is protected by a password. Remove the password and upload it again."

# An OLE compound file (CFB), the container of encrypted Office documents and legacy .doc.
_CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_DIRECTORY_ENTRY = 128
_CFB_HEADER = 512
# Font obfuscation: the IDPF's algorithm and Adobe's older one. Anything else encrypts.
_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_EPUB_DRM_FILES = {
    "META-INF/rights.xml": "Adobe",
    "META-INF/sinf.xml": "Apple FairPlay",
    "META-INF/license.lcpl": "Readium LCP",
}
_OFFICE_STREAMS = frozenset(
    {"EncryptedPackage", "EncryptionInfo", "DRMEncryptedDataSpace", "DRMEncryptedTransform"}
)
_ENCRYPTION = "META-INF/encryption.xml"
_MAX_ENCRYPTION_XML = 4 * 1024 * 1024
_ENCRYPT_KEY = re.compile(rb"/Encrypt\b")
# How long the isolated look at a PDF's encryption may take: opening is quick, or the file
# is left for the extraction (under its full limits) to judge.
_PDF_PROBE_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class Lock:
    message: str  # a sentence for the person who uploaded the file
    code: str  # "password" or "drm"


def find_lock(path: Path, *, kind: str | None, limits: ExtractionLimits) -> Lock | None:
    """The lock on the file at `path`, of the document type detected for it (None for a file
    whose type was not recognised), or None when it is not locked or cannot be judged."""
    if kind == "pdf":
        return _pdf_lock(path, limits)
    if kind in ("epub", "docx"):
        return _zip_lock(path, kind)
    if kind is None:
        return _office_lock(path)
    return None


# --- PDF ---------------------------------------------------------------------------------------


def _pdf_lock(path: Path, limits: ExtractionLimits) -> Lock | None:
    if not _mentions_encryption(path):
        return None
    from document_processing.extractors.isolation import run_isolated

    probe_limits = ExtractionLimits(
        memory_limit_bytes=limits.memory_limit_bytes,
        timeout_seconds=min(limits.timeout_seconds, _PDF_PROBE_SECONDS),
    )
    try:
        run_isolated(PdfPasswordProbe(), path, limits=probe_limits)
    except ExtractionError as error:
        if error.code == "encrypted":
            return Lock(error.user_message, "password")
    except OSError:  # no process to spare now: the extraction will find the lock
        return None
    return None  # opens, or fails otherwise: the extraction says what is wrong with it


def _mentions_encryption(path: Path) -> bool:
    """Whether the PDF has an /Encrypt entry anywhere (trailer or cross-reference stream)."""
    try:
        with (
            path.open("rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            return _ENCRYPT_KEY.search(data) is not None
    except (OSError, ValueError):  # empty or unreadable: not ours to judge
        return False


class PdfPasswordProbe:
    """An extractor that only opens a PDF: ExtractionError "encrypted" if it needs a password
    (pdfminer.six asks for one, or pdfium does and pdfminer cannot open it either), else an
    empty result."""

    name: ClassVar[str] = "pdf-password"

    def extract(self, path: Path, *, limits: ExtractionLimits) -> ExtractionResult:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        from document_processing.extractors.pdf import MSG_ENCRYPTED

        try:
            pdfium.PdfDocument(path).close()
        except pdfium.PdfiumError as error:
            asks_password = getattr(error, "err_code", None) in (
                pdfium_c.FPDF_ERR_PASSWORD,
                pdfium_c.FPDF_ERR_SECURITY,
            )
            verdict = _pdfminer_verdict(path)
            if verdict == "password" or (asks_password and verdict == "fails"):
                raise ExtractionError(MSG_ENCRYPTED, code="encrypted") from error
        return ExtractionResult(pages=[])


def _pdfminer_verdict(path: Path) -> str:
    """A second opinion, as the extraction asks for one: "password" if pdfminer.six needs one,
    "opens" if it opens the file without (some encryption pdfium does not support, or an error
    of pdfium's that is stale), else "fails"."""
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFParser

    try:
        with path.open("rb") as handle:
            PDFDocument(PDFParser(handle))
    except PDFPasswordIncorrect:
        return "password"
    except MemoryError:
        raise
    except Exception:  # damaged, or encrypted in a way pdfminer does not support either
        return "fails"
    return "opens"


# --- ZIP containers: EPUB, DOCX ------------------------------------------------------------------


def _zip_lock(path: Path, kind: str) -> Lock | None:
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            if any(info.flag_bits & 0x1 for info in infos):
                return Lock(MSG_ZIP_LOCKED, "password")
            if kind == "epub":
                return _epub_lock(archive)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, ExtractionError):
        return None  # damaged: the extraction says so
    return None


def _epub_lock(archive: zipfile.ZipFile) -> Lock | None:
    names = {info.filename: info for info in archive.infolist()}
    for name, scheme in _EPUB_DRM_FILES.items():
        if name in names:
            return Lock(MSG_EPUB_DRM.format(scheme=scheme), "drm")
    info = names.get(_ENCRYPTION)
    if info is None:
        return None
    data = read_bounded(archive, info, limit=_MAX_ENCRYPTION_XML, kind="EPUB")
    if any(algorithm not in _OBFUSCATION for algorithm in _encryption_algorithms(data)):
        return Lock(MSG_EPUB_ENCRYPTED, "drm")
    return None


def _encryption_algorithms(data: bytes) -> Iterator[str]:
    """The algorithm of each EncryptedData entry of an EPUB's encryption.xml."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException):
        return
    for element in root.iter():
        if _local_name(element.tag) != "EncryptedData":
            continue
        methods = [
            child for child in element.iter() if _local_name(child.tag) == "EncryptionMethod"
        ]
        yield methods[0].get("Algorithm", "") if methods else ""


def _local_name(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


# --- Office documents in an OLE compound file ----------------------------------------------------


def _office_lock(path: Path) -> Lock | None:
    """For an OLE compound file: the lock of the encrypted Office document it holds, if it is
    one (a legacy .doc is not)."""
    try:
        with path.open("rb") as handle:
            if handle.read(len(_CFB_SIGNATURE)) != _CFB_SIGNATURE:
                return None
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                streams = set(_stream_names(data, _OFFICE_STREAMS))
    except (OSError, ValueError):
        return None
    if "EncryptedPackage" not in streams:
        return None
    if streams & {"DRMEncryptedDataSpace", "DRMEncryptedTransform"}:
        return Lock(MSG_OFFICE_DRM, "drm")
    return Lock(MSG_OFFICE_LOCKED, "password")


def _stream_names(data: mmap.mmap, wanted: frozenset[str]) -> Iterator[str]:
    """Which of the `wanted` names a directory entry of the compound file carries.

    Directory entries are 128-byte records at 128-byte boundaries after the 512-byte header,
    each starting with its name in UTF-16LE and giving the name's length (with its terminating
    NUL) at offset 64; searching for the names and checking that shape avoids walking the
    file's allocation tables, and text that merely contains such a word does not match.
    """
    for name in wanted:
        encoded = name.encode("utf-16-le") + b"\x00\x00"
        length = len(encoded).to_bytes(2, "little")
        start = _CFB_HEADER
        while (found := data.find(encoded, start)) >= 0:
            start = found + 1
            if found % _DIRECTORY_ENTRY == 0 and data[found + 64 : found + 66] == length:
                yield name
                break
