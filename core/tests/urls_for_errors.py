"""The real URLs plus views that fail on purpose, for the error-envelope tests."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import ServiceUnavailable
from core.urls import handler400, handler403, handler404, handler500, urlpatterns

SECRET = "AKIAIOSFODNN7EXAMPLE"


@api_view(["GET"])
@permission_classes([AllowAny])
def drf_boom(request: Request) -> Response:
    raise RuntimeError(f"cannot reach s3 with key {SECRET} at /srv/secret/path")


@api_view(["GET"])
@permission_classes([AllowAny])
def drf_db_down(request: Request) -> Response:
    raise OperationalError("could not connect to server: Connection refused")


@api_view(["GET"])
@permission_classes([AllowAny])
def switched_off(request: Request) -> Response:
    raise ServiceUnavailable("Audio generation is switched off for now.")


def plain_boom(request: HttpRequest) -> HttpResponse:
    raise ValueError(f"plain view failure {SECRET}")


def plain_forbidden(request: HttpRequest) -> HttpResponse:
    raise DjangoPermissionDenied


def plain_bad_request(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("a request that makes no sense")


urlpatterns = [
    path("api/v1/test/drf-boom/", drf_boom),
    path("api/v1/test/db-down/", drf_db_down),
    path("api/v1/test/plain-boom/", plain_boom),
    path("api/v1/test/switched-off/", switched_off),
    path("test/page-boom/", plain_boom),
    path("test/page-forbidden/", plain_forbidden),
    path("test/page-bad-request/", plain_bad_request),
    *urlpatterns,
]

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]
