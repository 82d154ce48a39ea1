"""PDFs built in code for the extractor tests: nothing binary is committed.

Text is drawn with reportlab's own Bitstream Vera font, so the samples do not depend on the fonts
of the machine and can hold ligatures and soft hyphens.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import reportlab
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from document_processing.extractors.pdf.warm_up import pdf_of

FONT = "Vera"
BOLD = "VeraBd"
_FONT_DIR = Path(reportlab.__file__).parent / "fonts"
pdfmetrics.registerFont(TTFont(FONT, str(_FONT_DIR / "Vera.ttf")))
pdfmetrics.registerFont(TTFont(BOLD, str(_FONT_DIR / "VeraBd.ttf")))

WIDTH, HEIGHT = A4
MARGIN = 72.0
RUNNING_HEADER = "Annual Report of the Example Company"

_WORDS = [
    *("audio", "book", "chapter", "column", "document", "extraction", "figure", "language"),
    *("listen", "model", "page", "paragraph", "reader", "sentence", "speech", "table", "text"),
    *("voice", "window", "author", "river", "garden", "morning", "evening"),
]


def sentence_words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(count)).capitalize() + "."


def paragraph_text(rng: random.Random, sentences: int = 5) -> str:
    return " ".join(sentence_words(rng, rng.randint(6, 14)) for _ in range(sentences))


def wrap(text: str, width: float, font: str = FONT, size: float = 11) -> list[str]:
    """Greedy word wrap, as a word processor does for ragged-right text."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}".strip()
        if current and pdfmetrics.stringWidth(candidate, font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def pdf_bytes(
    pages: Sequence[Sequence[str]],
    *,
    title: str = "",
    author: str = "",
    header: str = "",
    footer: str = "",
    heading: str = "",
    size: float = 11,
    leading: float = 14,
    paragraph_gap: float = 10,
    encrypt: str | StandardEncryption | None = None,
) -> bytes:
    """One page per item; each paragraph string is wrapped, "" adds a blank line.

    `header`, `footer` and `heading` (large, above the text) are drawn on every page; "{page}"
    and "{pages}" are filled in. `encrypt`: a user password, or reportlab's encryption settings.
    """
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt)
    if title:
        pdf.setTitle(title)
    if author:
        pdf.setAuthor(author)
    for number, paragraphs in enumerate(pages, start=1):
        if header:
            pdf.setFont(FONT, 9)
            pdf.drawString(MARGIN, HEIGHT - 40, header.format(page=number, pages=len(pages)))
        y = HEIGHT - 90
        if heading:
            pdf.setFont(BOLD, 18)
            pdf.drawString(MARGIN, y, heading.format(page=number, pages=len(pages)))
            y -= 36
        pdf.setFont(FONT, size)
        for paragraph in paragraphs:
            for line in wrap(paragraph, WIDTH - 2 * MARGIN, size=size) or [""]:
                pdf.drawString(MARGIN, y, line)
                y -= leading
            y -= paragraph_gap
        if footer:
            pdf.setFont(FONT, 9)
            text = footer.format(page=number, pages=len(pages))
            pdf.drawCentredString(WIDTH / 2, 40, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def lines_pdf(pages: Sequence[Sequence[str]], *, size: float = 11, leading: float = 14) -> bytes:
    """Lines drawn exactly as given, one per row, for tests that control every line break."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for lines in pages:
        text = pdf.beginText(MARGIN, HEIGHT - 90)
        text.setFont(FONT, size, leading=leading)
        for line in lines:
            text.textLine(line)
        pdf.drawText(text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def report_pages(page_count: int, *, seed: int = 7) -> list[list[str]]:
    """Four paragraphs a page, the same for the same seed."""
    rng = random.Random(seed)
    return [[paragraph_text(rng) for _ in range(4)] for _ in range(page_count)]


def report_pdf(page_count: int, *, seed: int = 7) -> bytes:
    """A report with a running header and a "Page N of M" footer on every page."""
    return pdf_bytes(
        report_pages(page_count, seed=seed),
        title="Example Report",
        author="Ada Lovelace",
        header=RUNNING_HEADER,
        footer="Page {page} of {pages}",
    )


def benchmark_pdf(page_count: int = 200, *, seed: int = 1) -> bytes:
    """Full pages of body text (about 45 lines each) with a header and footer."""
    rng = random.Random(seed)
    pages = []
    for _ in range(page_count):
        paragraphs, lines = [], 0
        while lines < 42:
            text = paragraph_text(rng, rng.randint(3, 7))
            paragraphs.append(text)
            lines += len(wrap(text, WIDTH - 2 * MARGIN)) + 1
        pages.append(paragraphs)
    return pdf_bytes(
        pages,
        header=RUNNING_HEADER,
        footer="Page {page} of {pages}",
        size=10,
        leading=12.5,
        paragraph_gap=6,
    )


def two_column_pdf(
    rows: int = 30, *, row_by_row: bool = True
) -> tuple[bytes, list[str], list[str]]:
    """A title across the page over two columns, drawn row by row (left then right on each row)
    or column by column.

    pdfium follows the drawing order, so row by row it interleaves the columns; the extractor
    must not.
    """
    left = [f"Left column sentence {i} tells the first story." for i in range(rows)]
    right = [f"Right column sentence {i} tells another one." for i in range(rows)]
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont(BOLD, 16)
    pdf.drawString(MARGIN, HEIGHT - 70, "Two Columns Under One Title")
    pdf.setFont(FONT, 10)
    gutter_x = WIDTH / 2 + 12
    rows_y = [HEIGHT - 110 - 13 * row for row in range(rows)]
    if row_by_row:
        for y, left_line, right_line in zip(rows_y, left, right, strict=True):
            pdf.drawString(MARGIN, y, left_line)
            pdf.drawString(gutter_x, y, right_line)
    else:
        for x, column in ((MARGIN, left), (gutter_x, right)):
            for y, line in zip(rows_y, column, strict=True):
                pdf.drawString(x, y, line)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue(), left, right


def scanned_pdf(text: str = "HELLO SCANNED WORLD", *, pages: int = 1) -> bytes:
    """Pages that are one picture of text each, with no text layer (like a scanner's output)."""
    image = Image.new("L", (1700, 400), color=255)
    draw = ImageDraw.Draw(image)
    try:
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont = ImageFont.truetype(
            str(_FONT_DIR / "VeraBd.ttf"), 110
        )
    except OSError:  # Pillow without FreeType
        font = ImageFont.load_default()
    draw.text((60, 120), text, fill=0, font=font)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for _ in range(pages):
        # 1700 px over 408 pt is 300 dpi, what tesseract likes.
        pdf.drawImage(ImageReader(image), MARGIN, HEIGHT - 300, width=408, height=96)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def blank_pdf(pages: int = 1) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for _ in range(pages):
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def handmade_pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF from raw object bodies (numbered from 1; object 1 is the catalog), with a valid
    cross-reference table."""
    return pdf_of(objects)


def claimed_pages_pdf(claimed: int) -> bytes:
    """One real page under a page tree whose /Count claims `claimed` pages."""
    return handmade_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % claimed,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        ]
    )


def deflated_zeros(mebibytes: int) -> bytes:
    """A zlib stream that inflates to `mebibytes` MiB of zero bytes, built in a few milliseconds.

    After a full flush deflate starts afresh, so each further MiB of zeros compresses to the
    same bytes: they are repeated instead of compressed again. Adler-32 of n zeros is
    ((n mod 65521) << 16) | 1.
    """
    compressor = zlib.compressobj(9)
    zeros = bytes(1 << 20)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    unit = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    adler = (((mebibytes << 20) % 65521) << 16) | 1
    final_empty_block = b"\x03\x00"
    return first + unit * (mebibytes - 1) + final_empty_block + adler.to_bytes(4, "big")


def flate_bomb_pdf(inflated_mebibytes: int = 2048) -> bytes:
    """A page whose content stream is a few kilobytes on disk and gigabytes once inflated:
    deflate twice over, as a hostile upload would."""
    stream = zlib.compress(deflated_zeros(inflated_mebibytes), 9)
    return handmade_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << >> >>",
            b"<< /Length %d /Filter [/FlateDecode /FlateDecode] >>\nstream\n" % len(stream)
            + stream
            + b"\nendstream",
        ]
    )


def write(tmp_path: Path, data: bytes, name: str = "sample.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- cover images ----------------------------------------------------------------------------------


def _picture_bytes(image_format: str, size: tuple[int, int] = (64, 64), **options: object) -> bytes:
    """A two-colour picture (a single-colour one is no cover) as `image_format`."""
    image = Image.new("RGB", size, (200, 30, 30))
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2, size[1] // 2), fill=(20, 40, 220))
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def photo_pdf(size: tuple[int, int] = (400, 600)) -> bytes:
    """A title over a JPEG picture, stored as the JPEG itself (DCTDecode), then a page of text."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setFont(BOLD, 24)
    pdf.drawString(MARGIN, HEIGHT - 90, "A Book With A Picture")
    jpeg = ImageReader(io.BytesIO(_picture_bytes("JPEG", size, quality=90)))
    pdf.drawImage(jpeg, MARGIN, 150, width=size[0] * 0.8, height=size[1] * 0.8)
    pdf.showPage()
    pdf.setFont(FONT, 11)
    pdf.drawString(MARGIN, HEIGHT - 90, "The text of the book begins here.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def image_page_pdf(image: bytes, *, image_filter: str, width: int, height: int) -> bytes:
    """A line of text ("Hello cover world") over an image whose dictionary declares `width` x
    `height` pixels and `image_filter`, with `image` as its data whatever that declares."""
    content = b"BT /F1 24 Tf 72 700 Td (Hello cover world) Tj ET q 200 0 0 200 72 300 cm /Im1 Do Q"
    return handmade_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
            b" /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB"
            b" /BitsPerComponent 8 /Length %d /Filter /%s >>\nstream\n"
            % (width, height, len(image), image_filter.encode())
            + image
            + b"\nendstream",
        ]
    )


def jpeg_declaring(side: int) -> bytes:
    """A small JPEG whose frame header claims `side` x `side` pixels."""
    data = bytearray(_picture_bytes("JPEG"))
    frame = data.index(b"\xff\xc0")  # marker, length, precision, then height and width
    struct.pack_into(">HH", data, frame + 5, side, side)
    return bytes(data)


def jpx_declaring(side: int) -> bytes:
    """A small JPEG 2000 codestream whose size segment claims `side` x `side` pixels."""
    data = bytearray(_picture_bytes("JPEG2000", no_jp2=True))
    size = data.index(b"\xff\x51")  # marker, length, capabilities, then width and height
    struct.pack_into(">II", data, size + 6, side, side)
    return bytes(data)


def zero_size_page_pdf() -> bytes:
    """A page whose media box has no area."""
    return handmade_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 0 0] >>",
        ]
    )
