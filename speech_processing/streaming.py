"""Serving stored audio with HTTP Range support, so players can seek.

Django's FileResponse answers every request with the whole file; browsers need 206 answers to
seek in long audio. This is a small response over `storage.open()` + `seek()`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import IO
from urllib.parse import quote

from django.core.files.storage import Storage
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse

from core.query_params import parse_digits

CHUNK_BYTES = 64 * 1024
# ASCII digits only (RFC 9110); `\d` would also take the digits of every other script.
_RANGE = re.compile(r"bytes=([0-9]*)-([0-9]*)")
# Byte positions are read up to this many digits: a longer one lies past the end of any file.
_POSITION_DIGITS = 18
_PAST_ANY_FILE = 10**_POSITION_DIGITS


def parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(start, end) inclusive for a satisfiable single range; None when there is no usable
    Range header (serve everything); False when the range cannot be satisfied (416)."""
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        # Multiple ranges or another unit: RFC 9110 lets a server ignore the header.
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = _position(last)
        if suffix == 0:
            return False
        return max(size - suffix, 0), size - 1
    start = _position(first)
    end = _position(last) if last else size - 1
    if start >= size or end < start:
        return False
    return start, min(end, size - 1)


def _position(digits: str) -> int:
    value = parse_digits(digits.lstrip("0") or "0", max_digits=_POSITION_DIGITS)
    return _PAST_ANY_FILE if value is None else value


def _chunks(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def attachment_disposition(filename: str, *, fallback_stem: str = "download") -> str:
    """A Content-Disposition that saves the file under `filename` (already safe: see
    document_processing.utils.sanitize_filename) in every browser: an ASCII `filename` for old
    clients (`fallback_stem` when nothing of the name is ASCII) and, for a name with other
    characters, the exact name as RFC 5987 `filename*`."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode().strip()
    stem, dot, extension = ascii_name.rpartition(".")
    if not dot:
        stem, extension = ascii_name, ""
    if not stem.strip(" ._-()"):
        ascii_name = f"{fallback_stem}.{extension}" if extension else fallback_stem
    ascii_name = ascii_name.replace("\\", "_").replace('"', "_")
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != filename:
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def ranged_file_response(
    request: HttpRequest,
    *,
    storage: Storage,
    key: str,
    content_type: str,
    filename: str,
    disposition: str | None = None,
) -> HttpResponse | StreamingHttpResponse:
    """The stored file, or the part a Range asks for. `disposition`, when given, is the whole
    Content-Disposition (see attachment_disposition); else the file plays inline as `filename`."""
    size = storage.size(key)
    requested = parse_range(request.headers.get("Range", ""), size) if size else None
    if requested is False:
        refusal = HttpResponse(status=416)
        refusal["Content-Range"] = f"bytes */{size}"
        refusal["Accept-Ranges"] = "bytes"
        return refusal
    start, end = requested if isinstance(requested, tuple) else (0, size - 1)
    length = max(end - start + 1, 0)
    handle = storage.open(key, "rb")
    response = StreamingHttpResponse(
        _chunks(handle, start, length),
        status=206 if isinstance(requested, tuple) else 200,
        content_type=content_type,
    )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if isinstance(requested, tuple):
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Content-Disposition"] = disposition or f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=0"
    return response
