"""Sample documents built in code: EPUBs by hand with zipfile, DOCX with python-docx.

Nothing binary is committed; every test builds exactly the file it needs in `tmp_path`.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

# -- hostile XML ---------------------------------------------------------------------------------

BILLION_LAUGHS_DTD = (
    '<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)
XXE_DTD = '<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n'
# Text that is in /etc/passwd on every Unix, and in no sample.
PASSWD_MARKER = "root:"


def with_dtd(xml: str, dtd: str) -> str:
    """`xml` with `dtd` inserted after its XML declaration (or at the start)."""
    if xml.startswith("<?xml"):
        end = xml.index("?>") + 2
        return xml[:end] + "\n" + dtd + xml[end:]
    return dtd + xml


# -- other files that are not documents ------------------------------------------------------------


def png_bytes() -> bytes:
    """A valid PNG of one pixel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def picture(size: tuple[int, int] = (60, 90), *, mode: str = "RGB") -> Any:
    """A PIL image of two colours (a single-colour image is no cover): red, with a blue square
    in its top left quarter; in RGBA, transparent with an opaque blue square."""
    from PIL import Image, ImageDraw

    background = (0, 0, 0, 0) if mode == "RGBA" else (200, 30, 30)
    image = Image.new(mode, size, background)
    ImageDraw.Draw(image).rectangle((0, 0, size[0] // 2 - 1, size[1] // 2 - 1), fill=(20, 40, 220))
    return image


def image_bytes(
    size: tuple[int, int] = (60, 90),
    *,
    image_format: str = "JPEG",
    mode: str = "RGB",
    **options: Any,
) -> bytes:
    """`picture(size, mode=mode)` saved as `image_format` with Pillow's save `options`."""
    buffer = io.BytesIO()
    picture(size, mode=mode).save(buffer, format=image_format, **options)
    return buffer.getvalue()


ELF_BYTES = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + b"\x02\x00\x3e\x00" + b"\x00" * 100


# -- ZIP helpers ----------------------------------------------------------------------------------


def write_zip(
    path: Path,
    members: Mapping[str, bytes | str] | Iterable[tuple[str, bytes | str]],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    items = members.items() if isinstance(members, Mapping) else members
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in items:
            archive.writestr(name, data)
    return path


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def replace_member(path: Path, name: str, data: bytes | str) -> Path:
    """Rewrite the archive at `path` with member `name` replaced (or added)."""
    members = zip_members(path)
    members[name] = data.encode() if isinstance(data, str) else data
    return write_zip(path, members)


def write_bomb_zip(
    path: Path, members: Mapping[str, bytes | str], *, bomb_name: str, bomb_size: int
) -> Path:
    """An archive holding `members` and a real deflate bomb of `bomb_size` zero bytes.

    The bomb's deflate stream is one compressed MiB of zeros, full-flushed so that copies of it
    can be chained, repeated: building a 300 MiB bomb costs a few hundred KB and no deflating.
    """
    entries = [
        (name, *_deflated(data.encode() if isinstance(data, str) else data))
        for name, data in members.items()
    ]
    entries.append((bomb_name, *_zero_bomb(bomb_size)))
    path.write_bytes(_raw_zip(entries))
    return path


_MIB = 1024 * 1024


def _deflated(data: bytes) -> tuple[bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(), zlib.crc32(data), len(data)


def _zero_bomb(size: int) -> tuple[bytes, int, int]:
    if size % _MIB:
        raise ValueError("the bomb size must be whole MiB")
    zeros = bytes(_MIB)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // _MIB):
        crc = zlib.crc32(zeros, crc)
    # b"\x03\x00" is an empty final block: it ends the chained stream.
    return block * (size // _MIB) + b"\x03\x00", crc, size


def _raw_zip(entries: Sequence[tuple[str, bytes, int, int]]) -> bytes:
    """A ZIP file written by hand (deflate, no ZIP64) from already-compressed members."""
    out = bytearray()
    central = bytearray()
    for name, data, crc, size in entries:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack(
            "<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded), 0
        )
        out += encoded + data
        central += struct.pack(
            "<4s6H3I5H2I",
            b"PK\x01\x02",
            20,
            20,
            0,
            8,
            0,
            0x21,
            crc,
            len(data),
            size,
            len(encoded),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += encoded
    end = struct.pack(
        "<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central), len(out), 0
    )
    return bytes(out + central + end)


# -- EPUB ----------------------------------------------------------------------------------------

CONTAINER_XML = """<?xml version="1.0" encoding="UTF-8"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles>
    <rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
  </rootfiles>
</container>
"""


@dataclass(frozen=True)
class Chapter:
    file_name: str
    body: str
    toc_title: str = ""
    linear: bool = True


def xhtml(body: str, *, title: str = "Chapter") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">\n'
        f"<head><title>{escape(title)}</title></head>\n<body>{body}</body>\n</html>\n"
    )


def nav_xhtml(chapters: Sequence[Chapter]) -> str:
    links = "".join(
        f'<li><a href="{chapter.file_name}">{escape(chapter.toc_title)}</a></li>'
        for chapter in chapters
        if chapter.toc_title
    )
    return xhtml(f'<nav epub:type="toc"><h1>Contents</h1><ol>{links}</ol></nav>', title="Nav")


def ncx_xml(chapters: Sequence[Chapter]) -> str:
    points = "".join(
        f'<navPoint id="p{index}" playOrder="{index}"><navLabel><text>{escape(chapter.toc_title)}'
        f'</text></navLabel><content src="{chapter.file_name}"/></navPoint>'
        for index, chapter in enumerate(chapters, start=1)
        if chapter.toc_title
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE ncx PUBLIC "-//NISO//DTD ncx 2005-1//EN" '
        '"http://www.daisy.org/z3986/2005/ncx-2005-1.dtd">\n'
        '<ncx xmlns="http://www.daisy.org/z3986/2005/ncx/" version="2005-1">'
        f"<head/><docTitle><text>Book</text></docTitle><navMap>{points}</navMap></ncx>\n"
    )


def opf_xml(
    chapters: Sequence[Chapter],
    *,
    title: str,
    author: str,
    nav: bool,
    ncx: bool,
    manifest_extra: str = "",
    metadata_extra: str = "",
) -> str:
    items = [
        f'<item id="c{index}" href={quoteattr(chapter.file_name)} '
        'media-type="application/xhtml+xml"/>'
        for index, chapter in enumerate(chapters)
    ]
    not_linear = ' linear="no"'
    refs = [
        f'<itemref idref="c{index}"{"" if chapter.linear else not_linear}/>'
        for index, chapter in enumerate(chapters)
    ]
    if nav:
        items.append(
            '<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>'
        )
        refs.insert(0, '<itemref idref="nav"/>')  # some books list the nav in the spine
    if ncx:
        items.append('<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>')
    creator = f"<dc:creator>{escape(author)}</dc:creator>" if author else ""
    spine_toc = ' toc="ncx"' if ncx else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">\n'
        '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:identifier id="id">urn:uuid:1</dc:identifier><dc:title>{escape(title)}</dc:title>'
        f"{creator}<dc:language>en</dc:language>{metadata_extra}</metadata>\n"
        f"<manifest>{''.join(items)}{manifest_extra}</manifest>\n"
        f"<spine{spine_toc}>{''.join(refs)}</spine>\n</package>\n"
    )


def epub_members(
    chapters: Sequence[Chapter],
    *,
    title: str = "A Book",
    author: str = "An Author",
    nav: bool = True,
    ncx: bool = False,
    manifest_extra: str = "",
    metadata_extra: str = "",
) -> dict[str, bytes | str]:
    """`manifest_extra` and `metadata_extra`: XML added at the end of those OPF elements."""
    opf = opf_xml(
        chapters,
        title=title,
        author=author,
        nav=nav,
        ncx=ncx,
        manifest_extra=manifest_extra,
        metadata_extra=metadata_extra,
    )
    members: dict[str, bytes | str] = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": CONTAINER_XML,
        "OEBPS/content.opf": opf,
    }
    if nav:
        members["OEBPS/nav.xhtml"] = nav_xhtml(chapters)
    if ncx:
        members["OEBPS/toc.ncx"] = ncx_xml(chapters)
    for chapter in chapters:
        members[f"OEBPS/{chapter.file_name}"] = xhtml(chapter.body)
    return members


def write_epub(
    path: Path,
    chapters: Sequence[Chapter],
    *,
    overrides: Mapping[str, bytes | str | None] | None = None,
    **options: Any,
) -> Path:
    """An EPUB with `chapters`; `overrides` replace members (None removes one)."""
    members = epub_members(chapters, **options)
    for name, data in (overrides or {}).items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
    # The mimetype member comes first and uncompressed, as the OCF specification asks.
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", members.pop("mimetype", ""), zipfile.ZIP_STORED)
        for name, data in members.items():
            archive.writestr(name, data, zipfile.ZIP_DEFLATED)
    return path


# -- DOCX ----------------------------------------------------------------------------------------


def write_epub_with_cover(path: Path, *, size: tuple[int, int] = (300, 450)) -> Path:
    """A one-chapter EPUB 3 whose manifest marks a PNG of `size` as its cover image."""
    return write_epub(
        path,
        [Chapter("one.xhtml", "<h1>One</h1><p>The keeper climbed the stairs.</p>")],
        manifest_extra='<item id="art" href="art.png" media-type="image/png" '
        'properties="cover-image"/>',
        overrides={"OEBPS/art.png": image_bytes(size, image_format="PNG")},
    )


def write_docx(
    path: Path,
    build: Callable[[Any], None],
    *,
    title: str = "",
    author: str = "",
) -> Path:
    """A .docx made by python-docx: `build` receives the new Document and fills it."""
    import docx

    document = docx.Document()
    document.core_properties.title = title
    document.core_properties.author = author
    build(document)
    document.save(str(path))
    return path
