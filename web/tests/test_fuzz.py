"""No input makes a page answer with a server error.

Every page of the web app (library, documents, reader, settings, voice previews, the account
pages) and of the staff dashboard is asked for by the owner of a document with pages and audio
(alice), by a staff member and by an anonymous visitor, with hostile query strings: NUL
characters, digits of other scripts, numbers of thousands of digits, negative numbers, very long
values. Every form those pages show is sent back with such values in every field, and then in
one field at a time with the others as shown; and some pages and downloads are asked for with
garbage headers (Range, Accept-Language, conditional requests, cookies). An answer may refuse
(4xx) or ignore what it was given; it is never a 5xx.

The API is fuzzed from its own schema in core/tests/test_api_fuzz.py; its downloads appear here
only for the headers, which the schema does not describe.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare, ShareInvitation
from speech_processing.models import Audio
from users.models import User
from users.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HUGE_NUMBER = "1" + "0" * 5000  # 10**5000: past the 4,300 digits int() reads
HOSTILE = [
    "\x00",
    "a\x00b",
    "٣",  # Arabic-Indic three: str.isdigit() and int() accept it
    "\uff13",  # fullwidth three
    "²",  # str.isdigit() accepts it, int() refuses it
    HUGE_NUMBER,
    "-1",
    "-" + HUGE_NUMBER,
    "x" * 5000,
    "99999999999",  # past a 32-bit column, and days past the year 9999
    "1e309",
]
# What the views read from query strings, and what the pages' own GET forms send.
QUERY_NAMES = [
    "q", "tab", "page", "page_size", "goto", "audio", "voice", "autoplay", "dialog", "days",
    "month", "user", "document", "action", "outcome", "exported", "next", "from_page",
]  # fmt: skip
# Not asked for: the API (fuzzed from its schema), Django's own admin, the health checks (whose
# answer is the state of the services, 503 when one is down), and signing out, which would end
# the session the rest of the sweep uses.
SKIPPED = ("api/", "admin/", "health/", "accounts/logout/")


@dataclass(frozen=True)
class World:
    alice: User
    staff: User
    document: Document
    page: Page
    audio: Audio
    share: DocumentShare
    invitation: ShareInvitation


@pytest.fixture
def world(alice: User, bob: User) -> World:
    document = document_with_pages(owner=alice, pages=3, title="A book")
    document_with_pages(owner=alice, pages=0, status=Document.Status.FAILED, title="Broken")
    page = document.pages.order_by("number")[0]
    key = default_storage.save("audio/fuzz.mp3", ContentFile(b"\xff\xfb\x90\x00" * 64))
    audio = Audio.objects.create(
        page=page, voice="fake:alpha", engine="fake", file_key=key,
        status=Audio.Status.COMPLETED, size_bytes=256, created_by=alice,
    )  # fmt: skip
    share = DocumentShare.objects.create(
        document=document, shared_with=bob, permission="collaborator", shared_by=alice
    )
    invitation = ShareInvitation.objects.create(
        document=document, email="guest@example.com", permission="view_only", invited_by=alice,
        expires_at=timezone.now() + timedelta(days=14),
    )  # fmt: skip
    staff = UserFactory.create(email="staff@example.com", is_staff=True)
    return World(alice=alice, staff=staff, document=document, page=page, audio=audio, share=share,
                 invitation=invitation)  # fmt: skip


# Social sign-in as a deployment that switched providers on has it. (OpenID Connect fetches its
# provider's configuration when a log-in starts: see the tests at the end.)
PROVIDERS = {
    "google": {"APPS": [{"client_id": "google-id", "secret": "google-secret"}]},
    "github": {"APPS": [{"client_id": "github-id", "secret": "github-secret"}]},
}


@pytest.fixture(autouse=True)
def _providers_on(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = PROVIDERS


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing sent here may reach beyond this machine (an import form takes addresses)."""
    connect, resolve = socket.socket.connect, socket.getaddrinfo
    local = ("127.0.0.1", "::1", "localhost")

    def local_only(sock: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in local:
            raise ConnectionRefusedError(f"no network in tests: {address!r}")
        return connect(sock, address)

    def resolve_local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in local:
            raise socket.gaierror(socket.EAI_NONAME, f"no name lookups in tests: {host!r}")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", local_only)
    monkeypatch.setattr(socket, "getaddrinfo", resolve_local_only)


# --- The pages -----------------------------------------------------------------------------------


def _routes(patterns: list[Any], prefix: str = "") -> Iterator[str]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route


def web_paths(world: World) -> list[str]:
    """Every URL of the site outside SKIPPED, with real ids of alice's objects in it."""
    ids = {"documents": world.document.pk, "pages": world.page.pk, "shares": world.share.pk,
           "invitations": world.invitation.pk}  # fmt: skip
    named = {"voice_id": "fake:alpha", "month": "2026-11"}

    def converter(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "id":
            before = match.string[: match.start()].rstrip("/").rsplit("/", 1)[-1]
            return str(ids[before])
        return named.get(name, "x")

    paths = []
    for route in _routes(get_resolver().url_patterns):
        route = route.replace("^", "").replace("$", "")
        if route.startswith(SKIPPED):
            continue
        route = re.sub(r"\(\?P<(\w+)>[^)]*\)", "x", route)  # a regex pattern's named groups
        paths.append("/" + re.sub(r"<(?:(\w+):)?(\w+)>", converter, route))
    return sorted(set(paths))


def test_the_sweep_covers_the_web_app_and_the_dashboard(world: World) -> None:
    paths = web_paths(world)
    for path in [
        "/", "/library/", f"/documents/{world.document.pk}/", f"/pages/{world.page.pk}/",
        f"/shares/{world.share.pk}/", "/settings/", "/voices/fake:alpha/sample/",
        "/dashboard/", "/dashboard/settings/", "/dashboard/activity/export/2026-11/",
        "/accounts/login/",
    ]:  # fmt: skip
        assert path in paths
    assert not [path for path in paths if "<" in path or "(" in path]


def _browser(user: User | None) -> Client:
    # A 500 is an answer to count here, not an exception to stop at.
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


def _drained(response: Any) -> Any:
    """A streamed body is made while it is read: an error in it shows only then."""
    if getattr(response, "streaming", False):
        for _chunk in response.streaming_content:
            pass
    return response


def _none_failed(failures: list[tuple[Any, ...]]) -> None:
    if failures:
        pytest.fail(f"{len(failures)} server errors:\n" + "\n".join(map(repr, failures)))


def _visitors(world: World, path: str) -> list[tuple[str, User | None]]:
    """Anyone; and alice on the site, staff on the dashboard (the others are refused there)."""
    member = ("staff", world.staff) if path.startswith("/dashboard/") else ("alice", world.alice)
    return [member, ("anonymous", None)]


def test_hostile_query_strings_are_never_a_server_error(world: World) -> None:
    failures = []
    clients = {"alice": _browser(world.alice), "staff": _browser(world.staff)}
    clients["anonymous"] = _browser(None)
    for path in web_paths(world):
        for who, _user in _visitors(world, path):
            for value in HOSTILE:
                response = _drained(clients[who].get(path, dict.fromkeys(QUERY_NAMES, value)))
                if response.status_code >= 500:
                    failures.append((who, path, value[:20], response.status_code))
    _none_failed(failures)


# --- The forms -----------------------------------------------------------------------------------


@dataclass
class Form:
    action: str
    method: str
    filled: dict[str, str]  # what the form sends as the page shows it
    names: set[str]  # every field, including boxes left unticked


class _Forms(HTMLParser):
    """The forms of a page, each with its fields and the values they show."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            method = values.get("method", "get").lower()
            self.forms.append(Form(values.get("action", ""), method, {}, set()))
            return
        if not self.forms:
            return
        form, name = self.forms[-1], values.get("name")
        select = self._select
        if (
            tag == "option"
            and select is not None
            and (select not in form.filled or "selected" in values)
        ):
            form.filled[select] = values.get("value", "")
        if name is None or name == "csrfmiddlewaretoken":
            return
        form.names.add(name)
        if tag == "input" and values.get("type") in ("checkbox", "radio"):
            if "checked" in values:
                form.filled[name] = values.get("value", "on")
        elif tag == "input" and values.get("type") not in ("file", "submit"):
            form.filled[name] = values.get("value", "")
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            form.filled[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea is not None and self.forms:
            self.forms[-1].filled[self._textarea] += data


def forms_of(client: Client, paths: list[str]) -> list[Form]:
    """Every form these pages show (one of each action and method)."""
    found: dict[tuple[str, str], Form] = {}
    for path in paths:
        response = client.get(path)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            continue
        parser = _Forms()
        parser.feed(response.content.decode())
        for form in parser.forms:
            form.action = (form.action or path).split("?")[0]
            if form.action.startswith("/") and not form.action[1:].startswith(SKIPPED):
                found.setdefault((form.action, form.method), form)
    return list(found.values())


def _forms_seen(world: World) -> list[tuple[str, Client, Form]]:
    """Every form each visitor is shown, with their browser."""
    paths = web_paths(world)
    seen = []
    for who, user in [("alice", world.alice), ("staff", world.staff), ("anonymous", None)]:
        client = _browser(user)
        theirs = [path for path in paths if who in dict(_visitors(world, path))]
        seen += [(who, client, form) for form in forms_of(client, theirs)]
    return seen


def test_the_sweep_finds_the_forms_people_fill_in(world: World) -> None:
    forms = {(who, form.action): form for who, _client, form in _forms_seen(world)}
    for action in [
        "/library/upload/", "/library/import/", "/library/paste/", "/settings/",
        f"/documents/{world.document.pk}/rename/", f"/documents/{world.document.pk}/shares/",
        f"/pages/{world.page.pk}/edit/", "/settings/delete-account/",
    ]:  # fmt: skip
        assert ("alice", action) in forms
    assert ("anonymous", "/accounts/login/") in forms
    assert ("anonymous", "/accounts/signup/") in forms
    settings_form = forms[("staff", "/dashboard/settings/")]
    assert {"audio_retention_days", "auto_delete_expired"} <= settings_form.names
    assert settings_form.filled["audio_generation_enabled"] == "on"
    assert forms[("alice", f"/pages/{world.page.pk}/edit/")].filled["markdown"].startswith("# ")


# One field at a time, the rest as the page shows them: a value reaches the code that reads it
# only when the rest of the form is valid.
ONE_FIELD = ["\x00", "٣", "²", "-1", "99999999999", HUGE_NUMBER]


def _submissions(form: Form) -> Iterator[dict[str, str]]:
    for value in ["", *HOSTILE]:
        yield dict.fromkeys(form.names, value)
    for name in sorted(form.names):
        for value in ONE_FIELD:
            yield {**form.filled, name: value}


def test_hostile_form_fields_are_never_a_server_error(world: World) -> None:
    failures = []
    for who, client, form in _forms_seen(world):
        send = client.post if form.method == "post" else client.get
        for data in _submissions(form):
            # Each submission is undone, so a rename cannot make a later delete match.
            with transaction.atomic():
                response = _drained(send(form.action, data))
                transaction.set_rollback(True)
            if response.status_code >= 500:
                sent = {name: value[:20] for name, value in data.items()}
                failures.append((who, form.method, form.action, sent, response.status_code))
    _none_failed(failures)


# --- Headers -------------------------------------------------------------------------------------

HEADERS: dict[str, list[str]] = {
    "HTTP_RANGE": [
        f"bytes={HUGE_NUMBER}-",
        f"bytes=-{HUGE_NUMBER}",
        f"bytes=0-{HUGE_NUMBER}",
        "bytes=٣-٩",
        "bytes=-",
        "bytes=0-1," * 500,
        "bytes=\x00-1",
        "pages=1-2",
        "x" * 8000,
    ],
    "HTTP_ACCEPT_LANGUAGE": [
        "x" * 8000,
        "fr;q=" + HUGE_NUMBER,
        "*;q=-1",
        "de-٣",
        "\x00",
        "en;q=1e309",
        ",;,;=",
    ],
    "HTTP_IF_NONE_MATCH": ['"' + "x" * 8000 + '"', "*" * 500, HUGE_NUMBER, "\x00"],
    "HTTP_IF_MODIFIED_SINCE": [HUGE_NUMBER, "Mon, 99 Foo 99999 99:99:99 GMT", "-1", "\x00"],
    "HTTP_IF_RANGE": [HUGE_NUMBER, '"x"', "Mon, 99 Foo 99999 99:99:99 GMT"],
    "HTTP_COOKIE": [
        "sessionid=" + "x" * 4000,
        "csrftoken=\x00",
        "django_language=" + HUGE_NUMBER,
        "sessionid=٣; csrftoken=٣; django_language=٣",
        "=" * 500,
        "a=" + "\ufffd" * 1000,
    ],
    "HTTP_USER_AGENT": ["x" * 8000, "\x00"],
    "HTTP_REFERER": ["x" * 8000, "http://[::1"],
    "HTTP_X_FORWARDED_FOR": [HUGE_NUMBER, "x" * 8000, "999.999.999.999"],
}


def test_garbage_headers_are_never_a_server_error(world: World) -> None:
    failures = []
    paths = [
        "/",
        "/library/",
        f"/pages/{world.page.pk}/",
        "/voices/fake:alpha/sample/",
        "/dashboard/",
        f"/api/v1/audios/{world.audio.pk}/download/",
    ]
    for path in paths:
        for who, user in _visitors(world, path):
            client = _browser(user)
            for header, values in HEADERS.items():
                for value in values:
                    # As a server hands them on: the bytes sent, each read as one character.
                    raw = value.encode().decode("latin-1")
                    response = _drained(client.get(path, **{header: raw}))  # type: ignore[arg-type]
                    if response.status_code >= 500:
                        failures.append((who, path, header, value[:20], response.status_code))
    _none_failed(failures)


# --- Generated values ----------------------------------------------------------------------------

_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_NUMBERS = st.integers(min_value=-(10**30), max_value=10**30).map(str)
_DIGITS = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=12)


def _page_path(world: World, name: str) -> str:
    return {
        "library": "/library/",
        "document": f"/documents/{world.document.pk}/",
        "reader": f"/pages/{world.page.pk}/",
        "dashboard": "/dashboard/",
        "activity": "/dashboard/activity/",
        "usage": "/dashboard/usage/",
        "failures": "/dashboard/failures/",
    }[name]


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(["library", "document", "reader", "dashboard", "activity", "usage",
                          "failures"]),
    query=st.dictionaries(
        st.sampled_from(QUERY_NAMES),
        st.one_of(_TEXT, _NUMBERS, _DIGITS, st.sampled_from(HOSTILE)),
        max_size=5,
    ),
)  # fmt: skip
def test_generated_query_strings_are_never_a_server_error(
    world: World, name: str, query: dict[str, str]
) -> None:
    path = _page_path(world, name)
    user = world.staff if path.startswith("/dashboard/") else world.alice
    response = _browser(user).get(path, query)
    assert response.status_code < 500, (path, query)


# --- Social sign-in outside what the sweep switches on -------------------------------------------
# A provider that is not switched on, and one that cannot be reached (users/adapter.py,
# users/middleware.py).


@pytest.mark.parametrize("path", ["/accounts/google/login/", "/accounts/github/login/callback/"])
def test_a_provider_that_is_not_switched_on_is_refused(settings: Any, path: str) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert _browser(None).get(path).status_code < 500


def test_an_unreachable_openid_provider_is_an_error_page(settings: Any) -> None:
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": {
            "APPS": [
                {
                    "provider_id": "oidc", "name": "Single sign-on", "client_id": "oidc-id",
                    "secret": "oidc-secret", "settings": {"server_url": "https://sso.example.com"},
                }
            ]
        }
    }  # fmt: skip
    assert _browser(None).post("/accounts/oidc/oidc/login/").status_code < 500
