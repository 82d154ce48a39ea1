"""Files the command writes: safe names, whole-or-nothing writes, the output folder's checks.

Every file is written under a temporary name beside its final one and renamed when complete, so
an interrupted run leaves either the old file, the new file, or (after a hard kill) a partial
file that the next run removes before it starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from document_processing.utils import sanitize_filename

PARTIAL_SUFFIX = ".pagecast-partial"
# Long titles make long file names; the number already tells pages apart.
MAX_TITLE_CHARS = 60
# In a title a slash separates words, not folders.
_SLASHES = re.compile(r"[/\\]")


class OutputError(Exception):
    """The output folder cannot be used; the message is for the person running the command."""


def page_stem(number: int, title: str, *, page_count: int) -> str:
    """`007 - Title` (or `007` without a title): sorts in page order, safe on every system."""
    width = max(3, len(str(page_count)))
    prefix = f"{number:0{width}d}"
    cleaned = _SLASHES.sub("-", unicodedata.normalize("NFKC", " ".join(title.split())))
    cleaned = cleaned[:MAX_TITLE_CHARS]
    # The title alone is sanitised (with an extension of our own, so that a dot in the title is
    # never taken for one); a title with nothing safe in it leaves the number alone.
    safe = sanitize_filename(f"{cleaned}.x", fallback="_").removesuffix(".x")
    return f"{prefix} - {safe}" if safe.strip(" ._-") else prefix


def document_stem(name: str) -> str:
    """A folder or file name for the document as a whole (its title, or the file's name)."""
    cleaned = _SLASHES.sub("-", unicodedata.normalize("NFKC", " ".join(name.split())))[:100]
    return sanitize_filename(f"{cleaned}.x", fallback="pagecast").removesuffix(".x")


def check_folder(path: Path) -> None:
    """Fail early if `path` cannot become a folder we write in (`prepare_folder` makes sure)."""
    if path.exists() and not path.is_dir():
        raise OutputError(f"The output path {path} exists and is not a folder.")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"Cannot create the folder {path}: {existing} is not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write to the folder {existing}: permission denied.")


def prepare_folder(path: Path) -> bool:
    """Make sure `path` is a folder we can write in; True if it was created here.

    Partial files left by a run that was killed are removed.
    """
    if path.exists() and not path.is_dir():
        raise OutputError(f"The output path {path} exists and is not a folder.")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        if created:
            remove_if_empty(path)
        raise OutputError(f"Cannot write to the folder {path}: {describe_os_error(exc)}.") from exc
    remove_partials(path)
    return created


def remove_partials(folder: Path) -> None:
    for partial in folder.glob(f".*{PARTIAL_SUFFIX}"):
        with contextlib.suppress(OSError):
            partial.unlink()


def remove_if_empty(folder: Path) -> None:
    with contextlib.suppress(OSError):
        folder.rmdir()


def partial_path(path: Path) -> Path:
    """Where `path` is written until it is complete: hidden, unique, removed by the next run."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[BinaryIO]:
    """A binary file that appears at `path` only once the block completes without error."""
    partial = partial_path(path)
    try:
        with partial.open("wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def write_atomic(path: Path, data: bytes) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


def describe_os_error(exc: OSError) -> str:
    """`permission denied`, `no space left on device`...: the system's words, lower case."""
    reason = exc.strerror or type(exc).__name__
    return reason[:1].lower() + reason[1:]
