"""The dashboard's storage figure: every kind of stored file on its own line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage

from document_processing.models import Document
from document_processing.tests.factories import document_with_pages
from exports.models import Export
from operations.storage_usage import storage_usage
from operations.tests.conftest import browser_for
from speech_processing.models import Audio, Audiobook
from users.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> None:
    """A storage folder of this test's own: the folders listed hold this test's files only."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def stored(key: str, size: int) -> str:
    return default_storage.save(key, ContentFile(b"x" * size))


def library(alice: User) -> None:
    """One file of each kind, each of a size of its own."""
    document = document_with_pages(owner=alice, pages=2)
    Document.objects.filter(pk=document.pk).update(
        file_key=stored("originals/a.pdf", 5000), file_size=5000,
        cover_key=stored("covers/a.jpg", 300),
    )  # fmt: skip
    page = document.pages.get(number=1)
    Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", status=Audio.Status.COMPLETED,
        file_key=stored("audio/a.mp3", 2048), size_bytes=2048,
    )  # fmt: skip
    being_made = Audio.objects.create(
        page=page, voice="fake:beta", engine="fake", status=Audio.Status.GENERATING,
        stream_parts=2,
    )  # fmt: skip
    for number in range(2):
        stored(f"audio-stream/{being_made.pk}/1/{number:05d}.mp3", 100)
    Audiobook.objects.create(
        document=document, voice="fake:alpha", status=Audiobook.Status.COMPLETED,
        file_key=stored("audiobooks/a.m4b", 7000), size_bytes=7000, pages_total=2,
    )  # fmt: skip
    Export.objects.create(
        user=alice, status=Export.Status.COMPLETED,
        file_key=stored("exports/a.zip", 9000), size_bytes=9000,
    )  # fmt: skip
    stored("voice-samples/a.mp3", 400)
    stored("audit/access-log-2026-01.jsonl.gz", 50)


def test_every_kind_of_stored_file_is_counted_on_its_own_line(alice: User) -> None:
    library(alice)
    usage = storage_usage()
    lines = {kind.key: (kind.files, kind.bytes) for kind in usage.kinds}
    assert lines["originals"] == (1, 5000)
    assert lines["audio"] == (1, 2048)
    assert lines["stream_parts"] == (2, 200)
    assert lines["covers"] == (1, 300)
    assert lines["audiobooks"] == (1, 7000)
    assert lines["exports"] == (1, 9000)
    assert lines["samples"] == (1, 400)
    assert lines["audit"] == (1, 50)
    # Page text is in the database: two pages of the factory's Markdown, in characters.
    markdown = sum(len(page.markdown) for page in Document.objects.get().pages.all())
    assert lines["pages"] == (2, markdown)
    assert usage.unmeasured == []
    # Files in all; page text is in the database and not among them.
    assert usage.stored_bytes == 5000 + 2048 + 200 + 300 + 7000 + 9000 + 400 + 50


def test_a_folder_storage_cannot_list_is_named_not_fatal(alice: User, tmp_path: Path) -> None:
    library(alice)

    class Unreachable(FileSystemStorage):
        def listdir(self, path: str) -> tuple[list[str], list[str]]:
            if path == "covers":
                raise OSError("storage is unreachable")
            return super().listdir(path)

    usage = storage_usage(Unreachable(location=str(tmp_path / "media")))
    assert "covers" not in {kind.key for kind in usage.kinds}
    assert {kind.key for kind in usage.kinds} >= {"originals", "audio", "stream_parts"}
    assert usage.unmeasured == ["Covers"]


def test_the_dashboard_shows_each_kind_and_the_total(staff: User, alice: User) -> None:
    library(alice)
    page = browser_for(staff).get("/dashboard/").content.decode()
    shown = {
        key: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block)).strip().replace("\xa0", " ")
        for key, block in re.findall(
            r'<div class="stat" id="storage-([a-z_]+)">(.*?)</div>', page, re.S
        )
    }
    assert shown["originals"] == "Originals 4.9 KB 1 file"
    assert shown["covers"] == "Covers 300 bytes 1 file"
    assert shown["stream_parts"] == "Audio being made (parts) 200 bytes 2 files"
    assert shown["audiobooks"] == "Audiobooks 6.8 KB 1 file"
    assert shown["exports"] == "Data exports 8.8 KB 1 file"
    assert shown["samples"] == "Voice previews 400 bytes 1 file"
    assert shown["audit"] == "Audit log exports 50 bytes 1 file"
    assert shown["pages"].endswith("2 pages, in the database")
    assert shown["all"] == "Files in all 23.4 KB"
