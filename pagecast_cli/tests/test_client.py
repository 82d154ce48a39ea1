"""The API client: the login file, addresses, error answers, and downloads from a live server."""

from __future__ import annotations

import json
import socket
import stat
import threading
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.authtoken.models import Token

from document_processing.models import Document
from document_processing.tests.factories import document_with_pages
from pagecast_cli import client
from pagecast_cli.client import ClientError, Login
from pagecast_cli.tests.conftest import files_in
from speech_processing.models import Audio
from speech_processing.tests.factories import AudioFactory
from users.models import User


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home


# --- The login file ----------------------------------------------------------------------------


def test_the_login_is_readable_by_its_owner_only(config_home: Path) -> None:
    path = client.save_login(Login(url="http://127.0.0.1:8000", token="abc", email="a@b.c"))
    assert path == config_home / "pagecast" / "config.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert client.load_login() == Login(url="http://127.0.0.1:8000", token="abc", email="a@b.c")

    # A leftover partial file with wide permissions does not widen the new login's.
    partial = path.with_name(".config.json.partial")
    partial.write_text("old")
    partial.chmod(0o644)
    client.save_login(Login(url="http://127.0.0.1:8000", token="def"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert files_in(path.parent) == ["config.json"]

    path.chmod(0o644)  # restored from a backup, say
    assert client.load_login().token == "def"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_login_folder_defaults_to_dot_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.setenv("HOME", "/home/someone")
    assert client.config_path() == Path("/home/someone/.config/pagecast/config.json")


def test_no_login_or_a_damaged_one(config_home: Path) -> None:
    with pytest.raises(ClientError, match="Not logged in"):
        client.load_login()
    path = config_home / "pagecast" / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ClientError, match="cannot be read"):
        client.load_login()


# --- Addresses and answers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("https://pagecast.example", "https://pagecast.example"),
        (" https://example.org/pagecast/ ", "https://example.org/pagecast"),
    ],
)
def test_server_addresses(given: str, url: str) -> None:
    assert client.server_url(given) == url


@pytest.mark.parametrize("given", ["127.0.0.1:8000", "ftp://example.org", "http://", "pagecast"])
def test_what_is_not_a_server_address(given: str) -> None:
    with pytest.raises(ClientError, match="is not a server address"):
        client.server_url(given)


def test_plain_http_is_flagged_unless_it_stays_on_this_machine() -> None:
    assert client.is_unencrypted("http://pagecast.example")
    assert not client.is_unencrypted("http://127.0.0.1:8000")
    assert not client.is_unencrypted("http://localhost:8000")
    assert not client.is_unencrypted("https://pagecast.example")


def _message(status: int, body: object, headers: dict[str, str] | None = None) -> str:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client._error_message(status, data, headers or {})


def test_error_answers_become_their_message() -> None:
    envelope = {"error": {"code": "not_found", "message": "Document not found.", "fields": {}}}
    assert _message(404, envelope) == "Document not found."
    refused = {"error": {"code": "not_authenticated", "message": "Invalid token."}}
    assert _message(401, refused) == "Invalid token. Run `pagecast login URL` again."
    limited = {"error": {"code": "rate_limited", "message": "Too many uploads."}}
    assert _message(429, limited, {"Retry-After": "30"}) == "Too many uploads. Try again in 30 s."
    assert _message(502, b"<html>Bad gateway</html>") == "The server answered 502."


# --- Against a live server ---------------------------------------------------------------------


def _logged_in(server: str, user: User) -> None:
    token, _ = Token.objects.get_or_create(user=user)
    client.save_login(Login(url=server, token=token.key, email=user.email))


def test_listen_refuses_a_document_not_yet_read(
    live_server: Any, alice: User, config_home: Path, tmp_path: Path
) -> None:
    _logged_in(live_server.url, alice)
    pending = Document.objects.create(
        owner=alice, title="Later", source_type=Document.SourceType.TEXT
    )
    with pytest.raises(ClientError, match=f"Document {pending.pk} is still being read"):
        client.listen(pending.pk, out=tmp_path / "out")
    failed = Document.objects.create(
        owner=alice,
        title="Broken",
        source_type=Document.SourceType.TEXT,
        status=Document.Status.FAILED,
        error_message="This file could not be read.",
    )
    with pytest.raises(ClientError, match=r"could not be read: This file could not be read\.$"):
        client.listen(failed.pk, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_listen_picks_the_voice_asked_for(
    live_server: Any, alice: User, config_home: Path, tmp_path: Path
) -> None:
    _logged_in(live_server.url, alice)
    document = document_with_pages(owner=alice, pages=2, title="Two voices")
    first = document.pages.get(number=1)
    for voice, content in (("fake:alpha", b"alpha audio"), ("fake:beta", b"beta audio")):
        key = default_storage.save(f"audio/{voice.replace(':', '-')}.mp3", ContentFile(content))
        AudioFactory.create(
            page=first,
            voice=voice,
            file_key=key,
            size_bytes=len(content),
            status=Audio.Status.COMPLETED,
        )
    out = tmp_path / "out"
    result = client.listen(document.pk, out=out, voice="fake:beta")
    assert result.missing == [2]
    assert (out / "001 - Page 1.mp3").read_bytes() == b"beta audio"
    result = client.listen(document.pk, out=tmp_path / "alpha", voice="fake:alpha")
    assert (tmp_path / "alpha" / "001 - Page 1.mp3").read_bytes() == b"alpha audio"


def test_a_refused_download_leaves_no_file(
    live_server: Any, alice: User, config_home: Path, tmp_path: Path
) -> None:
    _logged_in(live_server.url, alice)
    out = tmp_path / "out"
    out.mkdir()
    with (
        client.Api(live_server.url, Token.objects.get(user=alice).key) as api,
        pytest.raises(ClientError, match="not found"),
    ):
        api.download("/api/v1/audios/999999/download/", out / "page.mp3")
    assert files_in(out) == []


def test_a_server_that_is_not_pagecast(tmp_path: Path, live_server: Any) -> None:
    with (
        client.Api(live_server.url) as api,
        pytest.raises(ClientError, match="did not answer like a Pagecast server"),
    ):
        api.request("GET", "/static/pagecast.css")


def test_a_finished_client_hangs_up() -> None:
    """The server keeps a thread, and its database connection, for each open connection: a
    client done with its command closes its own at once."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        after_answer: list[bytes] = []

        def answer_then_listen() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                body = b'{"ok": true}'
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
                connection.settimeout(10)
                after_answer.append(connection.recv(65536))  # b"" once the client hangs up

        thread = threading.Thread(target=answer_then_listen)
        thread.start()
        with client.Api(f"http://127.0.0.1:{port}", "token") as api:
            assert api.request("GET", "/api/v1/auth/me/") == {"ok": True}
        thread.join(15)
    assert after_answer == [b""]


def test_a_download_that_breaks_off_leaves_no_file(tmp_path: Path) -> None:
    """A server that promises more bytes than it sends, then hangs up."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]

        def answer_once() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(65536)
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: audio/mpeg\r\n"
                    b"Content-Length: 100000\r\n\r\n" + b"\xff\xfb" * 50
                )

        thread = threading.Thread(target=answer_once)
        thread.start()
        api = client.Api(f"http://127.0.0.1:{port}", "token")
        with pytest.raises(ClientError, match="broke off"):
            api.download("/api/v1/audios/1/download/", tmp_path / "page.mp3")
        thread.join(10)
    assert files_in(tmp_path) == []
