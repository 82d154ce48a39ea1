from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from speech_processing import voices
from users.models import User
from users.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _fresh_engines() -> Iterator[None]:
    voices.reset_caches()
    yield
    voices.reset_caches()


@pytest.fixture
def staff(db: None) -> User:
    return UserFactory.create(email="staff@example.com", is_staff=True)


def browser_for(user: User | None) -> Client:
    """A browser session (cookies, CSRF as a browser sends it) signed in as `user`."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client
