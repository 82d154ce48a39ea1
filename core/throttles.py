"""Per-user rate limits shared by several apps' endpoints."""

from __future__ import annotations

import contextlib
from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle


class RetryThrottle(UserRateThrottle):
    """Retries of failed documents and failed audio, together."""

    scope = "retry"


class UploadThrottle(UserRateThrottle):
    """New documents (a file, pasted text, a web address) and pages fetched from the web,
    together, from the API and from the pages alike (THROTTLE_UPLOAD).

    Only what is accepted counts: a request refused for what it carries (a type not supported,
    too large, empty, locked by a password, an address not allowed) gives its slot back, so a
    person who tried the wrong file ten times can still add the right one.
    """

    scope = "upload"
    # The moment this request was counted at, while its slot may still be given back.
    taken: float | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        allowed = super().allow_request(request, view)
        if allowed and self.taken is not None:
            _counted_on(request).append(self)
        return allowed

    def throttle_success(self) -> bool:
        self.taken = self.now
        return super().throttle_success()

    def refund(self) -> None:
        """Give back the slot `allow_request` took for this request (once; a no-op when none
        was taken). The history is read again: other requests may have been counted since."""
        if self.taken is None or self.key is None:
            return
        history = list(self.cache.get(self.key, []))
        with contextlib.suppress(ValueError):
            history.remove(self.taken)
            self.cache.set(self.key, history, self.parse_rate(self.rate)[1])
        self.taken = None


_COUNTED = "_counted_uploads"


def _counted_on(request: Any) -> list[UploadThrottle]:
    counted: list[UploadThrottle] | None = getattr(request, _COUNTED, None)
    if counted is None:
        counted = []
        setattr(request, _COUNTED, counted)
    return counted


def refund_uploads(request: Any) -> None:
    """Give back every upload slot this request took: it was refused."""
    for throttle in _counted_on(request):
        throttle.refund()


def is_refusal(status_code: int) -> bool:
    """A request turned down for what it asked, which costs no allowance: a 4xx, except being
    over the limit itself."""
    return 400 <= status_code < 500 and status_code != 429


class RefusalsAreFree:
    """For an APIView: the upload slots the request took (by the view's throttles, or by
    `count_upload`) are given back when the view answers with a refusal (`is_refusal`)."""

    def count_upload(self, request: Request) -> None:
        """Count this request against the upload allowance now (429 when it is spent)."""
        throttle = UploadThrottle()
        if not throttle.allow_request(request, self):
            self.throttled(request, throttle.wait() or 1.0)  # type: ignore[attr-defined]

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        if is_refusal(response.status_code):
            refund_uploads(request)
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
