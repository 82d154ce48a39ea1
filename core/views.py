"""Operational endpoints: health for load balancers and probes."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.request import Request
from rest_framework.response import Response

from core.health import run_checks

_health_schema = inline_serializer(
    "Health",
    {
        "status": serializers.ChoiceField(choices=["ok", "error"]),
        "checks": serializers.DictField(child=serializers.ChoiceField(choices=["ok", "error"])),
    },
)


@extend_schema(responses={200: _health_schema, 503: _health_schema}, tags=["operations"])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([])
def health(request: Request) -> Response:
    """All dependencies: 200 when every check passes, 503 naming the failing ones."""
    results = run_checks()
    ok = all(result.ok for result in results)
    body = {
        "status": "ok" if ok else "error",
        "checks": {result.name: "ok" if result.ok else "error" for result in results},
    }
    response = Response(body, status=200 if ok else 503)
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@require_GET
def live(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers; no dependency is checked."""
    return JsonResponse({"status": "ok"})
