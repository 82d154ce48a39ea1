from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from document_processing.tests.factories import DocumentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value", ["0", "-1", "abc", "null", "1.5", "9999999999", "9" * 5000, "٣", "²", "\x00"]
)
def test_a_page_size_that_is_not_a_whole_number_from_one_is_a_400(
    value: str, alice_client: APIClient
) -> None:
    response = alice_client.get("/api/v1/documents/", {"page_size": value})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"page_size": ["Enter a whole number from 1."]}


def test_page_size_picks_the_page_length_and_is_capped(alice: Any, alice_client: APIClient) -> None:
    DocumentFactory.create_batch(3, owner=alice)
    client = alice_client
    first = client.get("/api/v1/documents/", {"page_size": "2"}).json()
    assert (first["count"], len(first["results"])) == (3, 2)
    assert first["next"] is not None
    capped = client.get("/api/v1/documents/", {"page_size": "5000"}).json()
    assert len(capped["results"]) == 3
    assert client.get("/api/v1/documents/", {"page_size": ""}).status_code == 200


def test_the_schema_describes_the_page_envelope(alice_client: APIClient) -> None:
    schema = alice_client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    listed = schema["paths"]["/api/v1/shared-with-me/"]["get"]
    ref = listed["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert {p["name"] for p in listed["parameters"]} >= {"page", "page_size"}
