"""One place that turns every error on an API path into the envelope of API.md."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core import error_pages
from core.exceptions import ApplicationError
from core.security_utils import error_body, log_exception_safely, new_error_id
from core.storage_errors import OutOfSpace, out_of_space
from core.waits import rate_limited_message

API_PREFIX = "/api/"

# DRF exception class → (code, safe message). Checked in order: subclasses first.
_DRF_CODES: list[tuple[type[drf.APIException], str, str | None]] = [
    (drf.NotAuthenticated, "not_authenticated", None),
    (drf.AuthenticationFailed, "not_authenticated", None),
    (drf.PermissionDenied, "permission_denied", None),
    (drf.NotFound, "not_found", None),
    (drf.MethodNotAllowed, "method_not_allowed", None),
    (drf.NotAcceptable, "not_acceptable", None),
    (drf.UnsupportedMediaType, "unsupported_media_type", None),
    (drf.Throttled, "rate_limited", None),
    (drf.ParseError, "validation_error", "The request body is not valid JSON or form data."),
    (drf.ValidationError, "validation_error", "Some fields are not valid."),
]


def _flatten(detail: Any) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _flatten(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _flatten(value)]
    return [str(detail)]


def _fields(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {
            str(key): (_fields(value) if isinstance(value, dict) else _flatten(value))
            for key, value in detail.items()
        }
    return {"non_field_errors": _flatten(detail)}


def _from_drf(exc: drf.APIException) -> Response:
    code, message = "server_error", None
    for cls, mapped_code, mapped_message in _DRF_CODES:
        if isinstance(exc, cls):
            code, message = mapped_code, mapped_message
            break
    fields: dict[str, Any] = {}
    if isinstance(exc, drf.ValidationError):
        fields = _fields(exc.detail)
        messages = _flatten(exc.detail)
        if len(messages) == 1:
            message = messages[0]
    if message is None:
        message = " ".join(_flatten(exc.detail))
    headers: dict[str, str] = {}
    if isinstance(exc, drf.Throttled):
        # Seconds for programs in the header; words for people in the message.
        wait = max(int(getattr(exc, "wait", None) or 1), 1)
        headers["Retry-After"] = str(wait)
        message = rate_limited_message(wait)
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header
    return Response(
        error_body(code=code, message=str(message), fields=fields),
        status=exc.status_code,
        headers=headers,
    )


def _from_application(exc: ApplicationError, request: HttpRequest | None) -> Response:
    headers = {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(int(exc.retry_after), 1))
    error_id = None
    if exc.status_code >= 500:
        # API.md: every 5xx carries an id that is in the log next to the cause. These are
        # deliberate answers (a switch turned off, a store refusing): a warning, no traceback.
        error_id = new_error_id()
        logging.getLogger("pagecast.errors").warning(
            "%s %s on %s %s: %s",
            exc.code, error_id,
            getattr(request, "method", "-"), getattr(request, "path", "-"), exc.message,
        )  # fmt: skip
    return Response(
        error_body(code=exc.code, message=exc.message, fields=exc.fields, error_id=error_id),
        status=exc.status_code,
        headers=headers,
    )


def _unavailable(exc: BaseException, request: HttpRequest | None) -> Response:
    error_id = new_error_id()
    log_exception_safely(exc, error_id=error_id, request=request, context="database unavailable")
    return Response(
        error_body(
            code="service_unavailable",
            message=_("The service is temporarily unavailable. Please try again later."),
            error_id=error_id,
        ),
        status=503,
        headers={"Retry-After": "30"},
    )


def out_of_space_message() -> str:
    return _("The server is out of storage space; try again later.")


# A full disk is not fixed in seconds; clients that honour Retry-After come back in minutes.
OUT_OF_SPACE_RETRY_AFTER = "300"


def log_out_of_space(full: OutOfSpace, request: HttpRequest | None) -> str:
    """One line an operator can act on: what is full, and the request that found out."""
    error_id = new_error_id()
    logging.getLogger("pagecast.errors").error(
        "Out of storage space %s on %s %s: %s is full",
        error_id, getattr(request, "method", "-"), getattr(request, "path", "-"), full.location,
    )  # fmt: skip
    return error_id


def _full_disk(exc: BaseException) -> OutOfSpace | None:
    if isinstance(exc, drf.APIException | Http404 | DjangoPermissionDenied) or (
        isinstance(exc, ApplicationError) and exc.status_code < 500
    ):
        return None  # an answer about the request itself, whatever happened before it
    return out_of_space(exc)


def _out_of_space_body(exc: BaseException, request: HttpRequest | None) -> dict[str, Any] | None:
    full = _full_disk(exc)
    if full is None:
        return None
    error_id = log_out_of_space(full, request)
    return error_body(code="service_unavailable", message=out_of_space_message(), error_id=error_id)


def out_of_space_answer(exc: BaseException, request: HttpRequest | None) -> JsonResponse | None:
    """The 503 envelope when `exc` (or its cause) is a full disk, database or quota; else None."""
    body = _out_of_space_body(exc, request)
    if body is None:
        return None
    return JsonResponse(body, status=503, headers={"Retry-After": OUT_OF_SPACE_RETRY_AFTER})


def out_of_space_page(exc: BaseException, request: HttpRequest) -> HttpResponse | None:
    """The web UI's page for the same (503), or None when `exc` is something else."""
    full = _full_disk(exc)
    if full is None:
        return None
    error_id = log_out_of_space(full, request)
    context = {"message": out_of_space_message(), "error_id": error_id}
    body: str
    try:
        body = render_to_string("out_of_space.html", context, request=request)
    except Exception:
        # The site's layout needs the database; the message must get out without it too.
        body = f"<!doctype html><title>Pagecast</title><p>{escape(context['message'])}</p>"
    return HttpResponse(body, status=503, headers={"Retry-After": OUT_OF_SPACE_RETRY_AFTER})


def out_of_space_response(exc: BaseException, request: HttpRequest) -> HttpResponse | None:
    """503 for a full disk: the envelope on API paths, a page elsewhere; None for other errors."""
    if is_api_request(request):
        return out_of_space_answer(exc, request)
    return out_of_space_page(exc, request)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception raised in an API view ends here."""
    request = context.get("request")
    set_rollback()
    # First: a service that turned a full disk into its own "could not store" error still
    # carries the cause, and the answer and the log should say what happened.
    body = _out_of_space_body(exc, getattr(request, "_request", request))
    if body is not None:
        return Response(body, status=503, headers={"Retry-After": OUT_OF_SPACE_RETRY_AFTER})
    if isinstance(exc, ApplicationError):
        return _from_application(exc, getattr(request, "_request", request))
    if isinstance(exc, Http404):
        exc = drf.NotFound(_("Not found."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied(_("You do not have permission to do this."))
    elif isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(code="payload_too_large", message=_("The request body is too large.")),
            status=413,
        )
    elif isinstance(exc, SuspiciousOperation):
        return Response(
            error_body(code="validation_error", message=_("The request is not valid.")),
            status=400,
        )
    if isinstance(exc, drf.APIException):
        return _from_drf(exc)
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    ):
        return _unavailable(exc, getattr(request, "_request", request))
    error_id = new_error_id()
    log_exception_safely(exc, error_id=error_id, request=getattr(request, "_request", request))
    return Response(
        error_body(
            code="server_error",
            message=_("Something went wrong on our side. Please try again later."),
            error_id=error_id,
        ),
        status=500,
    )


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


# The catch-all for unknown API paths changes nothing, so it answers every method with the 404
# envelope instead of a CSRF refusal.
@csrf_exempt
def api_not_found(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body(code="not_found", message=_("Not found.")), status=404)


def api_bad_request(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body(code="validation_error", message=_("The request is not valid.")), status=400
    )


def api_permission_denied(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        error_body(code="permission_denied", message=_("You do not have permission to do this.")),
        status=403,
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: the envelope on API paths, the site's page elsewhere."""
    if is_api_request(request):
        return JsonResponse(
            error_body(
                code="permission_denied",
                message=_("The request was refused: reload the page and try again (CSRF)."),
            ),
            status=403,
        )
    return error_pages.csrf_failure(request)


def api_server_error(request: HttpRequest) -> HttpResponse:
    # The exception was already logged by Django's request handling; this id ties the answer to a
    # log line that names the path.
    error_id = new_error_id()
    logging.getLogger("pagecast.errors").error(
        "Unhandled server error %s on %s %s", error_id, request.method, request.path
    )
    return JsonResponse(
        error_body(
            code="server_error",
            message=_("Something went wrong on our side. Please try again later."),
            error_id=error_id,
        ),
        status=500,
    )
