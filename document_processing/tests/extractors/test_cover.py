"""normalise_cover and the cover's trip through JSON: real images built with Pillow."""

from __future__ import annotations

import base64
import io
import os
import struct
import time
import zlib

import pytest
from PIL import Image, ImageFile

from document_processing.extractors.base import ExtractionLimits
from document_processing.extractors.cover import (
    MAX_COVER_BYTES,
    MAX_COVER_JSON_CHARS,
    MAX_SOURCE_BYTES,
    InvalidCoverError,
    check_cover,
    cover_from_image,
    cover_from_json,
    cover_to_json,
    normalise_cover,
)
from document_processing.tests.extractors.pdf_samples import deflated_zeros
from document_processing.tests.extractors.samples import ELF_BYTES, image_bytes, picture

LIMITS = ExtractionLimits()
MIB = 1024 * 1024
RED = (200, 30, 30)
BLUE = (20, 40, 220)


def _open(cover: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(cover))
    image.load()
    return image


def _rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, ...]:
    pixel = image.getpixel(xy)
    assert isinstance(pixel, tuple)
    return pixel


def _close(actual: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(actual, expected, strict=True))


def _zero_png(width: int, height: int) -> bytes:
    """A grey PNG of `width` x `height` pixels, all black, whose pixel data is one deflate
    stream of zeros repeated: a few hundred kilobytes on disk for hundreds of megapixels.
    (width + 1) * height must be whole MiB (each row is a filter byte and its pixels)."""
    row_bytes = (width + 1) * height
    assert row_bytes % MIB == 0

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = deflated_zeros(row_bytes // MIB)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every image Pillow decodes (the format of each `load()` that reads pixels)."""
    decoded: list[str] = []
    real_load = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> object:
        decoded.append(self.format or "")
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return decoded


# --- What comes out ----------------------------------------------------------------------------


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "GIF", "WEBP", "BMP"])
def test_common_formats_become_a_baseline_rgb_jpeg_of_the_same_size(image_format: str) -> None:
    cover = normalise_cover(image_bytes((60, 90), image_format=image_format), limits=LIMITS)

    image = _open(cover)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (60, 90))
    assert cover.startswith(b"\xff\xd8\xff")
    assert b"\xff\xc2" not in cover  # no progressive frame
    assert "progressive" not in image.info
    assert _close(_rgb(image, (50, 80)), RED)
    assert _close(_rgb(image, (5, 5)), BLUE)


def test_transparency_is_flattened_onto_white() -> None:
    png = image_bytes((80, 80), image_format="PNG", mode="RGBA")

    image = _open(normalise_cover(png, limits=LIMITS))

    assert image.mode == "RGB"
    assert _close(_rgb(image, (70, 70)), (255, 255, 255), 2)
    assert _close(_rgb(image, (10, 10)), BLUE)


def test_a_transparent_palette_gif_is_flattened_onto_white() -> None:
    source = picture((80, 80)).convert("P", palette=Image.Palette.ADAPTIVE, colors=2)
    red_index = source.getpixel((70, 70))
    buffer = io.BytesIO()
    source.save(buffer, format="GIF", transparency=red_index)

    image = _open(normalise_cover(buffer.getvalue(), limits=LIMITS))

    assert _close(_rgb(image, (70, 70)), (255, 255, 255), 2)
    assert _close(_rgb(image, (10, 10)), BLUE)


def test_a_large_image_is_scaled_down_to_the_longest_side_keeping_its_shape() -> None:
    cover = normalise_cover(image_bytes((3000, 2000), image_format="PNG"), limits=LIMITS)

    assert _open(cover).size == (1400, 933)


def test_the_longest_side_follows_the_limits() -> None:
    limits = ExtractionLimits(cover_max_side=100)

    cover = normalise_cover(image_bytes((300, 900)), limits=limits)

    assert _open(cover).size == (33, 100)


def test_a_large_jpeg_is_decoded_at_a_reduced_scale() -> None:
    source = image_bytes((4000, 3000), quality=80)
    started = time.monotonic()

    cover = normalise_cover(source, limits=LIMITS)

    assert _open(cover).size == (1400, 1050)
    assert time.monotonic() - started < 2


def test_the_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the picture rotated 90 degrees clockwise
    source = image_bytes((60, 90), exif=exif.tobytes())

    image = _open(normalise_cover(source, limits=LIMITS))

    assert image.size == (90, 60)
    # The stored top left corner is now the top right one.
    assert _close(_rgb(image, (80, 5)), BLUE)
    assert image.getexif().get(0x0112) is None


def test_no_metadata_of_the_source_is_kept() -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera Maker"  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS: where the picture was taken
    icc = b"\x00\x00\x02\x0cICC-PROFILE-BYTES" + b"\x00" * 100
    source = image_bytes((60, 90), exif=exif.tobytes(), icc_profile=icc, comment=b"secret note")
    assert _open(source).info.get("comment") == b"secret note"  # the source does carry them

    cover = normalise_cover(source, limits=LIMITS)

    image = _open(cover)
    assert not {"exif", "icc_profile", "comment", "xmp", "dpi"} & set(image.info)
    assert not image.getexif()
    for leftover in (b"Camera Maker", b"secret note", b"ICC-PROFILE", b"Exif"):
        assert leftover not in cover


def test_an_image_of_four_bytes_a_pixel_becomes_the_same_rgb_jpeg() -> None:
    """RGBX, as a PDF page is drawn: written as it is, the same cover as from its RGB."""
    rgb = picture((300, 420))

    cover = cover_from_image(rgb.convert("RGBX"), limits=LIMITS)

    image = _open(cover)
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (300, 420))
    assert cover == cover_from_image(rgb, limits=LIMITS)


def test_a_single_colour_image_of_four_bytes_a_pixel_is_no_cover() -> None:
    assert cover_from_image(Image.new("RGBX", (300, 420), "white"), limits=LIMITS) == b""


def test_a_large_image_of_four_bytes_a_pixel_is_scaled_down() -> None:
    cover = cover_from_image(picture((3000, 2000)).convert("RGBX"), limits=LIMITS)

    assert (_open(cover).mode, _open(cover).size) == ("RGB", (1400, 933))


def test_a_single_colour_image_is_no_cover() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (395, 512), "white").save(buffer, format="JPEG")

    assert normalise_cover(buffer.getvalue(), limits=LIMITS) == b""


def test_a_cover_larger_than_the_parent_accepts_is_not_made() -> None:
    side = 3000  # noise does not compress: about 6 MiB as JPEG
    noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))

    assert cover_from_image(noise, limits=ExtractionLimits(cover_max_side=side)) == b""
    assert len(cover_from_image(noise, limits=LIMITS)) <= MAX_COVER_BYTES


# --- What is refused ---------------------------------------------------------------------------


def test_a_png_bomb_is_refused_from_its_header_without_decoding(loads: list[str]) -> None:
    bomb = _zero_png(16383, 16384)  # 268 megapixels: a gigabyte once decoded as RGBA
    assert len(bomb) < 2 * MIB
    started = time.monotonic()

    assert normalise_cover(bomb, limits=LIMITS) == b""
    assert time.monotonic() - started < 1
    assert loads == []


def test_an_image_above_the_pixel_limit_is_not_decoded_even_below_pillows_own(
    loads: list[str],
) -> None:
    # 67 megapixels: over the cover limit (40), under the size at which Pillow warns (89).
    bomb = _zero_png(8191, 8192)
    assert (Image.MAX_IMAGE_PIXELS or 0) > 8191 * 8192

    assert normalise_cover(bomb, limits=LIMITS) == b""
    assert loads == []


def test_the_pixel_limit_is_checked_before_decoding(loads: list[str]) -> None:
    source = image_bytes((20, 20), image_format="PNG")
    assert normalise_cover(source, limits=LIMITS) != b""
    loads.clear()

    assert normalise_cover(source, limits=ExtractionLimits(cover_max_pixels=399)) == b""
    assert loads == []


def test_pillows_bomb_warning_means_refusal(loads: list[str]) -> None:
    # 100 megapixels: Pillow warns (over 89) but would decode; the limits here would allow it.
    bomb = _zero_png(12287, 8192)
    limits = ExtractionLimits(cover_max_pixels=10**9)

    assert normalise_cover(bomb, limits=limits) == b""
    assert loads == []


def test_truncated_images_are_refused() -> None:
    for image_format in ("JPEG", "PNG"):
        whole = image_bytes((200, 300), image_format=image_format)
        assert normalise_cover(whole, limits=LIMITS) != b""

        assert normalise_cover(whole[: len(whole) // 2], limits=LIMITS) == b""


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        ELF_BYTES,
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,  # a JPEG start and nothing after it
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b"%PDF-1.4\n1 0 obj << >> endobj\n",
        # EPS: Pillow would hand it to Ghostscript, which is never asked.
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n",
    ],
)
def test_what_is_not_a_raster_image_is_refused(data: bytes) -> None:
    assert normalise_cover(data, limits=LIMITS) == b""


def test_formats_outside_the_few_common_ones_are_not_decoded(loads: list[str]) -> None:
    for image_format in ("TIFF", "ICO", "PPM", "TGA"):
        assert normalise_cover(image_bytes((32, 32), image_format=image_format), limits=LIMITS) == (
            b""
        )
    assert loads == []


def test_a_source_over_the_byte_cap_is_not_read() -> None:
    padded = image_bytes((20, 20)) + b"\x00" * MAX_SOURCE_BYTES

    assert normalise_cover(padded, limits=LIMITS) == b""


# --- The trip through JSON ---------------------------------------------------------------------


def test_a_cover_survives_the_trip_through_json() -> None:
    cover = normalise_cover(image_bytes(), limits=LIMITS)

    assert cover_from_json(cover_to_json(cover)) == cover
    assert cover_from_json(cover_to_json(b"")) == b""
    assert cover_from_json(None) == b""


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (123, "string"),
        (["/9j/"], "string"),
        ("not base64!", "base64"),
        ("/9j/4A==\n", "base64"),
        (base64.b64encode(image_bytes(image_format="PNG")).decode(), "JPEG"),
        (base64.b64encode(b"\xff\xd8\xff" + bytes(MAX_COVER_BYTES)).decode(), "too large"),
        ("A" * (MAX_COVER_JSON_CHARS + 4), "too large"),
    ],
)
def test_what_is_not_a_cover_is_rejected_on_the_way_in(value: object, reason: str) -> None:
    with pytest.raises(InvalidCoverError, match=reason):
        cover_from_json(value)


def test_check_cover_accepts_only_small_jpegs() -> None:
    check_cover(b"")
    check_cover(normalise_cover(image_bytes(), limits=LIMITS))
    with pytest.raises(InvalidCoverError):
        check_cover(image_bytes(image_format="PNG"))
    with pytest.raises(InvalidCoverError):
        check_cover(b"\xff\xd8\xff" + bytes(MAX_COVER_BYTES))


def test_the_json_limit_holds_the_largest_cover() -> None:
    largest = b"\xff\xd8\xff" + bytes(MAX_COVER_BYTES - 3)

    assert len(cover_to_json(largest)) <= MAX_COVER_JSON_CHARS
    assert cover_from_json(cover_to_json(largest)) == largest
