"""Files nothing refers to any more, removed once they are old enough (a beat task, hourly).

A web process killed in the middle of an upload leaves its temporary file behind, and one killed
between storing an original and writing its row leaves a stored file that no row names; a worker
killed mid-task does the same with audio, covers, audiobooks and exports. Nothing else would
ever remove them.

Two kinds of leftovers are swept:

- Temporary uploads: Django writes every upload to FILE_UPLOAD_TEMP_DIR, a folder only Pagecast
  uses, so whatever is in it and older than ORPHAN_MIN_AGE_SECONDS belongs to a request that
  ended long ago. The sweep cleans the folder on the host it runs on; a host that runs only web
  processes runs `manage.py sweep_orphans --temporary-only` from its own scheduler.
- Stored files: the folders of STORED_FILE_FOLDERS are listed (on S3 with one paginated listing,
  which carries the modification times), files younger than the limit are left alone, and each
  app is asked which of the rest its rows still name (STORED_FILE_IN_USE, the registry
  `delete_stored_files` asks too). The others are deleted. Only those folders are looked at, so
  a bucket shared with other programs keeps their files, and files kept by name rather than by a
  row (monthly audit log exports, voice samples) are in folders the sweep never lists.

The age limit is what makes this safe against work under way: every writer stores its file and
then, a moment later in the same request or task, writes the row that names it. A file younger
than the limit may be about to get its row; one older than the limit that no row names never
will. (Stream parts are written for minutes, and are kept while their attempt is under way by
`stream_parts_in_use`.)
"""

from __future__ import annotations

import logging
import os
import posixpath
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import Storage, default_storage
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

# Keys asked about at once (each app answers with one query per batch).
BATCH = 500


@dataclass(frozen=True)
class OrphanReport:
    stored_removed: int
    temporary_removed: int
    failed: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def sweep_orphans(
    *, now: datetime | None = None, storage: Storage | None = None, temporary_only: bool = False
) -> OrphanReport:
    """Remove temporary uploads and stored files that nothing refers to, older than
    ORPHAN_MIN_AGE_SECONDS. When storage cannot be listed or an app cannot answer, what is not
    yet removed stays (the exception propagates; the next run tries again)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.ORPHAN_MIN_AGE_SECONDS)
    temporary = sweep_temporary_uploads(cutoff=cutoff)
    stored, failed = (0, 0) if temporary_only else _sweep_stored(storage or default_storage, cutoff)
    logger.info(
        "Orphan sweep: removed %d stored files and %d temporary uploads older than %d s "
        "(%d could not be removed)",
        stored, temporary, settings.ORPHAN_MIN_AGE_SECONDS, failed,
    )  # fmt: skip
    return OrphanReport(stored_removed=stored, temporary_removed=temporary, failed=failed)


# --- Temporary uploads ------------------------------------------------------------------------


def ensure_temporary_upload_folder() -> None:
    """Uploads fail without their folder; it is made at start-up and again by every sweep."""
    Path(settings.FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)


def sweep_temporary_uploads(*, cutoff: datetime) -> int:
    """Remove files in FILE_UPLOAD_TEMP_DIR last written before `cutoff`; returns how many.

    A request still receiving an upload writes to its file at least every few seconds, so only
    files of requests that ended without cleaning up are older than the limit.
    """
    folder = Path(settings.FILE_UPLOAD_TEMP_DIR)
    ensure_temporary_upload_folder()
    limit = cutoff.timestamp()
    removed = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            try:
                info = path.lstat()
                if info.st_mtime < limit:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue  # its request finished and removed it meanwhile
            except OSError:
                logger.warning("Could not remove the temporary upload %s", path)
    return removed


# --- Stored files -----------------------------------------------------------------------------


def _sweep_stored(storage: Storage, cutoff: datetime) -> tuple[int, int]:
    removed = failed = 0
    batch: list[str] = []
    for folder in settings.STORED_FILE_FOLDERS:
        for key, modified in stored_files(storage, folder):
            if modified >= cutoff:
                continue  # perhaps about to get its row (see the module's docstring)
            batch.append(key)
            if len(batch) >= BATCH:
                done, refused = _remove_unreferenced(storage, batch)
                removed, failed, batch = removed + done, failed + refused, []
    if batch:
        done, refused = _remove_unreferenced(storage, batch)
        removed, failed = removed + done, failed + refused
    return removed, failed


def stored_files(storage: Storage, folder: str) -> Iterator[tuple[str, datetime]]:
    """Every file under `folder` with its modification time (aware, UTC)."""
    from storages.backends.s3 import S3Storage  # boto3 is loaded only where the sweep runs

    if isinstance(storage, S3Storage):
        # One listing with the times, instead of one request per file to ask for each.
        location = storage.location.strip("/")
        prefix = f"{location}/{folder}/" if location else f"{folder}/"
        for entry in storage.bucket.objects.filter(Prefix=prefix):
            key = entry.key[len(location) + 1 :] if location else entry.key
            if not key.endswith("/"):
                yield key, entry.last_modified
        return
    yield from _listed(storage, folder)


def _listed(storage: Storage, folder: str) -> Iterator[tuple[str, datetime]]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return  # nothing was ever stored there
    for name in files:
        key = posixpath.join(folder, name)
        try:
            yield key, _aware(storage.get_modified_time(key))
        except FileNotFoundError:
            continue  # deleted since the listing
    for name in folders:
        yield from _listed(storage, posixpath.join(folder, name))


def _aware(moment: datetime) -> datetime:
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def keys_in_use(keys: list[str]) -> set[str]:
    """Those of `keys` that some app's rows still name (every app of STORED_FILE_IN_USE)."""
    in_use: set[str] = set()
    for path in settings.STORED_FILE_IN_USE:
        in_use |= set(import_string(path)(keys))
    return in_use


def _remove_unreferenced(storage: Storage, keys: list[str]) -> tuple[int, int]:
    in_use = keys_in_use(keys)
    removed = failed = 0
    for key in keys:
        if key in in_use:
            continue
        try:
            storage.delete(key)
            removed += 1
        except Exception:
            # Not the exception's text: storage errors can quote endpoints and request details.
            logger.warning("Could not remove the unreferenced stored file %s", key)
            failed += 1
    return removed, failed
