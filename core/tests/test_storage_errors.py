"""Which storage failures are retried (the store is unreachable or busy) and which fail at once
(the bucket, the keys or the permissions are wrong). The S3-mode tests show each against a real
S3 server; these cover the answers that server cannot be made to give (throttling, 5xx)."""

from __future__ import annotations

import logging
import time

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from core.storage_errors import (
    OccasionalWarning,
    is_transient_storage_error,
    storage_error_code,
)


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "details"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "PutObject",
    )


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("SlowDown", 503),
        ("ServiceUnavailable", 503),
        ("InternalError", 500),
        ("RequestTimeout", 400),
        ("TooManyRequests", 429),
        ("SomethingNew", 502),
    ],
)
def test_throttling_timeouts_and_server_errors_are_transient(code: str, status: int) -> None:
    assert is_transient_storage_error(client_error(code, status))


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("NoSuchBucket", 404),
        ("AccessDenied", 403),
        ("InvalidAccessKeyId", 403),
        ("SignatureDoesNotMatch", 403),
        ("AllAccessDisabled", 403),
        ("403", 403),  # a HEAD request's error has no body, only its status
        ("EntityTooLarge", 400),
    ],
)
def test_configuration_and_permission_errors_are_permanent(code: str, status: int) -> None:
    assert not is_transient_storage_error(client_error(code, status))


@pytest.mark.parametrize(
    "exc",
    [
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        ConnectionRefusedError(),
        OSError(28, "No space left on device"),
        TimeoutError(),
    ],
)
def test_unreachable_or_full_stores_are_transient(exc: BaseException) -> None:
    assert is_transient_storage_error(exc)


@pytest.mark.parametrize("exc", [NoCredentialsError(), PermissionError(13, "Permission denied")])
def test_missing_credentials_and_file_permissions_are_permanent(exc: BaseException) -> None:
    assert not is_transient_storage_error(exc)


def test_the_logged_code_is_the_s3_code_or_the_class_never_the_message() -> None:
    assert storage_error_code(client_error("NoSuchBucket", 404)) == "NoSuchBucket"
    assert storage_error_code(client_error("Bad code with spaces", 400)) == "ClientError"
    refused = EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
    assert storage_error_code(refused) == "EndpointConnectionError"


def test_an_occasional_warning_is_logged_once_per_period(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    warn = OccasionalWarning(logging.getLogger("test.occasional"), seconds=60)

    with caplog.at_level(logging.WARNING, logger="test.occasional"):
        warn("%s is full", "the disk")
        clock[0] += 59
        warn("%s is full", "the disk")
        clock[0] += 2
        warn("%s is full", "the disk")

    assert [r.getMessage() for r in caplog.records] == ["the disk is full", "the disk is full"]
