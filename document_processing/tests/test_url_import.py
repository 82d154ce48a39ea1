# ruff: noqa: RUF001 (text in other scripts, on purpose)
"""Importing a web page by URL, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rest_framework.test import APIClient

from document_processing.models import Document, Page

pytestmark = pytest.mark.django_db

ARTICLE = b"""<!doctype html><html><head><title>Seven Wonders</title></head><body>
<header><nav><a href="/">Home</a><a href="/shop">Shop</a></nav></header>
<main><article><h1>Seven Wonders</h1>
<p>The Great Pyramid of Giza is the oldest of the Seven Wonders of the Ancient World.</p>
<p>It is also the only one of them that remains largely intact today, after many centuries.</p>
</article></main><footer><p>Subscribe to our newsletter</p></footer></body></html>"""


RUSSIAN = """<html><head><meta charset="windows-1252"><title>Анна Каренина</title></head><body>
<article><h1>Анна Каренина</h1><p>Все счастливые семьи похожи друг на друга, каждая несчастливая
семья несчастлива по-своему. Все смешалось в доме Облонских.</p></article></body></html>"""
MISLABELLED = """<html><head><title>人权</title></head><body><article><h1>世界人权宣言</h1>
<p>人人生而自由，在尊严和权利上一律平等。他们赋有理性和良心，并应以兄弟关系的精神相对待。</p>
</article></body></html>"""


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/article":
            self._send(200, "text/html; charset=utf-8", ARTICLE)
        elif self.path == "/russian":
            # The HTTP charset is right; the page's own <meta> is not.
            self._send(200, "text/html; charset=windows-1251", RUSSIAN.encode("cp1251"))
        elif self.path == "/mislabelled":
            self._send(200, "text/html; charset=gb2312", MISLABELLED.encode("utf-8"))
        elif self.path == "/paper.pdf":
            self._send(200, "application/pdf", b"%PDF-1.4\n")
        elif self.path == "/slow":
            time.sleep(3)
            self._send(200, "text/html", ARTICLE)
        elif self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/huge":
            self._send(200, "text/html", b"<p>" + b"x" * 200_000 + b"</p>")
        else:
            self._send(404, "text/html", b"missing")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


@pytest.fixture
def site(settings: Any) -> Iterator[str]:
    settings.URL_IMPORT_ALLOW_LOOPBACK = True
    settings.URL_IMPORT_TIMEOUT_SECONDS = 1.5
    settings.URL_IMPORT_MAX_BYTES = 100_000
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def import_url(
    client: APIClient, url: str, capture: Callable[..., AbstractContextManager[Any]]
) -> Document:
    with capture(execute=True):
        response = client.post("/api/v1/documents/", {"url": url}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["source_type"] == "url"
    return Document.objects.get(pk=response.json()["id"])


def test_a_web_page_imports_its_main_content(
    site: str, alice_client: APIClient, django_capture_on_commit_callbacks: Any
) -> None:
    document = import_url(alice_client, f"{site}/article", django_capture_on_commit_callbacks)
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED, document.error_message
    assert document.title == "Seven Wonders"
    assert document.detected_type == "html"
    assert document.file_key  # the fetched page is kept as the original
    markdown = "\n".join(Page.objects.filter(document=document).values_list("markdown", flat=True))
    assert "Great Pyramid" in markdown
    assert "Subscribe" not in markdown
    assert "Shop" not in markdown


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/russian", "Все счастливые семьи похожи друг на друга"),
        ("/mislabelled", "人人生而自由，在尊严和权利上一律平等。"),
    ],
)
def test_a_page_is_decoded_by_its_http_charset_or_what_its_bytes_are(
    site: str,
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    path: str,
    words: str,
) -> None:
    document = import_url(alice_client, f"{site}{path}", django_capture_on_commit_callbacks)
    document.refresh_from_db()

    assert document.status == Document.Status.COMPLETED, document.error_message
    markdown = "\n".join(Page.objects.filter(document=document).values_list("markdown", flat=True))
    assert words in " ".join(markdown.split())


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/paper.pdf", "PDF"),
        ("/slow", "too long"),
        ("/loop", "redirect"),
        ("/huge", "large"),
        ("/missing", "404"),
    ],
)
def test_bad_pages_fail_with_a_clear_message(
    site: str,
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Any,
    path: str,
    words: str,
) -> None:
    document = import_url(alice_client, f"{site}{path}", django_capture_on_commit_callbacks)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert words.lower() in document.error_message.lower(), document.error_message
    assert not document.file_key
    assert not Page.objects.filter(document=document).exists()


def test_loopback_is_refused_without_the_test_setting(alice_client: APIClient) -> None:
    response = alice_client.post(
        "/api/v1/documents/", {"url": "http://127.0.0.1:9/x"}, format="json"
    )
    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"]
