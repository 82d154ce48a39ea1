"""Hostile input through every text field: stored as data, shown escaped, never executed.

Each payload goes in through the API as a person would send it: titles (upload, pasted text,
rename), page Markdown (edit and append), file names, share emails, search and filter
parameters, voice ids and import URLs. No answer may be a server error or leak anything; stored
text comes back exactly as data (JSON), pages render it escaped, Markdown renders it sanitised,
SQL and template syntax are never interpreted.
"""

from __future__ import annotations

import socket
from html import escape
from html.parser import HTMLParser
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from core.tests.outage import assert_never_connected
from document_processing.models import Document
from document_processing.tests.factories import DocumentFactory, document_with_pages
from users.models import User

pytestmark = pytest.mark.django_db

XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg/onload=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//evil.example></iframe>",
    "</title><script>alert(1)</script>",
]
SQL = [
    "' OR '1'='1' --",
    "'; DROP TABLE document_processing_document; --",
    '" OR ""="',
    "1) UNION SELECT password FROM users_user --",
    "%' AND 1=1 AND '%'='",
]
TEMPLATE = ["{{ settings.SECRET_KEY }}", "{% debug %}", "{{7*7}}", "${7*7}", "#{7*7}"]
PAYLOADS = XSS + SQL + TEMPLATE

LEAKS = ["Traceback", "/work/", "site-packages", "SECRET_KEY =", "django.db", "psycopg"]


def _no_leak(response: Any) -> None:
    assert response.status_code < 500, response.content[:300]
    text = response.content.decode(errors="replace")
    for leak in LEAKS:
        assert leak not in text


class _Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.script_text: list[str] = []
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_text.append(data)


def _rendered_safely(html: str, payload: str) -> None:
    """The payload's markup never becomes elements, and template syntax stays text."""
    parsed = _Elements(html)
    for tag, attrs in parsed.tags:
        assert tag not in {"iframe", "svg", "img"} or "onerror" not in attrs, (tag, attrs)
        assert tag not in {"iframe", "svg"}, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            assert not attrs.get(name, "").strip().lower().startswith("javascript:"), attrs
        if tag == "script":
            # Only the site's own script files, or data that is never executed.
            src = attrs.get("src", "")
            local = src.startswith("/") and not src.startswith("//")
            assert local or attrs.get("type") == "application/json", attrs
    assert not any("alert" in text for text in parsed.script_text)
    if payload in TEMPLATE:
        assert escape(payload) in html or payload in html  # shown, not evaluated


@pytest.mark.parametrize("payload", PAYLOADS)
def test_titles_are_stored_as_given_and_shown_escaped(
    payload: str, alice: User, alice_client: APIClient
) -> None:
    created = alice_client.post(
        "/api/v1/documents/", {"title": payload, "text": "Some words."}, format="json"
    )
    _no_leak(created)
    assert created.status_code == 202
    document_id = created.json()["id"]
    assert alice_client.get(f"/api/v1/documents/{document_id}/").json()["title"] == payload

    renamed = alice_client.patch(
        f"/api/v1/documents/{document_id}/", {"title": payload + " 2"}, format="json"
    )
    _no_leak(renamed)
    assert renamed.json()["title"] == payload + " 2"
    assert Document.objects.get(pk=document_id).title == payload + " 2"

    browser = Client()
    browser.force_login(alice)
    for url in (f"/documents/{document_id}/", "/library/"):
        page = browser.get(url)
        if page.status_code == 404:  # a page the web app does not have yet
            continue
        _no_leak(page)
        html = page.content.decode()
        _rendered_safely(html, payload)


@pytest.mark.parametrize("payload", XSS + TEMPLATE)
def test_page_markdown_renders_sanitised(
    payload: str, alice: User, alice_client: APIClient
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    page = document.pages.get()
    edited = alice_client.patch(
        f"/api/v1/pages/{page.pk}/", {"markdown": f"# Heading\n\n{payload}\n"}, format="json"
    )
    _no_leak(edited)
    assert edited.status_code == 200
    _rendered_safely(edited.json()["html"], payload)
    appended = alice_client.post(
        f"/api/v1/documents/{document.pk}/pages/", {"markdown": payload}, format="json"
    )
    _no_leak(appended)
    assert appended.status_code == 201
    _rendered_safely(appended.json()["html"], payload)


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert(1)</script>.txt",
        "../../../etc/passwd.txt",
        "..\\..\\windows\\system32.txt",
        'x.txt"\r\nSet-Cookie: a=b\r\n.txt',
        "{{ settings.SECRET_KEY }}.txt",
        "'; DROP TABLE x; --.txt",
        "\u202eexe.txt",
    ],
)
def test_hostile_file_names_are_sanitised(name: str, alice_client: APIClient) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(name, b"Plain words in a file.\n", content_type="text/plain")
    response = alice_client.post("/api/v1/documents/", {"file": upload}, format="multipart")
    _no_leak(response)
    assert response.status_code == 202
    stored = response.json()["original_filename"]
    for bad in ("<", ">", "/", "\\", "\r", "\n", '"', "\u202e", ".."):
        assert bad not in stored
    assert stored.endswith(".txt")


@pytest.mark.parametrize("payload", [*PAYLOADS, "a@b.c\r\nBcc: victim@example.com"])
def test_hostile_share_emails_are_field_errors(
    payload: str, alice: User, alice_client: APIClient
) -> None:
    document = DocumentFactory.create(owner=alice)
    response = alice_client.post(
        f"/api/v1/documents/{document.pk}/shares/",
        {"email": payload, "permission": "view_only"},
        format="json",
    )
    _no_leak(response)
    assert response.status_code in (400, 404)
    assert document.shares.count() == 0
    assert mail.outbox == []


def test_template_syntax_and_header_breaks_in_a_title_stay_text_in_the_share_email(
    alice: User, bob: User, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    title = "{{ settings.SECRET_KEY }} {% debug %}\r\nBcc: victim@example.com"
    document = DocumentFactory.create(owner=alice, title=title)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            f"/api/v1/documents/{document.pk}/shares/",
            {"email": bob.email, "permission": "view_only"},
            format="json",
        )
    assert response.status_code == 201
    (message,) = mail.outbox
    assert message.to == [bob.email]
    assert message.bcc == []
    assert "{{ settings.SECRET_KEY }} {% debug %}" in message.body
    assert "\r" not in message.subject
    assert "\n" not in message.subject
    assert "{{ settings.SECRET_KEY }} {% debug %} Bcc: victim@example.com" in message.subject


@pytest.mark.parametrize("payload", PAYLOADS)
def test_search_and_filters_never_widen_what_a_caller_sees(
    payload: str, alice: User, bob: User, alice_client: APIClient
) -> None:
    DocumentFactory.create(owner=alice, title="Mine")
    DocumentFactory.create(owner=bob, title="Bob's secret plans")
    for params in ({"search": payload}, {"status": payload}, {"scope": payload}):
        response = alice_client.get("/api/v1/documents/", params)
        _no_leak(response)
        if response.status_code == 200:
            titles = {d["title"] for d in response.json()["results"]}
            assert "Bob's secret plans" not in titles
        else:
            assert response.status_code == 400
    # SQL in a search is matched as text: only a title containing it is found.
    DocumentFactory.create(owner=alice, title=f"About {payload} quoting")
    found = alice_client.get("/api/v1/documents/", {"search": payload}).json()
    assert [d["title"] for d in found["results"]] == [f"About {payload} quoting"]
    assert Document.objects.count() == 3


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_voice_ids_and_import_urls_are_field_errors(
    payload: str, alice: User, alice_client: APIClient
) -> None:
    page = document_with_pages(owner=alice, pages=1).pages.get()
    voice = alice_client.post(f"/api/v1/pages/{page.pk}/audios/", {"voice": payload}, format="json")
    _no_leak(voice)
    assert voice.status_code == 400
    assert "voice" in voice.json()["error"]["fields"]
    before = Document.objects.count()
    url = alice_client.post("/api/v1/documents/", {"url": payload}, format="json")
    _no_leak(url)
    assert url.status_code == 400
    assert Document.objects.count() == before
    me = alice_client.patch("/api/v1/auth/me/", {"preferred_voice": payload}, format="json")
    _no_leak(me)
    assert me.status_code == 400


SSRF = [
    "http://127.0.0.1:{port}/",
    "http://localhost:{port}/",
    "http://0.0.0.0:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:127.0.0.1]:{port}/",
    "http://2130706433:{port}/",
    "http://0x7f000001:{port}/",
    "http://0177.0.0.1:{port}/",
    "http://127.1:{port}/",
    "http://user:pass@127.0.0.1:{port}/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1:{port}/",
    "http://[fe80::1]:{port}/",
    "http://224.0.0.1:{port}/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_",
    "ftp://127.0.0.1:{port}/",
]


@pytest.mark.parametrize("template", SSRF)
def test_ssrf_urls_in_every_url_form_never_connect(
    template: str,
    alice: User,
    alice_client: APIClient,
    listener: socket.socket,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    settings.URL_IMPORT_ALLOW_LOOPBACK = False
    url = template.format(port=listener.getsockname()[1])
    document = document_with_pages(owner=alice, pages=1)
    before = Document.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        imported = alice_client.post("/api/v1/documents/", {"url": url}, format="json")
        appended = alice_client.post(
            f"/api/v1/documents/{document.pk}/pages/", {"url": url}, format="json"
        )
    for response in (imported, appended):
        _no_leak(response)
        assert response.status_code == 400, response.content
        assert "url" in response.json()["error"]["fields"]
    assert Document.objects.count() == before
    assert document.pages.count() == 1
    assert_never_connected(listener)
