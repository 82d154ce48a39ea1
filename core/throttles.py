"""Per-user rate limits shared by several apps' endpoints."""

from rest_framework.throttling import UserRateThrottle


class RetryThrottle(UserRateThrottle):
    """Retries of failed documents and failed audio, together."""

    scope = "retry"
