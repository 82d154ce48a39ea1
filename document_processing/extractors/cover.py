"""Cover images: what an extractor found, as one small, clean JPEG.

A cover comes from inside the document (an EPUB's cover image, a Word thumbnail, a PDF's first
page), so from whoever made the file. It is decoded only when it is in one of a few common
raster formats (never EPS, which Pillow hands to Ghostscript, nor any of its rarer decoders) and
only after its declared size has been checked against `limits.cover_max_pixels`: a
decompression bomb is refused from its header, before any pixel is decoded. What comes out is
written anew from the pixels alone: RGB with any transparency flattened onto white, upright as
its EXIF orientation says, at most `limits.cover_max_side` pixels on its longest side, as a
baseline JPEG with no metadata (no EXIF, so no camera or location; no comments, no ICC profile).
An image of a single colour (a blank first page, the white thumbnail of python-docx's
template) is no cover.

A bad cover never fails a document: `normalise_cover` and `cover_from_image` return b"" for an
image they cannot or will not use.

A cover travels from an isolated child to its parent inside the JSON answer, in base64
(`cover_to_json`); the parent trusts nothing the child sends and checks it on the way in
(`cover_from_json`, `check_cover`): a normalised cover is a JPEG of at most `MAX_COVER_BYTES`.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import math
import warnings

# The decoders of `_FORMATS` (and the JPEG encoder) are imported here, in the parent, once.
# Pillow otherwise imports its plugins on first use, and extraction runs in a forked child: each
# document would pay for the imports again (about 150 ms, more than reading 50 PDF pages). Its
# `preinit` (called by every `Image.open` and `save`) is run here too, for the same reason: it
# imports one more plugin (PPM) until it has run once.
from PIL import (
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    WebPImagePlugin,
)

from document_processing.extractors.base import MIB, ExtractionLimits

_PLUGINS = (BmpImagePlugin, GifImagePlugin, JpegImagePlugin, PngImagePlugin, WebPImagePlugin)
Image.preinit()

__all__ = [
    "MAX_COVER_BYTES",
    "MAX_COVER_JSON_CHARS",
    "MAX_SOURCE_BYTES",
    "InvalidCoverError",
    "check_cover",
    "cover_from_image",
    "cover_from_json",
    "cover_to_json",
    "normalise_cover",
]

logger = logging.getLogger(__name__)

# What is read of a cover image inside an archive: a book's cover is rarely above 5 MiB.
MAX_SOURCE_BYTES = 20 * MIB
# A normalised cover (1400 px, quality 85) is a few hundred KB; more is not one we made.
MAX_COVER_BYTES = 4 * MIB
# The same in base64, as it travels in the child's JSON answer.
MAX_COVER_JSON_CHARS = 4 * math.ceil(MAX_COVER_BYTES / 3)
JPEG_QUALITY = 85
# Enough for covers and thumbnails; each further decoder is more native code fed hostile bytes.
_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
_JPEG_START = b"\xff\xd8\xff"  # start of image, then the first marker
_WHITE = (255, 255, 255)


class InvalidCoverError(ValueError):
    """What arrived as a cover is not one: the caller drops it, the document is unaffected."""


def normalise_cover(data: bytes, *, limits: ExtractionLimits) -> bytes:
    """`data` (an image file's bytes) as a normalised cover, or b"" when it is not a raster
    image we decode, is larger than the limits allow, or is damaged."""
    if not data or len(data) > MAX_SOURCE_BYTES:
        return b""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check (in Image.open) means refusal too, not a printed warning.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as image:
                if not _size_allowed(image.size, limits):
                    logger.info("A cover image of %d x %d pixels was refused", *image.size)
                    return b""
                # JPEG decodes at 1/2, 1/4 or 1/8 scale when that is still large enough.
                image.draft("RGB", (limits.cover_max_side, limits.cover_max_side))
                image.load()
                if not _size_allowed(image.size, limits):  # a frame larger than declared
                    return b""
                return cover_from_image(image, limits=limits)
    except MemoryError:
        raise  # the isolated child reports it as such
    except Exception:  # hostile images make Pillow raise almost anything
        logger.info("A cover image could not be decoded", exc_info=True)
        return b""


def cover_from_image(image: Image.Image, *, limits: ExtractionLimits) -> bytes:
    """A decoded image (a rendered PDF page, say) as a normalised cover, or b"". The image
    itself may be changed (turned upright, shrunk): the caller has no further use for it."""
    try:
        ImageOps.exif_transpose(image, in_place=True)
        # Resampled before flattening, in a mode that resamples well ("P" and "1" would not).
        # RGBX (a drawn PDF page) is RGB with a byte unused: resampled and written as it is.
        mode = "RGBA" if _has_alpha(image) else "RGB"
        if image.mode != mode and not (mode == "RGB" and image.mode == "RGBX"):
            image = image.convert(mode)
        side = limits.cover_max_side
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        if image.mode == "RGBA":
            background = Image.new("RGBA", image.size, (*_WHITE, 255))
            image = Image.alpha_composite(background, image).convert("RGB")
        if _is_uniform(image):
            return b""
        image.info.clear()  # nothing of the source's metadata is carried over
        buffer = io.BytesIO()
        # Not `optimize`: its second pass over the image costs more than the encoding (2 ms for
        # a drawn page) for a file 3 % smaller.
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
    except MemoryError:
        raise
    except Exception:  # odd modes and sizes fail in many ways
        logger.info("A cover image could not be converted", exc_info=True)
        return b""
    cover = buffer.getvalue()
    if len(cover) > MAX_COVER_BYTES:
        logger.info("A cover image of %d bytes was dropped as too large", len(cover))
        return b""
    return cover


def _size_allowed(size: tuple[int, int], limits: ExtractionLimits) -> bool:
    width, height = size
    return width > 0 and height > 0 and width * height <= limits.cover_max_pixels


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _is_uniform(image: Image.Image) -> bool:
    """True for an RGB image of one colour: Pillow stops counting at the second one, so a page
    with anything on it is told at its first mark."""
    return image.getcolors(1) is not None


# --- Between the isolated child and its parent ------------------------------------------------


def cover_to_json(cover: bytes) -> str:
    return base64.b64encode(cover).decode("ascii")


def cover_from_json(value: object) -> bytes:
    """A cover as `cover_to_json` wrote it, checked; raises InvalidCoverError otherwise."""
    if value is None or value == "":
        return b""
    if not isinstance(value, str):
        raise InvalidCoverError(f"a cover must be a string, not {type(value).__name__}")
    if len(value) > MAX_COVER_JSON_CHARS:
        raise InvalidCoverError(f"a cover of {len(value):,} characters is too large")
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise InvalidCoverError("a cover must be base64") from error
    check_cover(data)
    return data


def check_cover(cover: bytes) -> None:
    """Raise InvalidCoverError unless `cover` is empty or could be a cover we made."""
    if not cover:
        return
    if len(cover) > MAX_COVER_BYTES:
        raise InvalidCoverError(f"a cover of {len(cover):,} bytes is too large")
    if not cover.startswith(_JPEG_START):
        raise InvalidCoverError("a cover must be a JPEG image")
