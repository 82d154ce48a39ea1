"""The API's content negotiation: DRF's choice, reached without parsing for the usual requests."""

from __future__ import annotations

import pytest
from django.http import Http404
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from core.negotiation import JSONFirstNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    " application/json ",
    "application/json; indent=4",
    "application/json;q=0.9, */*;q=0.1",
    "text/html, application/xhtml+xml, */*;q=0.8",
    "application/*",
]


def _request(accept: str | None, query: str = "") -> Request:
    factory = APIRequestFactory()
    path = f"/api/v1/anything/{query}"
    if accept is None:
        return Request(factory.get(path))
    return Request(factory.get(path, HTTP_ACCEPT=accept))


def _choice(negotiation: DefaultContentNegotiation, request: Request) -> tuple[str, str]:
    renderer, media_type = negotiation.select_renderer(request, [JSONRenderer()])
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("accept", ACCEPTS)
def test_the_choice_is_drfs_own(accept: str | None) -> None:
    assert _choice(JSONFirstNegotiation(), _request(accept)) == _choice(
        DefaultContentNegotiation(), _request(accept)
    )


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_the_usual_requests_skip_drfs_parsing(
    accept: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("negotiated the long way")

    monkeypatch.setattr(DefaultContentNegotiation, "select_renderer", parse)

    assert _choice(JSONFirstNegotiation(), _request(accept)) == (
        "JSONRenderer",
        "application/json",
    )


def test_a_format_override_or_several_renderers_go_the_long_way() -> None:
    negotiation = JSONFirstNegotiation()
    # DRF answers 404 for a format no renderer has; the short way would have answered JSON.
    with pytest.raises(Http404):
        negotiation.select_renderer(_request("*/*", "?format=xml"), [JSONRenderer()])
    renderer, _ = negotiation.select_renderer(
        _request("text/html"), [JSONRenderer(), BrowsableAPIRenderer()]
    )
    assert isinstance(renderer, BrowsableAPIRenderer)


@pytest.mark.django_db
def test_the_api_still_refuses_what_it_cannot_answer(alice_client: APIClient) -> None:
    assert alice_client.get("/api/v1/documents/", HTTP_ACCEPT="*/*").status_code == 200
    refused = alice_client.get("/api/v1/documents/", HTTP_ACCEPT="text/html")
    assert refused.status_code == 406
    assert refused.json()["error"]["code"]
