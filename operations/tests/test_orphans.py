"""The orphan sweep: temporary uploads and stored files nothing names go once they are old; every
file a row names, and every folder the sweep does not own, stays. On local storage and on S3
(moto's server on 127.0.0.1, the bucket listed with the operator's own client)."""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import DatabaseError
from django.utils import timezone

from core.tests.s3_server import S3Server
from document_processing.tests.factories import DocumentFactory
from exports.models import Export
from operations.orphans import sweep_orphans
from operations.tasks import sweep_orphans_task
from speech_processing import live
from speech_processing.models import Audio, Audiobook
from speech_processing.tests.factories import AudioFactory
from users.models import User

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


def later() -> datetime:
    """A sweep run long after every file of the test was written."""
    return timezone.now() + 2 * HOUR


def store(key: str) -> str:
    return default_storage.save(key, ContentFile(b"bytes of " + key.encode()))


@pytest.fixture
def world(alice: User) -> dict[str, str]:
    keys = {name: store(key) for name, key in {
        "original": "originals/kept.pdf",
        "cover": "covers/kept.jpg",
        "audio": "audio/kept.mp3",
        "audiobook": "audiobooks/kept.m4b",
        "export": "exports/kept.zip",
        "audit": "audit/access-log-2026-01.jsonl.gz",
        "sample": "voice-samples/abc.mp3",
        "orphan_original": "originals/killed-request.pdf",
        "orphan_cover": "covers/lost.jpg",
        "orphan_audio": "audio/lost.mp3",
        "orphan_audiobook": "audiobooks/lost.m4b",
        "orphan_export": "exports/lost.zip",
        "orphan_probe": "health/left-by-a-killed-check.txt",
    }.items()}  # fmt: skip
    document = DocumentFactory.create(
        owner=alice, file_key=keys["original"], cover_key=keys["cover"]
    )
    AudioFactory.create(page__document=document, file_key=keys["audio"])
    making = AudioFactory.create(
        page__document=document, status=Audio.Status.GENERATING, attempts=2
    )
    # The attempt under way may be streamed; an earlier attempt's parts nobody can read.
    keys["part_under_way"] = store(live.part_key(making.pk, 2, 0))
    keys["orphan_part"] = store(live.part_key(making.pk, 1, 0))
    Audiobook.objects.create(document=document, voice="fake:alpha", file_key=keys["audiobook"])
    Export.objects.create(user=alice, status=Export.Status.COMPLETED, file_key=keys["export"])
    return keys


def kept(keys: dict[str, str]) -> set[str]:
    return {key for name, key in keys.items() if not name.startswith("orphan_")}


def orphaned(keys: dict[str, str]) -> set[str]:
    return {key for name, key in keys.items() if name.startswith("orphan_")}


def local_keys() -> set[str]:
    root = Path(default_storage.path(""))
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


@pytest.fixture
def upload_tmp(settings: Any, tmp_path: Path) -> Path:
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "tmp" / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir(parents=True)
    return settings.FILE_UPLOAD_TEMP_DIR


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    """A storage folder of this test's own."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    return tmp_path / "media"


def database_gone(keys: list[str]) -> set[str]:
    raise DatabaseError("the database went away")


def age(path: Path, seconds: float) -> None:
    then = path.stat().st_mtime - seconds
    os.utime(path, (then, then))


# --- Local storage ------------------------------------------------------------------------------


def test_old_files_nothing_names_go_and_named_ones_stay(
    media: Path, upload_tmp: Path, world: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="operations.orphans"):
        report = sweep_orphans(now=later())

    assert local_keys() == kept(world)
    assert report.stored_removed == len(orphaned(world))
    assert report.failed == 0
    assert f"removed {len(orphaned(world))} stored files" in caplog.text


def test_young_files_stay_even_when_nothing_names_them_yet(
    media: Path, upload_tmp: Path, world: dict[str, str]
) -> None:
    # A request stores its file first and writes the row a moment later.
    report = sweep_orphans()

    assert local_keys() == set(world.values())
    assert report.stored_removed == 0


def test_a_file_is_kept_while_any_app_names_it(media: Path, upload_tmp: Path, alice: User) -> None:
    shared = store("audio/shared.mp3")
    first = AudioFactory.create(file_key=shared)
    AudioFactory.create(file_key=shared, reused=True)
    first.delete()

    sweep_orphans(now=later())

    assert local_keys() == {shared}


def test_old_temporary_uploads_go_and_recent_ones_stay(media: Path, upload_tmp: Path) -> None:
    abandoned = upload_tmp / "tmpabc.upload.pdf"
    abandoned.write_bytes(b"%PDF half an upload")
    age(abandoned, 2 * 3600)
    receiving = upload_tmp / "tmpdef.upload.pdf"
    receiving.write_bytes(b"%PDF an upload under way")

    report = sweep_orphans()

    assert not abandoned.exists()
    assert receiving.exists()
    assert report.temporary_removed == 1


def test_files_outside_the_upload_folder_are_never_touched(
    media: Path, upload_tmp: Path, tmp_path: Path
) -> None:
    neighbour = upload_tmp.parent / "someone-elses.tmp"
    neighbour.write_bytes(b"not ours")
    age(neighbour, 24 * 3600)

    sweep_orphans()

    assert neighbour.exists()


def test_the_upload_folder_is_made_again_when_missing(
    media: Path, upload_tmp: Path, settings: Any
) -> None:
    upload_tmp.rmdir()

    sweep_orphans()

    assert upload_tmp.is_dir()


def test_the_age_limit_is_a_setting(
    media: Path, upload_tmp: Path, world: dict[str, str], settings: Any
) -> None:
    settings.ORPHAN_MIN_AGE_SECONDS = 3 * 3600

    sweep_orphans(now=later())

    assert local_keys() == set(world.values())


def test_nothing_is_deleted_when_an_app_cannot_answer(
    media: Path, upload_tmp: Path, world: dict[str, str], settings: Any
) -> None:
    settings.STORED_FILE_IN_USE = [
        *settings.STORED_FILE_IN_USE,
        "operations.tests.test_orphans.database_gone",
    ]

    with pytest.raises(DatabaseError):
        sweep_orphans(now=later())

    assert local_keys() == set(world.values())


def test_the_task_and_the_command_run_the_sweep(
    media: Path, upload_tmp: Path, world: dict[str, str], settings: Any
) -> None:
    settings.ORPHAN_MIN_AGE_SECONDS = 300
    for key in world.values():
        age(media / key, 3600)

    assert sweep_orphans_task.delay().get()["stored_removed"] == len(orphaned(world))
    abandoned = upload_tmp / "tmpabc.upload.txt"
    abandoned.write_bytes(b"half")
    age(abandoned, 3600)
    output = io.StringIO()
    call_command("sweep_orphans", "--temporary-only", stdout=output)

    assert "Removed 0 stored files and 1 temporary uploads" in output.getvalue()

    assert local_keys() == kept(world)
    assert not abandoned.exists()


def test_the_sweep_runs_hourly(settings: Any) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-orphans"]
    assert entry == {"task": "operations.sweep_orphans", "schedule": 3600.0}


# --- S3 -----------------------------------------------------------------------------------------


def test_on_s3_old_objects_nothing_names_go_and_named_ones_stay(
    s3: S3Server, bucket: str, upload_tmp: Path, world: dict[str, str]
) -> None:
    assert s3.keys(bucket) == set(world.values())

    report = sweep_orphans(now=later())

    assert s3.keys(bucket) == kept(world)
    assert report.stored_removed == len(orphaned(world))


def test_on_s3_young_objects_stay(
    s3: S3Server, bucket: str, upload_tmp: Path, world: dict[str, str]
) -> None:
    sweep_orphans()

    assert s3.keys(bucket) == set(world.values())


def test_on_s3_objects_of_other_programs_in_the_bucket_stay(
    s3: S3Server, bucket: str, upload_tmp: Path
) -> None:
    client = s3.client()
    for key in ("backups/db.dump", "site/index.html", "originals-of-someone/x.pdf"):
        client.put_object(Bucket=bucket, Key=key, Body=b"not ours")

    sweep_orphans(now=later())

    assert s3.keys(bucket) == {"backups/db.dump", "site/index.html", "originals-of-someone/x.pdf"}
