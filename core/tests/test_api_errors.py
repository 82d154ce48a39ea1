from __future__ import annotations

import json
import logging

import pytest
from rest_framework.test import APIClient

from core.tests.urls_for_errors import SECRET

pytestmark = [pytest.mark.django_db, pytest.mark.urls("core.tests.urls_for_errors")]


def assert_envelope(body: dict[str, object], code: str) -> dict[str, object]:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["fields"], dict)
    return error


def test_unexpected_exception_is_a_generic_500_with_an_id_that_is_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = APIClient(raise_request_exception=False)
    with caplog.at_level(logging.ERROR):
        response = client.get("/api/v1/test/drf-boom/")
    assert response.status_code == 500
    error = assert_envelope(response.json(), "server_error")
    error_id = error["error_id"]
    text = response.content.decode()
    for leak in (SECRET, "Traceback", "/srv/secret", "RuntimeError", "cannot reach"):
        assert leak not in text
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert str(error_id) in logged
    assert "cannot reach s3" in logged  # the real cause is in the log…
    assert SECRET not in logged  # …without the secret.


def test_exception_in_a_plain_view_on_an_api_path_is_an_envelope() -> None:
    client = APIClient(raise_request_exception=False)
    response = client.get("/api/v1/test/plain-boom/")
    assert response.status_code == 500
    error = assert_envelope(response.json(), "server_error")
    assert error["error_id"]
    assert SECRET not in response.content.decode()


def test_database_outage_is_a_503_envelope() -> None:
    response = APIClient(raise_request_exception=False).get("/api/v1/test/db-down/")
    assert response.status_code == 503
    error = assert_envelope(response.json(), "service_unavailable")
    assert error["error_id"]
    assert "connect" not in str(error["message"])


@pytest.mark.parametrize("path", ["/api/v1/nothing-here/", "/api/v2/", "/api/v1/auth/me/extra/"])
def test_unknown_api_paths_are_404_envelopes(path: str) -> None:
    response = APIClient().get(path)
    assert response.status_code == 404
    assert_envelope(response.json(), "not_found")


def test_wrong_method_is_405_envelope(anon_client: APIClient) -> None:
    response = anon_client.get("/api/v1/auth/register/")
    assert response.status_code == 405
    assert_envelope(response.json(), "method_not_allowed")


def test_unsupported_content_type_is_415_envelope(anon_client: APIClient) -> None:
    response = anon_client.generic(
        "POST", "/api/v1/auth/register/", "<x/>", content_type="application/xml"
    )
    assert response.status_code == 415
    assert_envelope(response.json(), "unsupported_media_type")


def test_html_pages_keep_html_errors() -> None:
    response = APIClient().get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
    ],
)
def test_deeply_nested_json_is_a_400(body: str) -> None:
    for path in ("/api/v1/auth/register/", "/api/v1/documents/"):
        response = APIClient().generic("POST", path, body, content_type="application/json")
        assert response.status_code in (400, 401), path
    response = APIClient().generic(
        "POST", "/api/v1/auth/register/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.urls("core.urls")
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_paths_answer_every_method_with_the_404_envelope(
    method: str, alice: object
) -> None:
    # A logged-in browser without a CSRF token: the catch-all must not answer Django's HTML
    # CSRF page.
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)  # type: ignore[arg-type]
    response = getattr(client, method)("/api/v1/audios/%C2%84/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert_envelope(response.json(), "not_found")


def test_csrf_refusal_is_an_envelope_on_api_paths_and_a_page_elsewhere() -> None:
    from django.test import RequestFactory

    from core.api_errors import csrf_failure

    factory = RequestFactory()
    api = csrf_failure(factory.post("/api/v1/documents/"), reason="CSRF cookie not set.")
    assert api.status_code == 403
    assert_envelope(json.loads(api.content), "permission_denied")
    page = csrf_failure(factory.post("/accounts/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")


def test_a_5xx_the_application_raises_carries_an_error_id_that_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        response = APIClient().get("/api/v1/test/switched-off/")
    assert response.status_code == 503
    error = assert_envelope(response.json(), "service_unavailable")
    assert error["message"] == "Audio generation is switched off for now."
    assert error["error_id"]
    (record,) = [r for r in caplog.records if str(error["error_id"]) in r.getMessage()]
    assert record.levelno == logging.WARNING  # deliberate: no traceback at error level
    assert "switched off" in record.getMessage()
