"""Storage failures sorted into those worth retrying and those an operator must fix.

Django's storage API raises whatever its backend raises: ``OSError`` from the file system,
botocore errors from S3 (django-storages passes them through). Work that writes to storage asks
``is_transient_storage_error`` whether a retry with backoff can help (the store could not be
reached, timed out, throttled or answered 5xx) or not (the bucket does not exist, access is
denied, the credentials are wrong): those fail at once with a sentence for users, and the cause
goes to the log.
"""

from __future__ import annotations

import errno
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    PartialCredentialsError,
)
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

logger = logging.getLogger(__name__)

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


# --- Out of space -------------------------------------------------------------------------------
# A full disk (or a used-up quota) shows up as ENOSPC or EDQUOT from the file system, SQLITE_FULL
# from SQLite, SQLSTATE 53100 (disk_full) from PostgreSQL, and MISCONF from a Redis or Valkey
# server that could not write its append-only file. Wherever it is raised, it is the same answer:
# 503, and the log names what is full.

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_POSTGRES_DISK_FULL = "53100"
_SQLITE_FULL_MESSAGE = "database or disk is full"


@dataclass(frozen=True)
class OutOfSpace:
    """Where space ran out: a path, or the database or cache server that said so."""

    location: str


def out_of_space(exc: BaseException) -> OutOfSpace | None:
    """What is full, when `exc` or anything that caused it says a disk or quota is full."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _full(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def unless_out_of_space(what: str) -> Iterator[None]:
    """Run a write that is a nicety beside a read (a play counted, a log-in time, an audit line
    of a download): on a full disk it is skipped with a warning that names what is full, and
    the read goes on. Any other failure is raised as before."""
    try:
        with transaction.atomic():  # a savepoint: the failed write leaves nothing half-done
            yield
    except Exception as exc:
        full = out_of_space(exc)
        if full is None:
            raise
        logger.warning("Could not save %s: %s is full", what, full.location)


class OccasionalWarning:
    """A warning logged at most once per `seconds` in a process: the same full disk, met by
    every request, is one line a minute, not one per request."""

    def __init__(self, log: logging.Logger, seconds: float = 60.0) -> None:
        self._log = log
        self._seconds = seconds
        self._last = -seconds
        self._lock = threading.Lock()

    def __call__(self, message: str, *args: object) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._seconds:
                return
            self._last = now
        self._log.warning(message, *args)


def _full(exc: BaseException) -> OutOfSpace | None:
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return OutOfSpace(str(exc.filename) if exc.filename else _storage_location())
    if isinstance(exc, sqlite3.Error) and (
        getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
        or _SQLITE_FULL_MESSAGE in str(exc)
    ):
        return OutOfSpace(_database_location())
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if code == _POSTGRES_DISK_FULL:
        return OutOfSpace(_database_location())
    if type(exc).__module__.startswith("redis") and str(exc).startswith("MISCONF"):
        return OutOfSpace("the cache and broker server's data folder (it cannot write its files)")
    return None


def _storage_location() -> str:
    """A write that failed without naming its file (``os.write``): the stored files' folder,
    or the data folder when files are stored elsewhere."""
    location = getattr(default_storage, "location", "")
    if isinstance(location, str) and location.startswith("/"):
        return location
    return f"a file under {settings.DATA_DIR}"


def _database_location() -> str:
    database: dict[str, Any] = settings.DATABASES["default"]
    if "sqlite" in str(database["ENGINE"]):
        return f"the database {database['NAME']}"
    return f"the database {database.get('NAME', '')} on {database.get('HOST') or 'localhost'}"
