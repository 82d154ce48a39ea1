"""A local S3-compatible server (moto's) on 127.0.0.1 for the S3-mode tests, and what they need
around it: the storage settings production builds, a bucket per test, a port that refuses
connections, IAM rules that deny, and an independent check of SigV4 query signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# moto accepts any key pair while IAM checks are off; these are the operator's.
ADMIN_KEY, ADMIN_SECRET = "pagecast-test-key", "pagecast-test-secret"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self, *, key: str = ADMIN_KEY, secret: str = ADMIN_SECRET) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    def new_bucket(self) -> str:
        name = f"pagecast-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> set[str]:
        """Every object in the bucket, listed by the operator's own client."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {entry["Key"] for page in pages for entry in page.get("Contents", ())}

    def read(self, bucket: str, key: str) -> bytes:
        body: bytes = self.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def user_with_policy(self, statements: list[dict[str, Any]]) -> tuple[str, str]:
        """A new IAM user whose only permissions are `statements`; returns its key pair."""
        iam = boto3.client(
            "iam",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ADMIN_KEY,
            aws_secret_access_key=ADMIN_SECRET,
        )
        name = f"pagecast-{uuid.uuid4().hex[:12]}"
        iam.create_user(UserName=name)
        document = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(
            UserName=name, PolicyName="storage", PolicyDocument=json.dumps(document)
        )
        access = iam.create_access_key(UserName=name)["AccessKey"]
        return str(access["AccessKeyId"]), str(access["SecretAccessKey"])


@contextmanager
def running_s3_server() -> Iterator[S3Server]:
    """moto's server in a thread of this process, on a free port of 127.0.0.1."""
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(endpoint=f"http://{host}:{port}")
    finally:
        server.stop()
        werkzeug_log.setLevel(level)


@contextmanager
def iam_enforced() -> Iterator[None]:
    """moto checks every request's signature and its user's IAM policies (off by default)."""
    with enable_iam_authentication():
        yield


@contextmanager
def refused_endpoint() -> Iterator[str]:
    """An endpoint on 127.0.0.1 that refuses connections: a port bound but never listening
    (held for the duration, so nothing else can take it)."""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{holder.getsockname()[1]}"
    finally:
        holder.close()


def production_storage_settings(
    *, endpoint: str, bucket: str, extra_env: dict[str, str] | None = None
) -> dict[str, Any]:
    """What core/settings/base.py builds for STORAGE_BACKEND=s3 from these variables, read in a
    fresh interpreter exactly as a deployment would."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "SECRET_KEY": "s3-mode-" + "x" * 60,
            "STORAGE_BACKEND": "s3",
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ADMIN_KEY,
            "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET,
            **(extra_env or {}),
        }
    )
    code = (
        "import json; from core.settings import base; print(json.dumps({"
        "'STORAGE_BACKEND': base.STORAGE_BACKEND, 'default': base.STORAGES['default']}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return built


def sigv4_query_signature(url: str, *, secret: str, method: str = "GET") -> str:
    """The SigV4 signature a presigned S3 URL must carry, computed here from the AWS
    specification (not by botocore), over every query parameter but the signature itself."""
    parts = urlsplit(url)
    params = parse_qsl(parts.query, keep_blank_values=True)
    fields = dict(params)
    amz_date = fields["X-Amz-Date"]
    _key_id, date, region, service, terminator = fields["X-Amz-Credential"].split("/")
    scope = f"{date}/{region}/{service}/{terminator}"

    def encode(value: str) -> str:
        return quote(value, safe="-_.~")

    canonical_query = "&".join(
        f"{encode(k)}={encode(v)}" for k, v in sorted(params) if k != "X-Amz-Signature"
    )
    canonical_request = "\n".join(
        [
            method,
            parts.path,
            canonical_query,
            f"host:{parts.netloc}\n",
            fields["X-Amz-SignedHeaders"],
            "UNSIGNED-PAYLOAD",
        ]
    )
    string_to_sign = "\n".join(
        [
            fields["X-Amz-Algorithm"],
            amz_date,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


# --- Fixtures, for any test module (the root conftest loads this module as a plugin) ---------


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with running_s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def built(s3: S3Server) -> dict[str, Any]:
    """The storage settings production builds for that server (the bucket is set per test)."""
    return production_storage_settings(endpoint=s3.endpoint, bucket="set-per-test")


@pytest.fixture
def bucket(settings: Any, s3: S3Server, built: dict[str, Any]) -> str:
    """A new bucket, made the default storage for the test."""
    name = s3.new_bucket()
    settings.STORAGE_BACKEND = built["STORAGE_BACKEND"]
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**built["default"], "OPTIONS": {**built["default"]["OPTIONS"],
                                                    "bucket_name": name}},
    }  # fmt: skip
    return name
