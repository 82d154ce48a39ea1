"""Range requests over stored audio: what is served for every kind of Range header (RFC 9110)."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from rest_framework.test import APIClient

from document_processing.tests.factories import document_with_pages
from speech_processing.models import Audio
from speech_processing.streaming import parse_range
from users.models import User

HUGE = "9" * 5000  # past Python's 4,300-digit limit on int()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", None),
        ("bytes=0-9", (0, 9)),
        ("bytes=10-", (10, 99)),
        ("bytes=-5", (95, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=100-", False),
        ("bytes=-0", False),
        ("bytes=9-3", False),
        # Past the end of any file, however many digits: from there nothing can be served, up to
        # there everything, and that many last bytes are the whole file.
        (f"bytes={HUGE}-", False),
        (f"bytes={HUGE}-{HUGE}", False),
        (f"bytes=10-{HUGE}", (10, 99)),
        (f"bytes=-{HUGE}", (0, 99)),
        (f"bytes={'0' * 30}5-9", (5, 9)),
        # Not the grammar of a byte range (ASCII digits only): ignored, the whole file is served.
        ("bytes=٣-", None),
        ("bytes=0-٩", None),
        ("bytes=\uff13-", None),
        ("bytes=²-", None),
        ("bytes=+1-2", None),
        ("bytes=1_0-20", None),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
        ("bytes=0-9\n", (0, 9)),
        ("bytes=\x000-9", None),
    ],
)
def test_ranges(header: str, expected: Any) -> None:
    assert parse_range(header, 100) == expected


@pytest.fixture
def audio(alice: User) -> Audio:
    page = document_with_pages(owner=alice, pages=1).pages.get()
    key = default_storage.save("audio/range.mp3", ContentFile(b"\xff\xfb\x90\x00" * 64))
    return Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", file_key=key,
        status=Audio.Status.COMPLETED, size_bytes=256, created_by=alice,
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "status"),
    [(f"bytes={HUGE}-", 416), (f"bytes=-{HUGE}", 206), (f"bytes=0-{HUGE}", 206), ("bytes=٣-", 200)],
)
def test_a_download_answers_any_range_without_a_server_error(
    alice_client: APIClient, audio: Audio, header: str, status: int
) -> None:
    response = alice_client.get(f"/api/v1/audios/{audio.pk}/download/", HTTP_RANGE=header)
    assert response.status_code == status
    if status == 416:
        assert response["Content-Range"] == "bytes */256"
    else:
        assert len(b"".join(response.streaming_content)) == 256  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_anyone_asking_for_a_voice_sample_with_a_huge_range_is_refused_cleanly() -> None:
    anonymous = Client()
    response = anonymous.get("/voices/fake:alpha/sample/", HTTP_RANGE=f"bytes={HUGE}-")
    assert response.status_code == 416
    assert response["Content-Range"].startswith("bytes */")
    whole = anonymous.get("/voices/fake:alpha/sample/", HTTP_RANGE=f"bytes=-{HUGE}")
    assert whole.status_code == 206
    assert whole["Content-Range"].startswith("bytes 0-")
