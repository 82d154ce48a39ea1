"""The application's errors. Services raise these; one handler turns them into the API envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from django.utils.translation import gettext_lazy as _

from core.waits import rate_limited_message


class ApplicationError(Exception):
    """An error whose message is safe to show to the person who caused it."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "validation_error"
    default_message: ClassVar[str] = str(_("The request could not be processed."))

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: Mapping[str, list[str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = str(message) if message is not None else self.default_message
        self.fields = dict(fields or {})
        self.retry_after = retry_after
        super().__init__(self.message)


class ValidationError(ApplicationError):
    status_code = 400
    code = "validation_error"
    default_message = str(_("The request is not valid."))


class NotFound(ApplicationError):
    status_code = 404
    code = "not_found"
    default_message = str(_("Not found."))


class PermissionDenied(ApplicationError):
    status_code = 403
    code = "permission_denied"
    default_message = str(_("You do not have permission to do this."))


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"
    default_message = str(_("This conflicts with the current state."))


class AlreadyExists(Conflict):
    """What was asked for exists already, or is being made: refused (409), though nothing failed.
    The audit trail records it as such rather than as a failure."""


class QuotaExceeded(ApplicationError):
    status_code = 403
    code = "quota_exceeded"
    default_message = str(_("You have reached your limit."))


class RateLimited(ApplicationError):
    """Asked too often. Without a message of its own, it says how long to wait, in words."""

    status_code = 429
    code = "rate_limited"
    default_message = str(_("Too many requests. Please wait and try again."))

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: Mapping[str, list[str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        if message is None:
            message = rate_limited_message(retry_after)
        super().__init__(message, fields=fields, retry_after=retry_after)


class UnsupportedMediaType(ApplicationError):
    status_code = 415
    code = "unsupported_media_type"
    default_message = str(_("This type of file is not supported."))


class PayloadTooLarge(ApplicationError):
    status_code = 413
    code = "payload_too_large"
    default_message = str(_("The upload is too large."))


class ServiceUnavailable(ApplicationError):
    status_code = 503
    code = "service_unavailable"
    default_message = str(_("The service is temporarily unavailable. Please try again later."))
