from __future__ import annotations

from typing import Any

import pytest
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from document_processing.models import Document
from document_processing.tasks import extract_document_task

pytestmark = pytest.mark.django_db


def test_a_broker_outage_at_enqueue_keeps_the_request_and_the_row(
    alice_client: APIClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr(extract_document_task, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post("/api/v1/documents/", {"title": "t", "text": "Hello."})
    assert response.status_code == 202
    document = Document.objects.get(pk=response.json()["id"])
    # Pending, for the stuck-job sweep to queue again; the cause is in the log.
    assert document.status == Document.Status.PENDING
    assert "queueing document_processing.tasks.extract_document_task" in caplog.text
