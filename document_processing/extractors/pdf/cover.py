"""The cover: page 1 drawn `_COVER_SIDE` pixels on its longest side (a few milliseconds) and
normalised by `extractors.cover.cover_from_image`. A first page that cannot be drawn, is blank,
or holds images larger than `limits.cover_max_pixels` gives no cover, never a failure.
"""

from __future__ import annotations

import io
import logging
import math
import struct
import warnings

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from document_processing.extractors.base import ExtractionLimits
from document_processing.extractors.cover import cover_from_image

logger = logging.getLogger(__name__)


# The cover: page 1 drawn this many pixels on its longest side, enough for a thumbnail or an
# audiobook's artwork and cheap to draw. A page with more images than this is not drawn.
_COVER_SIDE = 600
_COVER_MAX_IMAGES = 500
# JPEG and JPEG 2000 images are decoded at the size their data declares, whatever the image's
# dictionary says; JPEG 2000 also as many components as it declares.
_CODED_FILTERS = frozenset({"DCTDecode", "JPXDecode"})
# Filters that can stand before those and are undone to read their header: each gives less data
# than it takes, so undoing them is no bomb. (reportlab writes JPEGs in ASCII85.)
_TEXT_FILTERS = frozenset({"ASCII85Decode", "ASCIIHexDecode"})
_JPX_MAX_COMPONENTS = 4
_JPX_CODESTREAM = b"\xff\x4f\xff\x51"  # start of codestream, then its size segment (SIZ)


def _cover(pdf: pdfium.PdfDocument, limits: ExtractionLimits) -> bytes:
    """Page 1 drawn as a cover, or b"" when it cannot be drawn or shows nothing."""
    try:
        page = pdf[0]
    except pdfium.PdfiumError:
        return b""
    try:
        width, height = page.get_size()
        if not (width > 0 and height > 0):  # also false for NaN
            return b""
        scale = min(_COVER_SIDE, limits.cover_max_side) / max(width, height)
        if min(width, height) * scale < 1 or not _cover_images_allowed(page, limits):
            return b""
        # RGBx (four bytes a pixel, red first): Pillow takes it as it is, where pdfium's default
        # BGR would be copied into an image of its own, and the JPEG encoder reads it directly.
        bitmap = page.render(
            scale=scale, may_draw_forms=False, rev_byteorder=True, prefer_bgrx=True
        )
        try:
            # A blank first page gives none: cover_from_image refuses single-colour images.
            # The image shares the bitmap's memory, so it is used before the bitmap is closed.
            return cover_from_image(bitmap.to_pil(), limits=limits)
        finally:
            bitmap.close()
    except pdfium.PdfiumError:
        logger.info("PDF page 1 could not be drawn as a cover", exc_info=True)
        return b""
    finally:
        page.close()


def _cover_images_allowed(page: pdfium.PdfPage, limits: ExtractionLimits) -> bool:
    """Whether the images that drawing the page decodes stay within `cover_max_pixels`, all
    together, by their declared sizes. Text extraction decodes no image; drawing the page must
    not let a huge one fail (run out of memory) a document that reads well."""
    pixels = 0.0
    images = page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,))
    for count, image in enumerate(images, start=1):
        pixels += _image_pixels(image)
        if pixels > limits.cover_max_pixels or count > _COVER_MAX_IMAGES:
            logger.info("PDF page 1 has too many or too large images to be drawn as a cover")
            return False
    return True


def _image_pixels(image: pdfium.PdfImage) -> float:
    """How many pixels drawing `image` decodes at most; infinite when that cannot be told."""
    width, height = image.get_px_size()
    pixels = max(width, 0) * max(height, 0)
    filters = image.get_filters()
    coded = [name for name in filters if name in _CODED_FILTERS]
    if not coded:
        return pixels  # pdfium decodes these to the dictionary's size, and no further
    if len(coded) != 1 or filters[-1] != coded[0] or not _TEXT_FILTERS.issuperset(filters[:-1]):
        return math.inf  # compressed again: its header cannot be read without inflating it
    # pdfium undoes the filters before the image's own, here only the text ones.
    data = bytes(image.get_data(decode_simple=True))
    size = _jpeg_size(data) if coded[0] == "DCTDecode" else _jpx_size(data)
    return math.inf if size is None else max(pixels, size)


def _jpeg_size(data: bytes) -> int | None:
    """Width times height as a JPEG's frame header declares them, or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=("JPEG",)) as jpeg:  # headers only
                width, height = jpeg.size
    except Exception:  # anything Pillow cannot read, pdfium is not asked to draw either
        return None
    return width * height


def _jpx_size(data: bytes) -> int | None:
    """Width times height as a JPEG 2000 codestream's size segment declares them, or None
    when it declares more components than an image has or cannot be read."""
    start = _jpx_codestream(data)
    if start is None or data[start : start + 4] != _JPX_CODESTREAM:
        return None
    try:
        x_end, y_end, x_origin, y_origin = struct.unpack_from(">4I", data, start + 8)
        (components,) = struct.unpack_from(">H", data, start + 40)
    except struct.error:
        return None
    if components > _JPX_MAX_COMPONENTS:
        return None
    return max(x_end - x_origin, 0) * max(y_end - y_origin, 0)


def _jpx_codestream(data: bytes) -> int | None:
    """Where the codestream starts: at once, or in the "jp2c" box of a JP2 file."""
    if data.startswith(_JPX_CODESTREAM):
        return 0
    position = 0
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        header = 8
        if length == 1 and position + 16 <= len(data):  # a 64-bit length follows
            (length,) = struct.unpack_from(">Q", data, position + 8)
            header = 16
        elif length == 0:  # the box runs to the end
            length = len(data) - position
        if kind == b"jp2c":
            return position + header
        if length < header:
            return None
        position += length
    return None
