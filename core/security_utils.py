"""Errors that say nothing about the system, and logs that keep the real cause next to an id."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _

logger = logging.getLogger("pagecast.errors")


def new_error_id() -> str:
    return uuid.uuid4().hex


def error_body(
    *,
    code: str,
    message: str,
    fields: dict[str, Any] | None = None,
    error_id: str | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "fields": fields or {}}
    if error_id:
        error["error_id"] = error_id
    return {"error": error}


def _user_id(request: HttpRequest) -> object:
    try:
        return getattr(getattr(request, "user", None), "pk", None)
    except Exception:
        # Loading the user needs the database, which may be the very thing that failed: the
        # error is logged without the user rather than not at all.
        return None


def log_exception_safely(
    exc: BaseException,
    *,
    error_id: str,
    request: HttpRequest | None = None,
    context: str = "",
) -> None:
    """Log an unexpected exception with its traceback; the redaction filter strips secrets."""
    details: dict[str, Any] = {"error_id": error_id}
    if request is not None:
        details.update(method=request.method, path=request.path, user_id=_user_id(request))
    if context:
        details["context"] = context
    logger.error(
        "Unexpected error %s %s",
        error_id,
        " ".join(f"{key}={value}" for key, value in details.items() if key != "error_id"),
        exc_info=(type(exc), exc, exc.__traceback__),
        extra={"error_id": error_id},
    )


def safe_error_response(
    exc: BaseException | None = None,
    *,
    request: HttpRequest | None = None,
    status: int = 500,
    code: str = "server_error",
    message: str | None = None,
) -> JsonResponse:
    """The error envelope with a generic message and an id that is also in the log."""
    error_id = new_error_id()
    if exc is not None:
        log_exception_safely(exc, error_id=error_id, request=request)
    body = error_body(
        code=code,
        message=message or _("Something went wrong on our side. Please try again later."),
        error_id=error_id,
    )
    return JsonResponse(body, status=status)
