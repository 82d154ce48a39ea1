"""Exports and account deletion in S3 mode, against moto's S3 server on 127.0.0.1.

The bucket is listed with the operator's own client, never through the code under test.
"""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from conftest import client_for
from core.tests.s3_server import S3Server
from document_processing import services as document_services
from document_processing.models import Document
from document_processing.tests.factories import PageFactory
from exports.models import Export
from speech_processing.tests.factories import AudioFactory
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

Capture = Callable[..., AbstractContextManager[Any]]


def test_the_zip_goes_to_the_bucket_and_downloads_by_a_signed_url(
    alice: User, s3: S3Server, bucket: str, django_capture_on_commit_callbacks: Capture
) -> None:
    document = document_services.create_document_from_text(
        owner=alice, title="Tides", text="# High water\n\nAt noon."
    )
    client = client_for(alice)

    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/api/v1/auth/me/export/")

    export = Export.objects.get(pk=started.json()["id"])
    assert export.status == Export.Status.COMPLETED, export.error
    assert s3.keys(bucket) == {document.file_key, export.file_key}
    archive = zipfile.ZipFile(io.BytesIO(s3.read(bucket, export.file_key)))
    manifest = json.loads(archive.read("manifest.json"))
    assert archive.read(manifest["documents"][0]["original"]) == b"# High water\n\nAt noon."

    response = client.get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(f"{s3.endpoint}/{bucket}/{export.file_key}?")
    query = parse_qs(urlsplit(url).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["response-content-disposition"][0].startswith("attachment; filename=")
    with urllib.request.urlopen(url, timeout=10) as fetched:
        assert fetched.read() == s3.read(bucket, export.file_key)


def test_deleting_the_account_empties_the_bucket_of_its_objects(
    alice: User, bob: User, s3: S3Server, bucket: str,
    django_capture_on_commit_callbacks: Capture,
) -> None:  # fmt: skip
    hers = document_services.create_document_from_text(owner=alice, title="Mine", text="Hello.")
    bobs = document_services.create_document_from_text(owner=bob, title="Bob's", text="Hi.")
    Document.objects.filter(pk=hers.pk).update(status=Document.Status.COMPLETED)
    page = PageFactory.create(document=hers, number=1)
    AudioFactory.create(page=page, file_key=default_storage.save("audio/a.mp3", ContentFile(b"x")))
    with django_capture_on_commit_callbacks(execute=True):
        client_for(alice).post("/api/v1/auth/me/export/")
    assert len(s3.keys(bucket)) == 4

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).delete(
            "/api/v1/auth/me/", {"password": DEFAULT_PASSWORD}, format="json"
        )

    assert response.status_code == 204
    assert not User.objects.filter(pk=alice.pk).exists()
    assert s3.keys(bucket) == {bobs.file_key}
