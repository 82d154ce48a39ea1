"""A full disk: reads, log-in and downloads keep working; writes answer 503 with a message, leave
nothing behind, and the log says what is full.

A disk cannot be filled in a test, so the layers that would notice are made to fail as they do:
the database and the cache server as core/tests/full_disk.py describes; storage and temporary
upload files fail with ENOSPC naming the file.
"""

from __future__ import annotations

import errno
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.models import Session
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.db import OperationalError
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from core import sessions
from core.apps import update_last_login_if_possible
from core.sessions import SIGNED_PREFIX
from core.storage_errors import OccasionalWarning, OutOfSpace, out_of_space, unless_out_of_space
from core.tests.full_disk import FullableValkey, database_refusing_writes, genuine_sqlite_full
from core.urls import handler500
from document_processing.models import Document
from document_processing.tests.factories import document_with_pages
from speech_processing.tests.factories import AudioFactory
from users.models import User
from users.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

MESSAGE = "The server is out of storage space; try again later."


@pytest.fixture
def database_full() -> Iterator[None]:
    with database_refusing_writes():
        yield


@pytest.fixture
def storage_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Saving a stored file fails with ENOSPC naming the file (what os.open says)."""

    def refuse(storage: FileSystemStorage, name: str, content: Any) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", storage.path(name))

    monkeypatch.setattr(FileSystemStorage, "_save", refuse)


@pytest.fixture
def temporary_uploads_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing an upload's temporary file fails with ENOSPC naming it."""

    def refuse(handler: TemporaryFileUploadHandler, raw_data: bytes, start: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", handler.file.temporary_file_path())

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", refuse)


@pytest.fixture
def disk_full(database_full: None, storage_full: None, temporary_uploads_full: None) -> None:
    """All of it at once, as on the real full disk."""


def stored_files() -> set[str]:
    root = Path(default_storage.path(""))
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def markdown_upload() -> io.BytesIO:
    stream = io.BytesIO(b"# The lighthouse\n\nThe keeper climbed the stairs at dusk.\n")
    stream.name = "lighthouse.md"
    return stream


def assert_out_of_space(response: Any) -> None:
    assert response.status_code == 503, response.content
    body = response.json()["error"]
    assert body["code"] == "service_unavailable"
    assert body["message"] == MESSAGE
    assert body["error_id"]
    assert "space" in response.headers["Retry-After"] or int(response.headers["Retry-After"]) > 0


# --- Telling a full disk from other failures ----------------------------------------------------


def test_a_full_disk_is_recognised_wherever_it_is_raised(settings: Any) -> None:
    named = OSError(errno.ENOSPC, "No space left on device", "/data/media/originals/a.pdf")
    assert out_of_space(named) == OutOfSpace("/data/media/originals/a.pdf")
    assert out_of_space(OSError(errno.EDQUOT, "Disk quota exceeded", "/q")) == OutOfSpace("/q")
    full = out_of_space(
        wrapped(OperationalError(*genuine_sqlite_full().args), genuine_sqlite_full())
    )
    assert full is not None
    assert str(settings.DATABASES["default"]["NAME"]) in full.location

    class DiskFull(Exception):  # what psycopg raises, by its SQLSTATE
        sqlstate = "53100"

    assert out_of_space(OperationalError("could not extend file")) is None
    assert out_of_space(wrapped(OperationalError("could not extend file"), DiskFull())) is not None
    valkey = wrapped(RuntimeError("cache"), redis.exceptions.ResponseError(
        "MISCONF Errors writing to the AOF file: No space left on device"
    ))  # fmt: skip
    assert out_of_space(valkey) is not None


def wrapped(error: Exception, cause: Exception) -> Exception:
    """`error` raised from `cause`, as a driver's error is wrapped by Django."""
    try:
        raise error from cause
    except Exception as raised:
        return raised


def test_other_failures_are_not_a_full_disk() -> None:
    assert out_of_space(OSError(errno.EACCES, "Permission denied", "/x")) is None
    assert out_of_space(OperationalError("database is locked")) is None
    assert out_of_space(RuntimeError("boom")) is None


# --- Writes: 503 with a message, nothing left behind, the log names the path --------------------


def test_an_upload_that_cannot_be_stored_is_503_and_leaves_nothing(
    alice: User, alice_client: APIClient, storage_full: None, caplog: pytest.LogCaptureFixture
) -> None:
    before = stored_files()  # what other tests of this process left
    with caplog.at_level(logging.ERROR, logger="pagecast.errors"):
        response = alice_client.post(
            "/api/v1/documents/", {"file": markdown_upload()}, format="multipart"
        )

    assert_out_of_space(response)
    assert not Document.objects.exists()
    assert stored_files() == before
    line = next(r for r in caplog.records if "Out of storage space" in r.getMessage())
    assert str(Path(default_storage.path("")) / "originals") in line.getMessage()
    assert response.json()["error"]["error_id"] in line.getMessage()


def test_an_upload_whose_temporary_file_cannot_be_written_is_503_and_leaves_nothing(
    alice: User,
    alice_client: APIClient,
    temporary_uploads_full: None,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    temporary = Path(settings.FILE_UPLOAD_TEMP_DIR)
    before = set(temporary.iterdir())
    with caplog.at_level(logging.ERROR, logger="pagecast.errors"):
        response = alice_client.post(
            "/api/v1/documents/", {"file": markdown_upload()}, format="multipart"
        )

    assert_out_of_space(response)
    assert not Document.objects.exists()
    assert set(temporary.iterdir()) == before
    assert str(settings.FILE_UPLOAD_TEMP_DIR) in caplog.text


def test_a_write_the_database_cannot_take_is_503_naming_the_database(
    alice: User, alice_client: APIClient, database_full: None, settings: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    before = stored_files()
    with caplog.at_level(logging.ERROR, logger="pagecast.errors"):
        response = alice_client.post(
            "/api/v1/documents/", {"title": "Notes", "text": "Some words."}, format="json"
        )

    assert_out_of_space(response)
    # SQLite names its file; PostgreSQL its database and host.
    assert re.search(rf"{re.escape(str(settings.DATABASES['default']['NAME']))}( on \S+)? is full",
                     caplog.text)  # fmt: skip
    assert stored_files() == before


def signed_in(user: User) -> Client:
    """A browser signed in as `user` (its session is written now, before the disk fills)."""
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    return browser


@pytest.fixture
def alice_browser(alice: User) -> Client:
    return signed_in(alice)


def test_a_web_form_that_cannot_be_saved_is_a_friendly_503_page(
    alice_browser: Client, disk_full: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="pagecast.errors"):
        response = alice_browser.post("/library/paste/", {"title": "Notes", "text": "Some words."})

    assert response.status_code == 503
    assert MESSAGE in response.content.decode()
    assert "Out of storage space" in caplog.text


# --- Reads, downloads and log-in keep working ----------------------------------------------------


@pytest.fixture
def library(alice: User) -> dict[str, int]:
    document = document_with_pages(owner=alice, pages=2)
    key = default_storage.save("audio/page.mp3", ContentFile(b"ID3" + b"\0" * 2000))
    page = document.pages.order_by("number").first()
    assert page is not None
    audio = AudioFactory.create(page=page, file_key=key, size_bytes=2003, created_by=alice)
    return {"document": document.pk, "page": page.pk, "audio": audio.pk}


def test_api_reads_and_downloads_keep_working(
    alice_client: APIClient, library: dict[str, int], disk_full: None
) -> None:
    for path in (
        "/api/v1/documents/",
        f"/api/v1/documents/{library['document']}/",
        f"/api/v1/documents/{library['document']}/pages/",
        f"/api/v1/pages/{library['page']}/",
        f"/api/v1/pages/{library['page']}/audios/",
        f"/api/v1/audios/{library['audio']}/",
        "/api/v1/auth/me/",
        "/api/v1/voices/",
    ):
        assert alice_client.get(path).status_code == 200, path

    download = alice_client.get(f"/api/v1/audios/{library['audio']}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).startswith(b"ID3")  # type: ignore[attr-defined]


def test_web_pages_keep_working(
    alice_browser: Client, library: dict[str, int], disk_full: None
) -> None:
    for path in (
        "/library/",
        f"/documents/{library['document']}/",
        f"/documents/{library['document']}/listen/",
        f"/pages/{library['page']}/",
        "/settings/",
    ):
        assert alice_browser.get(path, follow=True).status_code == 200, path
    assert Client().get("/accounts/login/").status_code == 200


def test_a_token_log_in_works_when_the_account_has_a_token(
    alice: User, alice_client: APIClient, disk_full: None
) -> None:
    # alice_client made alice's token before the disk filled up.
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": alice.email, "password": DEFAULT_PASSWORD}
    )

    assert response.status_code == 200


def test_a_token_log_in_that_must_write_a_new_token_is_a_clean_503(
    alice: User, disk_full: None
) -> None:
    response = APIClient().post(
        "/api/v1/auth/token/", {"email": alice.email, "password": DEFAULT_PASSWORD}
    )

    assert_out_of_space(response)


def test_the_log_in_time_not_being_saved_does_not_stop_a_log_in(
    alice: User, database_full: None, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="core.storage_errors"):
        user_logged_in.send(sender=User, request=None, user=alice)

    assert "Could not save the log-in time of user" in caplog.text
    assert re.search(rf"{re.escape(str(settings.DATABASES['default']['NAME']))}( on \S+)? is full",
                     caplog.text)  # fmt: skip


def test_django_s_own_last_login_receiver_is_replaced() -> None:
    receivers = [ref() for _key, ref, *_rest in user_logged_in.receivers]
    assert update_last_login_if_possible in receivers
    assert all(getattr(r, "__name__", "") != "update_last_login" for r in receivers)


def log_in(browser: Client, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    browser.get("/accounts/login/")
    return browser.post("/accounts/login/", {"login": email, "password": password})


def test_a_browser_log_in_works_with_its_session_in_a_signed_cookie(
    alice: User,
    library: dict[str, int],
    disk_full: None,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A warning not yet given in this process.
    monkeypatch.setattr(sessions, "_warn", OccasionalWarning(logging.getLogger("core.sessions")))
    browser = Client()
    with caplog.at_level(logging.WARNING, logger="core.sessions"):
        response = log_in(browser, alice.email)

    assert response.status_code == 302
    assert browser.cookies["sessionid"].value.startswith(SIGNED_PREFIX)
    assert not Session.objects.exists()
    library_page = browser.get("/library/")
    assert library_page.status_code == 200
    assert library_page.context["user"] == alice
    assert re.search(r"kept in signed cookies for up to 3600 s: the database \S+.* is full",
                     caplog.text)  # fmt: skip


def test_once_space_is_freed_the_session_moves_back_into_the_database(
    alice: User, storage_full: None
) -> None:
    browser = Client()
    with database_refusing_writes():
        assert log_in(browser, alice.email).status_code == 302

    assert browser.get("/library/").status_code == 200

    key = browser.cookies["sessionid"].value
    assert not key.startswith(SIGNED_PREFIX)
    assert Session.objects.get(session_key=key).get_decoded()["_auth_user_id"] == str(alice.pk)
    assert browser.get("/library/").context["user"] == alice


def test_log_in_lockout_keeps_counting_when_the_cache_server_is_full(
    alice: User,
    bob: User,
    database_full: None,
    fullable_valkey: FullableValkey,
    settings: Any,
) -> None:
    settings.CACHES = {
        **settings.CACHES,
        "default": {"BACKEND": "core.cache.RedisCache", "LOCATION": fullable_valkey.cache_url()},
    }
    fullable_valkey.fill_disk()
    browser = Client()

    for _ in range(settings.LOGIN_ATTEMPTS_LIMIT):
        assert log_in(browser, alice.email, "wrong password").status_code == 200
    refused = log_in(browser, alice.email)

    assert refused.status_code == 200  # the form again, not a log-in
    assert "Too many failed login attempts" in refused.content.decode()
    assert browser.get("/library/").status_code == 302  # to the log-in page
    # Someone else logs in as usual.
    assert log_in(Client(), bob.email).status_code == 302


@pytest.mark.parametrize("path", ["/library/", "/api/v1/documents/"])
def test_a_full_disk_after_the_view_is_a_503_too(path: str) -> None:
    # A session or anything else a middleware saves after the view reaches handler500.
    request = RequestFactory().get(path)
    try:
        raise OSError(errno.ENOSPC, "No space left on device", "/data/db.sqlite3-wal")
    except OSError:
        response = handler500(request)

    assert response.status_code == 503
    assert MESSAGE in response.content.decode()


def test_other_server_errors_stay_500() -> None:
    request = RequestFactory().get("/api/v1/documents/")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        response = handler500(request)

    assert response.status_code == 500


def test_other_database_errors_still_stop_the_write_they_happen_in(alice: User) -> None:
    with pytest.raises(OperationalError), unless_out_of_space("a test write"):
        raise OperationalError("database is locked")
