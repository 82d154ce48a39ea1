"""Serializers: the document list's hand-written rows say exactly what DocumentSerializer says."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.utils import timezone

from document_processing.models import Document
from document_processing.selectors import document_list, document_rows
from document_processing.serializers import DocumentListSerializer, DocumentSerializer
from document_processing.tests.factories import DocumentFactory
from sharing.models import DocumentShare
from users.models import User

pytestmark = pytest.mark.django_db


def _library(alice: User, bob: User) -> None:
    DocumentFactory.create(
        owner=alice, title="Cover <&> \u00e9t\u00e9", cover_key="covers/a.jpg",
        source_type=Document.SourceType.URL, source_url="https://example.com/a",
        original_filename="a.html", page_count=3, char_count=12_345, language="fr",
    )  # fmt: skip
    DocumentFactory.create(
        owner=alice, status=Document.Status.FAILED, error_message="Could not read it.",
        source_type=Document.SourceType.FILE, original_filename="b.pdf",
    )  # fmt: skip
    DocumentFactory.create(owner=alice, status=Document.Status.PROCESSING)
    for permission in ("view_only", "collaborator", "can_share"):
        DocumentShare.objects.create(
            document=DocumentFactory.create(owner=bob), shared_with=alice,
            permission=permission, shared_by=bob,
        )  # fmt: skip
    # Timestamps with and without microseconds.
    Document.objects.filter(title__startswith="Cover").update(
        created_at=datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC),
        updated_at=datetime(2024, 3, 1, 0, 0, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("zone", "created_at"),
    [
        ("UTC", "2024-02-29T23:59:59.123456Z"),
        ("America/Sao_Paulo", "2024-02-29T20:59:59.123456-03:00"),
    ],
)
def test_list_rows_are_the_json_of_the_document_serializer(
    alice: User, bob: User, zone: str, created_at: str
) -> None:
    _library(alice, bob)
    documents = list(document_list(user=alice))
    assert len(documents) == 6
    with timezone.override(zone):
        lean = DocumentListSerializer(list(document_rows(user=alice)), many=True).data  # type: ignore[arg-type]
        full = DocumentSerializer(documents, many=True).data
    # The same keys in the same order, the same values, the same JSON text.
    assert [list(row) for row in lean] == [list(row) for row in full]
    assert json.dumps(lean) == json.dumps(full)
    permissions = sorted(str(row["permission"]) for row in lean)
    assert permissions == ["can_share", "collaborator", "owner", "owner", "owner", "view_only"]
    covered = next(row for row in lean if row["cover_url"])
    assert covered["source_url"] == "https://example.com/a"
    assert covered["created_at"] == created_at
