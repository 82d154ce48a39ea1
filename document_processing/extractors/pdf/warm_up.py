"""A page of our own that a fork server's spare child reads before it is given a file.

A child forked for a document pays, on its first page, for what the parent never did: memory
mapped afresh for pdfium's page and text objects, the bitmap and the JPEG of the cover, the
rasteriser and font caches filled. A spare reads this page first, while it waits, so that the
document it is given is read at the speed of a second one. The page is built here from plain
PDF syntax (a standard font, no embedded data): what it exercises is the extractor's own path,
the cover included, not any parser of fonts or images a document may bring. It is read from
memory: nothing is written to disk, so nothing is left behind when a spare is killed.
"""

from __future__ import annotations

from collections.abc import Sequence

_LINES = 46
_WORDS = [
    "reading", "listening", "page", "voice", "sentence", "paragraph", "chapter", "evening",
    "morning", "window", "garden", "river", "table", "column", "figure", "author", "language",
    "speech", "audio", "reader", "story",
]  # fmt: skip


def _sample_pdf() -> bytes:
    """One A4 page: a heading and a page of body text in Helvetica, with a title."""
    text = [b"BT /F2 16 Tf 72 780 Td (A Page Read Before Any Other) Tj ET", b"BT /F1 10 Tf"]
    text.append(b"72 750 Td 12.5 TL")
    for line in range(_LINES):
        words = " ".join(_WORDS[(line * 7 + word) % len(_WORDS)] for word in range(12))
        text.append(b"(%s.) Tj T*" % words.capitalize().encode("ascii"))
    text.append(b"ET")
    content = b"\n".join(text)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R /F2 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold >>",
        b"<< /Title (A page read before any other) /Author (Pagecast) >>",
    ]
    return pdf_of(objects, info=len(objects))


def pdf_of(objects: Sequence[bytes], *, info: int | None = None) -> bytes:
    """A PDF from raw object bodies (numbered from 1; object 1 is the catalog, object `info` the
    document information), with a valid cross-reference table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    info_entry = b"" if info is None else b" /Info %d 0 R" % info
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        info_entry,
        xref,
    )
    return bytes(out)


SAMPLE = _sample_pdf()
