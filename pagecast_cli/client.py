"""`pagecast login`, `upload` and `listen`: a client of a running Pagecast server's token API.

The server's address and the token are kept in `$XDG_CONFIG_HOME/pagecast/config.json` (by
default `~/.config/pagecast/`), readable by its owner only. Error answers carry the envelope of
API.md; its `message` is what the person sees.
"""

from __future__ import annotations

import contextlib
import json
import mimetypes
import os
import shutil
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3

from pagecast_cli.files import (
    OutputError,
    atomic_writer,
    check_folder,
    describe_os_error,
    document_stem,
    page_stem,
    prepare_folder,
)

API = "/api/v1"
TIMEOUT = urllib3.Timeout(connect=10.0, read=120.0)
_CHUNK = 256 * 1024
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


class ClientError(Exception):
    """A request that failed, with a sentence for the person at the shell."""


# --- The configuration file --------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    url: str
    token: str
    email: str = ""


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "pagecast" / "config.json"


def save_login(login: Login) -> Path:
    """Write the login where only its owner can read it (0600, in a 0700 folder)."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data = json.dumps({"url": login.url, "token": login.token, "email": login.email}, indent=2)
    partial = path.with_name(f".{path.name}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), 0o600)  # also when the partial file was there before
            handle.write(data + "\n")
        partial.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return path


def load_login() -> Login:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        login = Login(url=str(data["url"]), token=str(data["token"]), email=str(data.get("email")))
    except FileNotFoundError:
        raise ClientError("Not logged in: run `pagecast login URL` first.") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClientError(
            f"The login in {path} cannot be read; run `pagecast login URL` again."
        ) from exc
    if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        path.chmod(0o600)  # copied or restored with wider permissions: narrow them again
    return login


def server_url(url: str) -> str:
    """`http://host:8000/` → `http://host:8000`; refuses what is not an http(s) address."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ClientError(f"{url!r} is not a server address such as http://127.0.0.1:8000.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_unencrypted(url: str) -> bool:
    """True for plain HTTP to another machine: the token would cross the network readable."""
    parts = urlsplit(url)
    return parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK_HOSTS


# --- Requests ----------------------------------------------------------------------------------


class Api:
    def __init__(self, url: str, token: str | None = None) -> None:
        self.url = server_url(url)
        self.token = token
        self.http = urllib3.PoolManager(timeout=TIMEOUT, retries=urllib3.Retry(2, redirect=3))

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        # Its connections are closed when a command is done, not whenever the object is
        # collected: the server keeps a thread (and its database connection) for each open one.
        self.http.clear()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            response = self.http.request(
                method, self.url + path, headers=headers, json=json_body, fields=fields
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ClientError(f"Cannot reach {self.url}: {_reason(exc)}.") from exc
        if response.status >= 400:
            raise ClientError(_error_message(response.status, response.data, response.headers))
        if response.status == 204 or not response.data:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ClientError(f"{self.url} did not answer like a Pagecast server.") from exc

    def download(self, path: str, target: Path) -> int:
        """Stream `path` into `target` (written whole or not at all); return the bytes."""
        headers = {"Authorization": f"Token {self.token}"} if self.token else {}
        try:
            response = self.http.request(
                "GET", self.url + path, headers=headers, preload_content=False
            )
        except urllib3.exceptions.HTTPError as exc:
            raise ClientError(f"Cannot reach {self.url}: {_reason(exc)}.") from exc
        try:
            if response.status >= 400:
                body = response.read()
                raise ClientError(_error_message(response.status, body, response.headers))
            with atomic_writer(target) as handle:
                shutil.copyfileobj(response, handle, _CHUNK)
                return handle.tell()
        except urllib3.exceptions.HTTPError as exc:
            raise ClientError(f"The download from {self.url} broke off: {_reason(exc)}.") from exc
        finally:
            response.release_conn()


def _reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused (is the server running?)"
    if "timed out" in text.lower():
        return "no answer in time"
    if "Name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    return type(reason).__name__


def _error_message(status: int, body: bytes, headers: Mapping[str, str]) -> str:
    """The envelope's message (API.md), with what to do about it where that is clear."""
    try:
        message = str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        message = f"The server answered {status}."
    if status == 401:
        return f"{message} Run `pagecast login URL` again."
    if status == 429 and headers.get("Retry-After"):
        return f"{message} Try again in {headers['Retry-After']} s."
    return message


# --- Commands ----------------------------------------------------------------------------------


def login(url: str, *, email: str, password: str) -> tuple[Login, Path]:
    with Api(url) as api:
        answer = api.request(
            "POST", f"{API}/auth/token/", json_body={"email": email, "password": password}
        )
        token = answer.get("token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise ClientError(f"{api.url} did not answer with a token.")
        saved = Login(url=api.url, token=token, email=email)
        return saved, save_login(saved)


def upload(path: Path, *, title: str | None = None) -> dict[str, Any]:
    """Send a document file; the server answers with the document (being read)."""
    credentials = load_login()
    if not path.is_file():
        raise ClientError(f"No such file: {path}" if not path.exists() else f"{path} is a folder.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ClientError(f"Cannot read {path}: {describe_os_error(exc)}.") from exc
    content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    fields: dict[str, Any] = {"file": (path.name, data, content_type)}
    if title:
        fields["title"] = title
    with Api(credentials.url, credentials.token) as api:
        document: dict[str, Any] = api.request("POST", f"{API}/documents/", fields=fields)
        return document


@dataclass
class ListenResult:
    folder: Path
    downloaded: list[Path]
    kept: list[Path]  # already there, same size
    missing: list[int]  # page numbers without finished audio
    # Why a missing page has no audio, when the server said (the playlist's reasons of API.md:
    # no_text, not_permitted, quota_exceeded, not_made), by page number.
    reasons: dict[int, str] = field(default_factory=dict)
    voice: str = ""


# Pages still being made are asked about again this often, for at most MAKE_WAIT_SECONDS.
POLL_SECONDS = 2.0
MAKE_WAIT_SECONDS = 30 * 60


def listen(
    document_id: int,
    *,
    out: Path | None,
    voice: str | None = None,
    make: bool = False,
    wait_seconds: float = MAKE_WAIT_SECONDS,
    on_page: Callable[[], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_making: Callable[[int], None] | None = None,
) -> ListenResult:
    """Download the finished audio of every page of a document, one MP3 per page.

    The server's playlist says which audio each page has in the voice (default: the person's
    own voice, as on the server). With `make`, the pages it could make (none yet, or outdated)
    are asked for in one request, and their audio is waited for before downloading.
    """
    credentials = load_login()
    with Api(credentials.url, credentials.token) as api:
        document = api.request("GET", f"{API}/documents/{document_id}/")
        status = document.get("status")
        if status == "failed":
            raise ClientError(
                f"Document {document_id} could not be read: {document['error_message']}"
            )
        if status != "completed":
            raise ClientError(f"Document {document_id} is still being read ({status}); try later.")
        folder = out if out is not None else Path.cwd() / document_stem(document.get("title") or "")
        try:
            check_folder(folder)
        except OutputError as exc:
            raise ClientError(str(exc)) from exc
        playlist = _playlist(api, document_id, voice)
        if make:
            playlist = _make_missing(
                api, document_id, playlist, wait_seconds=wait_seconds, on_making=on_making
            )
        entries = playlist.get("pages") or []
        page_count = len(document.get("pages") or entries)
        if on_total is not None:
            on_total(len(entries))
        result = ListenResult(
            folder=folder,
            downloaded=[],
            kept=[],
            missing=[],
            voice=str(playlist.get("voice") or ""),
        )
        for entry in entries:
            page, audio = entry["page"], entry.get("audio")
            if audio and audio.get("download_url"):
                _fetch_page(api, page, audio, page_count=page_count, result=result)
            else:
                result.missing.append(page["number"])
                if entry.get("reason"):
                    result.reasons[page["number"]] = str(entry["reason"])
            if on_page is not None:
                on_page()
        return result


def _playlist(api: Api, document_id: int, voice: str | None) -> dict[str, Any]:
    query = f"?{urlencode({'voice': voice})}" if voice else ""
    answer = api.request("GET", f"{API}/documents/{document_id}/playlist/{query}")
    if not isinstance(answer, dict) or not isinstance(answer.get("pages"), list):
        raise ClientError(f"{api.url} did not answer like a Pagecast server.")
    return answer


def _wanted(entry: dict[str, Any]) -> bool:
    """A page whose audio could be made now: none yet, or made from text since changed."""
    audio = entry.get("audio")
    return entry.get("reason") == "not_made" or bool(audio and audio.get("outdated"))


def _being_made(entry: dict[str, Any]) -> bool:
    audio = entry.get("audio")
    return bool(audio and audio.get("status") in ("pending", "generating"))


def _make_missing(
    api: Api,
    document_id: int,
    playlist: dict[str, Any],
    *,
    wait_seconds: float,
    on_making: Callable[[int], None] | None,
) -> dict[str, Any]:
    """Ask for the audio the playlist lacks, then wait until none of it is being made."""
    wanted = [entry["page"]["id"] for entry in playlist["pages"] if _wanted(entry)]
    voice = str(playlist["voice"])
    if wanted:
        api.request(
            "POST",
            f"{API}/documents/{document_id}/audios/",
            json_body={"voice": voice, "pages": wanted},
        )
    playlist = _playlist(api, document_id, voice)
    waiting = [entry for entry in playlist["pages"] if _being_made(entry)]
    if on_making is not None:
        on_making(len(waiting))
    deadline = time.monotonic() + wait_seconds
    while waiting and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        playlist = _playlist(api, document_id, voice)
        waiting = [entry for entry in playlist["pages"] if _being_made(entry)]
    return playlist


def _fetch_page(
    api: Api, page: dict[str, Any], audio: dict[str, Any], *, page_count: int, result: ListenResult
) -> None:
    target = (
        result.folder / f"{page_stem(page['number'], page['title'], page_count=page_count)}.mp3"
    )
    size = audio.get("size_bytes")
    if target.is_file() and size and target.stat().st_size == size:
        result.kept.append(target)
        return
    if not result.downloaded:
        try:
            prepare_folder(result.folder)
        except OutputError as exc:
            raise ClientError(str(exc)) from exc
    api.download(str(audio["download_url"]), target)
    result.downloaded.append(target)
