"""What the stored files take, kind by kind, for the staff dashboard.

Most kinds are counted from the rows that name their files (a size is kept with each), in one
query each, so the figure costs the same at any size. Covers, the parts of audio being made,
voice previews and exported audit logs have no size in a row: their folders are listed (on S3 one
paginated listing that carries the sizes). Page text is not a file: it lives in the database, and
is shown as such, in characters.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.files.storage import Storage, default_storage
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Length
from django.utils.translation import gettext as _

from document_processing.models import Document, Page
from exports.models import Export
from speech_processing.live import PARTS_FOLDER
from speech_processing.models import Audio, Audiobook

# Folders of files that no row sizes (see the module docstring).
COVERS_FOLDER = "covers"
SAMPLES_FOLDER = "voice-samples"
AUDIT_FOLDER = "audit"


@dataclass(frozen=True)
class StoredKind:
    key: str
    label: str
    files: int
    bytes: int
    # True when the figure is characters in the database rather than files in storage.
    in_database: bool = False


@dataclass(frozen=True)
class StorageUsage:
    kinds: list[StoredKind]
    # A folder that could not be listed: its line is missing, and the page says so.
    unmeasured: list[str]

    @property
    def stored_bytes(self) -> int:
        return sum(kind.bytes for kind in self.kinds if not kind.in_database)


def storage_usage(storage: Storage | None = None) -> StorageUsage:
    storage = storage or default_storage
    documents = Document.objects.aggregate(
        files=Count("id", filter=~Q(file_key="")),
        size=Sum("file_size", filter=~Q(file_key="")),
    )
    pages = Page.objects.aggregate(count=Count("id"), size=Sum(Length("markdown")))
    # A file may be named by several audio rows (reuse): each file counts once.
    audio = (
        Audio.objects.exclude(file_key="")
        .values("file_key")
        .annotate(size=Max("size_bytes"))
        .order_by()
        .aggregate(files=Count("file_key"), total=Sum("size"))
    )
    books = Audiobook.objects.exclude(file_key="").aggregate(
        files=Count("id"), size=Sum("size_bytes")
    )
    exports = Export.objects.exclude(file_key="").aggregate(
        files=Count("id"), size=Sum("size_bytes")
    )
    kinds = [
        StoredKind("originals", _("Originals"), documents["files"], documents["size"] or 0),
        StoredKind("pages", _("Page text"), pages["count"], pages["size"] or 0, in_database=True),
        StoredKind("audio", _("Audio"), audio["files"], audio["total"] or 0),
    ]
    unmeasured: list[str] = []
    measured = [
        ("stream_parts", _("Audio being made (parts)"), PARTS_FOLDER),
        ("covers", _("Covers"), COVERS_FOLDER),
    ]
    for key, label, folder in measured:
        kinds += _measured(storage, key, label, folder, unmeasured)
    kinds += [
        StoredKind("audiobooks", _("Audiobooks"), books["files"], books["size"] or 0),
        StoredKind("exports", _("Data exports"), exports["files"], exports["size"] or 0),
    ]
    for key, label, folder in [
        ("samples", _("Voice previews"), SAMPLES_FOLDER),
        ("audit", _("Audit log exports"), AUDIT_FOLDER),
    ]:
        kinds += _measured(storage, key, label, folder, unmeasured)
    return StorageUsage(kinds=kinds, unmeasured=unmeasured)


def _measured(
    storage: Storage, key: str, label: str, folder: str, unmeasured: list[str]
) -> list[StoredKind]:
    try:
        sizes = list(folder_sizes(storage, folder))
    except Exception:
        # The dashboard shows what it can: the rest of the figures come from the database.
        unmeasured.append(label)
        return []
    return [StoredKind(key, label, len(sizes), sum(sizes))]


def folder_sizes(storage: Storage, folder: str) -> Iterator[int]:
    """The size of every file under `folder`."""
    from storages.backends.s3 import S3Storage  # boto3 is loaded only where it is used

    if isinstance(storage, S3Storage):
        location = storage.location.strip("/")
        prefix = f"{location}/{folder}/" if location else f"{folder}/"
        for entry in storage.bucket.objects.filter(Prefix=prefix):
            if not entry.key.endswith("/"):
                yield int(entry.size)
        return
    yield from _listed(storage, folder)


def _listed(storage: Storage, folder: str) -> Iterator[int]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return  # nothing was ever stored there
    for name in files:
        try:
            yield storage.size(posixpath.join(folder, name))
        except FileNotFoundError:
            continue  # deleted since the listing
    for name in folders:
        yield from _listed(storage, posixpath.join(folder, name))
