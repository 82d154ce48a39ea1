"""Fixtures shared by every app's tests: three people (alice owns, bob is shared with, charlie is a
stranger) and API clients logged in as each."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from operations.models import WorkerHeartbeat
from users.models import User
from users.tests.factories import UserFactory

# A local S3 server and a bucket per test (`s3`, `built`, `bucket`), for any app's S3 tests.
pytest_plugins = ["core.tests.s3_server", "core.tests.full_disk", "core.tests.browser"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    """pytest-django's test databases, and before they are dropped, the connections of threads
    that ended without closing theirs: such a connection lives on in a reference cycle until the
    collector frees it, and one still open makes dropping a PostgreSQL test database fail
    ("being accessed by other users")."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # Throttle counters live in the cache; every test starts with none.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _free_stream_slots() -> Iterator[None]:
    # A test that reads part of a live stream leaves its response open, and its slot taken.
    from speech_processing import live

    yield
    live.SLOTS.in_use = 0


@pytest.fixture
def live_worker(db: None) -> WorkerHeartbeat:
    """A worker that reported in a moment ago, its default voice speaking, as a running worker
    does: `/health/` wants one.

    The health checks run in threads with their own connections, so the tests that read
    `/health/` are transactional and see this row.
    """
    from django.conf import settings

    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        instance="test-worker", nodename="celery@test", host="test", pid=1,
        started_at=now, last_seen_at=now,
        engine_voice=settings.SPEECH_DEFAULT_VOICE, engine_ok_at=now,
    )  # fmt: skip


@pytest.fixture
def alice(db: None) -> User:
    return UserFactory.create(email="alice@example.com")


@pytest.fixture
def bob(db: None) -> User:
    return UserFactory.create(email="bob@example.com")


@pytest.fixture
def charlie(db: None) -> User:
    return UserFactory.create(email="charlie@example.com")


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def alice_client(alice: User) -> APIClient:
    return client_for(alice)


@pytest.fixture
def bob_client(bob: User) -> APIClient:
    return client_for(bob)


@pytest.fixture
def charlie_client(charlie: User) -> APIClient:
    return client_for(charlie)


def _uses_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def _real_broker() -> bool:
    return os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "amqp://", "pyamqp://"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL (as .ci/run does)")
    skip_broker = pytest.mark.skip(
        reason="needs a real broker: set CELERY_BROKER_URL to Redis (as .ci/run does)"
    )
    for item in items:
        if "postgres" in item.keywords and not _uses_postgres():
            item.add_marker(skip_pg)
        if "broker" in item.keywords and not _real_broker():
            item.add_marker(skip_broker)
