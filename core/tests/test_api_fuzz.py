"""Property-based requests generated from the project's own OpenAPI schema (schemathesis).

Every operation is called with generated bodies, parameters and ids (valid and invalid) by an
authenticated user on a database with a document, pages and audio of theirs. No answer may be a
server error, and every answer must be what the schema promises: a documented status code and
content type, a body that validates against the documented schema (the error envelope for every
4xx and 5xx), the documented headers, and a 4xx for requests that break the schema.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.wsgi import application
from document_processing.tests.factories import document_with_pages
from speech_processing.models import Audio
from users.tests.factories import UserFactory


def _schema() -> dict[str, Any]:
    import django

    django.setup()
    return SchemaGenerator().get_schema(request=None, public=True)


# Multipart uploads are covered by document_processing/tests/test_api.py: schemathesis cannot
# send generated binary parts to a WSGI app.
schema = schemathesis.openapi.from_dict(_schema()).exclude(method="POST", path="/api/v1/documents/")
schema.app = application

# `/health/` answers 200 while a worker reports in (the `live_worker` row).
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_worker"),
]


@pytest.fixture
def token() -> str:
    user = UserFactory.create(email="fuzz@example.com")
    document = document_with_pages(owner=user, pages=2)
    page = document.pages.order_by("number")[0]
    key = default_storage.save("audio/fuzz.mp3", ContentFile(b"\xff\xfb\x90\x00" * 64))
    Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", file_key=key,
        status=Audio.Status.COMPLETED, size_bytes=256, created_by=user,
    )  # fmt: skip
    return Token.objects.create(user=user).key


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_answer_conforms_to_the_schema(case: Any, token: str) -> None:
    response = case.call(headers={"Authorization": f"Token {token}"})
    case.validate_response(response, checks=CHECKS)
