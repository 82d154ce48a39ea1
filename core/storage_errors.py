"""Storage failures sorted into those worth retrying and those an operator must fix.

Django's storage API raises whatever its backend raises: ``OSError`` from the file system,
botocore errors from S3 (django-storages passes them through). Work that writes to storage asks
``is_transient_storage_error`` whether a retry with backoff can help (the store could not be
reached, timed out, throttled or answered 5xx) or not (the bucket does not exist, access is
denied, the credentials are wrong): those fail at once with a sentence for users, and the cause
goes to the log.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)

# S3 error codes that no retry can fix: the configuration or the credentials are wrong.
_PERMANENT_CODES = frozenset(
    {
        "AccessDenied",
        "AccountProblem",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidBucketName",
        "InvalidToken",
        "NoSuchBucket",
        "SignatureDoesNotMatch",
    }
)
# S3 error codes that say "not now": throttling and the service's own trouble.
_TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "OperationAborted",
        "RequestTimeout",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
    }
)
_CREDENTIAL_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)
_SAFE_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


def is_transient_storage_error(exc: BaseException) -> bool:
    """True when retrying later can help; False when an operator must change something first.

    Anything not recognised counts as transient: a few bounded retries cost less than failing
    work that a moment later would have succeeded.
    """
    if isinstance(exc, ClientError):
        code, status = _client_error_details(exc)
        if code in _TRANSIENT_CODES or status == 429 or status >= 500:
            return True
        return not (code in _PERMANENT_CODES or 400 <= status < 500)
    return not isinstance(exc, (*_CREDENTIAL_ERRORS, PermissionError))


def storage_error_code(exc: BaseException) -> str:
    """A short name for logs: the S3 error code, else the exception's class name."""
    if isinstance(exc, ClientError):
        code = _client_error_details(exc)[0]
        if _SAFE_CODE.fullmatch(code):
            return code
    return type(exc).__name__


def _client_error_details(exc: ClientError) -> tuple[str, int]:
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    code = str(response.get("Error", {}).get("Code") or "")
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return code, status
