from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

NOT_IN_SCHEMA = {"/api/v1/schema/", "/api/v1/docs/"}


def api_routes() -> set[str]:
    """Every concrete URL under /api/v1/ (and the health probes), as OpenAPI paths."""

    def walk(patterns: list[URLPattern | URLResolver], prefix: str) -> set[str]:
        found: set[str] = set()
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                found |= walk(pattern.url_patterns, route)
            elif not route.startswith("^"):
                path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                # drf-spectacular names a `pk` parameter `id`.
                found.add(path.replace("{pk}", "{id}"))
        return found

    routes = walk(get_resolver().url_patterns, "")
    return (
        {r for r in routes if r.startswith(("/api/v1/", "/health/"))}
        - NOT_IN_SCHEMA
        - {"/health/live/"}
    )


def test_the_schema_generates_without_warnings() -> None:
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_the_schema_is_valid_openapi_and_lists_every_endpoint() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert schema["openapi"].startswith("3.")
    assert api_routes() - set(schema["paths"]) == set()


def test_the_schema_endpoint_serves_openapi(alice_client: APIClient) -> None:
    response = alice_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/v1/auth/register/" in response.json()["paths"]


def test_the_docs_use_only_vendored_static_files(alice_client: APIClient) -> None:
    response = alice_client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    external = re.findall(r"""(?:src|href)=["'](https?:)?//""", html)
    assert external == []
    asset = alice_client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_schema_and_docs_need_authentication(anon_client: APIClient) -> None:
    assert anon_client.get("/api/v1/schema/").status_code == 401
    assert anon_client.get("/api/v1/docs/").status_code == 401


def test_pages_send_a_strict_content_security_policy(alice_client: APIClient) -> None:
    response = alice_client.get("/api/v1/docs/")
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    # The docs page has no inline script for that policy to block.
    html = response.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    script = alice_client.get("/api/v1/docs/", {"script": ""})
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()
