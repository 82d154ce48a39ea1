"""What the web views share: the signed-in person, errors as messages, the API's rate limits."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from core.exceptions import ApplicationError, NotFound, PermissionDenied, RateLimited
from core.storage_errors import out_of_space
from core.throttles import RetryThrottle, UploadThrottle, is_refusal
from users.models import User


def signed_in(request: HttpRequest) -> User:
    """The person behind a view that `login_required` guards."""
    user = request.user
    assert isinstance(user, User)
    return user


@contextmanager
def shown_as_page_errors() -> Iterator[None]:
    """An object the person may not see is a 404 page, a forbidden action a 403 page."""
    try:
        yield
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc


@contextmanager
def reported(request: HttpRequest) -> Iterator[None]:
    """Any other refusal from a service is told to the person on the next page."""
    with shown_as_page_errors():
        try:
            yield
        except (NotFound, PermissionDenied):
            raise
        except ApplicationError as exc:
            if exc.status_code >= 500 and out_of_space(exc) is not None:
                raise  # the out-of-storage page (core.middleware), and a log line naming the path
            messages.error(request, exc.message)


def report_form_errors(request: HttpRequest, form: forms.Form) -> None:
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))


# The same scopes as the API's throttles, so a person has one allowance whichever way they ask.
class ShareThrottle(UserRateThrottle):
    scope = "share"


class GenerateThrottle(UserRateThrottle):
    scope = "generate"


def check_rate(request: HttpRequest, throttle_class: type[SimpleRateThrottle]) -> None:
    _count(request, throttle_class())


def _count(request: HttpRequest, throttle: SimpleRateThrottle) -> None:
    view: Any = None
    if not throttle.allow_request(request, view):  # type: ignore[arg-type]
        wait = throttle.wait()
        # Said in words ("about 45 minutes") on the next page.
        raise RateLimited(retry_after=int(wait) + 1 if wait is not None else None)


@contextmanager
def upload_allowance(request: HttpRequest) -> Iterator[None]:
    """Count one new document (or fetched page) against the upload allowance, and give it back
    when the service refuses what was sent: only what is accepted counts."""
    throttle = UploadThrottle()
    _count(request, throttle)
    try:
        yield
    except ApplicationError as exc:
        if is_refusal(exc.status_code):
            throttle.refund()
        raise


__all__ = [
    "RetryThrottle",
    "ShareThrottle",
    "UploadThrottle",
    "check_rate",
    "report_form_errors",
    "reported",
    "shown_as_page_errors",
    "signed_in",
    "upload_allowance",
]
