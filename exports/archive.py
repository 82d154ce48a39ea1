"""The ZIP of everything a person keeps in Pagecast, written entry by entry.

Layout (folders are made from ids, never from titles, so no name can escape or collide; file
names are cleaned of path separators and characters that some systems refuse):

    manifest.json                          the account, every document and what is in the ZIP
    activity.jsonl                         the person's audit entries, one JSON object a line
    documents/<id>/original/<file name>    the file they brought (when there is one)
    documents/<id>/pages/<number>.md       each page's Markdown
    documents/<id>/audio/<page> - <voice>.mp3   each finished audio of the document, named by
                                           its page number and the voice's display name
                                           ("2 - Joe (English (US), Piper, medium).mp3")
    documents/<id>/audio/<page> - <voice>.json  beside it: its voice, engine, duration and
                                           sentence timings
    documents/<id>/audiobook/<title>.m4b   the latest finished audiobook in each voice, named as
                                           its download is (sanitised; the voice added when
                                           there are several)

Stored files are copied in chunks from storage straight into the ZIP, so neither a large original
nor a long audio is ever held in memory; the caller decides where the ZIP itself goes.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterable
from datetime import datetime
from typing import IO, Any

from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder

from document_processing.models import Document, Page
from document_processing.services import EXTENSIONS
from document_processing.utils import sanitize_filename
from sharing.models import AccessLog, DocumentShare
from speech_processing import voices
from speech_processing.audiobooks import download_filename
from speech_processing.models import Audio, Audiobook
from users.models import User

FORMAT = "pagecast-export"
FORMAT_VERSION = 1
COPY_CHUNK_BYTES = 1024 * 1024
# Entries at least this large need ZIP64 headers; zipfile must know before it starts writing.
_ZIP64_FROM = zipfile.ZIP64_LIMIT


def write_archive(*, user: User, target: IO[bytes], now: datetime) -> dict[str, Any]:
    """Write the person's archive to `target` (a seekable binary file); returns the manifest.

    A stored file that storage has lost is left out (its path in the manifest is null); any
    other storage error propagates, for the caller to retry or fail.
    """
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        document_ids = list(
            Document.objects.filter(owner=user)
            .order_by("created_at", "id")
            .values_list("pk", flat=True)
        )
        documents = []
        for document_id in document_ids:
            document = Document.objects.filter(pk=document_id).first()
            if document is not None:  # deleted while the archive was being written
                documents.append(_write_document(zf, document))
        activity_count = _write_activity(zf, user)
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "exported_at": now,
            "account": {
                "id": user.pk,
                "email": user.email,
                "display_name": user.display_name,
                "preferred_voice": user.preferred_voice,
                "date_joined": user.date_joined,
            },
            "documents": documents,
            "activity": {"file": "activity.jsonl", "entries": activity_count},
        }
        _write_json(zf, "manifest.json", manifest)
    return manifest


def _write_document(zf: zipfile.ZipFile, document: Document) -> dict[str, Any]:
    folder = f"documents/{document.pk}"
    entry: dict[str, Any] = {
        "id": document.pk,
        "title": document.title,
        "author": document.author,
        "status": document.status,
        "source_type": document.source_type,
        "source_url": document.source_url,
        "original_filename": document.original_filename,
        "detected_type": document.detected_type,
        "page_count": document.page_count,
        "char_count": document.char_count,
        "created_at": document.created_at,
        "updated_at": document.updated_at,
        "processed_at": document.processed_at,
        "original": None,
        "cover": None,
    }
    if document.cover_key:
        entry["cover"] = _copy_stored(zf, document.cover_key, f"{folder}/cover.jpg", size=None)
    if document.file_key:
        # Pasted text and imported pages have no file name of their own.
        fallback = "original" + EXTENSIONS.get(document.detected_type, "")
        name = sanitize_filename(document.original_filename or fallback, fallback=fallback)
        path = f"{folder}/original/{name}"
        entry["original"] = _copy_stored(zf, document.file_key, path, size=document.file_size)
    entry["pages"] = [
        _write_page(zf, folder, page)
        for page in Page.objects.filter(document=document).order_by("number").iterator()
    ]
    pages = dict(Page.objects.filter(document=document).values_list("pk", "number"))
    taken: set[str] = set()
    entry["audio"] = [
        _write_audio(zf, folder, audio, page_number=pages.get(audio.page_id), taken=taken)
        for audio in _finished_audio(document)
    ]
    entry["audiobooks"] = _write_audiobooks(zf, folder, document)
    entry["shares"] = [
        {
            "shared_with": share.shared_with.email,
            "permission": share.permission,
            "shared_by": share.shared_by.email if share.shared_by else None,
            "created_at": share.created_at,
        }
        for share in DocumentShare.objects.filter(document=document)
        .select_related("shared_with", "shared_by")
        .order_by("created_at", "id")
    ]
    return entry


def _write_page(zf: zipfile.ZipFile, folder: str, page: Page) -> dict[str, Any]:
    path = f"{folder}/pages/{page.number:04d}.md"
    zf.writestr(path, page.markdown)
    return {
        "number": page.number,
        "title": page.title,
        "char_count": page.char_count,
        "created_at": page.created_at,
        "updated_at": page.updated_at,
        "markdown": path,
    }


def _finished_audio(document: Document) -> Iterable[Audio]:
    return (
        Audio.objects.filter(
            page__document=document,
            status=Audio.Status.COMPLETED,
            lifetime_status=Audio.Lifetime.ACTIVE,
        )
        .exclude(file_key="")
        .order_by("page_id", "created_at", "id")
    )


def _write_audio(
    zf: zipfile.ZipFile,
    folder: str,
    audio: Audio,
    *,
    page_number: int | None,
    taken: set[str],
) -> dict[str, Any]:
    voice_name = voices.display_name_of(audio.voice)
    details = {
        "id": audio.pk,
        "page_number": page_number,
        "voice": audio.voice,
        "voice_name": voice_name,
        "engine": audio.engine,
        "duration_seconds": audio.duration_seconds,
        "size_bytes": audio.size_bytes,
        "created_at": audio.created_at,
        "completed_at": audio.completed_at,
    }
    stem = _unique(_entry_name(f"{page_number or 'page'} - {voice_name}"), taken)
    timings_path = f"{folder}/audio/{stem}.json"
    _write_json(zf, timings_path, {**details, "timings": audio.timings})
    mp3 = _copy_stored(zf, audio.file_key, f"{folder}/audio/{stem}.mp3", size=audio.size_bytes)
    return {**details, "file": mp3, "timings": timings_path}


# Refused in file names by Windows (and "/" everywhere); display names rarely hold any.
_UNSAFE_IN_NAMES = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def _entry_name(stem: str) -> str:
    """A ZIP entry's file name (without extension) that unpacks on every system."""
    return _UNSAFE_IN_NAMES.sub("-", stem).strip(" .")[:200] or "audio"


def _unique(stem: str, taken: set[str]) -> str:
    """`stem`, or "<stem> 2", "<stem> 3"… when a name compares equal, ignoring case, to one
    already in the folder (two engines' voices may share a display name)."""
    name, number = stem, 2
    while name.casefold() in taken:
        name = f"{stem} {number}"
        number += 1
    taken.add(name.casefold())
    return name


def _finished_audiobooks(document: Document) -> list[Audiobook]:
    """The latest finished audiobook in each voice, oldest voice first."""
    latest: dict[str, Audiobook] = {}
    rows = (
        Audiobook.objects.filter(document=document, status=Audiobook.Status.COMPLETED)
        .exclude(file_key="")
        .order_by("-completed_at", "-id")
    )
    for book in rows:
        latest.setdefault(book.voice, book)
    return sorted(latest.values(), key=lambda book: (book.created_at, book.pk))


def _write_audiobooks(zf: zipfile.ZipFile, folder: str, document: Document) -> list[dict[str, Any]]:
    books = _finished_audiobooks(document)
    taken: set[str] = set()
    written = []
    for book in books:
        name = download_filename(document.title, voice=book.voice if len(books) > 1 else None)
        stem, _dot, extension = name.rpartition(".")
        number = 2
        while name.casefold() in taken:  # two voices with the same name in different engines
            name = f"{stem} {number}.{extension}"
            number += 1
        taken.add(name.casefold())
        path = f"{folder}/audiobook/{name}"
        written.append(
            {
                "id": book.pk,
                "voice": book.voice,
                "file": _copy_stored(zf, book.file_key, path, size=book.size_bytes),
                "size_bytes": book.size_bytes,
                "duration_seconds": book.duration_seconds,
                "chapters": book.chapters,
                "created_at": book.created_at,
                "completed_at": book.completed_at,
            }
        )
    return written


def _copy_stored(zf: zipfile.ZipFile, key: str, path: str, *, size: int | None) -> str | None:
    """Copy a stored file into the ZIP in chunks; None (and no entry) if storage lost it."""
    try:
        source = default_storage.open(key, "rb")
    except FileNotFoundError:
        return None
    # Audio and most originals are compressed already: storing them saves the CPU for nothing.
    info = zipfile.ZipInfo(path, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    with source, zf.open(info, "w", force_zip64=size is None or size >= _ZIP64_FROM) as target:
        shutil.copyfileobj(source, target, length=COPY_CHUNK_BYTES)
    return path


# The ZIP format's dates start in 1980; copied files get that date, their real dates are in the
# manifest.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _write_activity(zf: zipfile.ZipFile, user: User) -> int:
    count = 0
    entries = AccessLog.objects.filter(user=user).order_by("created_at", "id")
    with zf.open("activity.jsonl", "w", force_zip64=True) as target:
        for row in entries.values(
            "id", "created_at", "action", "outcome", "document_id", "audio_id", "client_ip",
            "user_agent", "details",
        ).iterator(chunk_size=2000):  # fmt: skip
            target.write(_json(row).encode() + b"\n")
            count += 1
    return count


def _write_json(zf: zipfile.ZipFile, path: str, value: object) -> None:
    zf.writestr(path, json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2))


def _json(value: object) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))
