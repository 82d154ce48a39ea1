"""The Documents and pages section of API.md, through HTTP, with extraction run on commit."""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image
from rest_framework.test import APIClient

from document_processing.api import UploadThrottle
from document_processing.models import Document, Page
from document_processing.tests.conftest import stored_originals
from document_processing.tests.extractors import pdf_samples, samples
from document_processing.tests.factories import DocumentFactory, document_with_pages
from users.models import User

pytestmark = pytest.mark.django_db

DOCUMENTS = "/api/v1/documents/"
Capture = Callable[..., AbstractContextManager[Any]]


def upload(
    client: APIClient, data: bytes, name: str, capture: Capture, **extra: str
) -> dict[str, Any]:
    with capture(execute=True):
        response = client.post(
            DOCUMENTS, {"file": (io.BytesIO(data), name) and _named(data, name), **extra},
            format="multipart",
        )  # fmt: skip
    return {"status": response.status_code, "body": response.json()}


def _named(data: bytes, name: str) -> io.BytesIO:
    stream = io.BytesIO(data)
    stream.name = name
    return stream


def detail(client: APIClient, document_id: int) -> dict[str, Any]:
    response = client.get(f"{DOCUMENTS}{document_id}/")
    assert response.status_code == 200
    return response.json()


def docx_bytes(tmp_path: Path) -> bytes:
    def build(document: Any) -> None:
        document.add_heading("Chapter One", level=1)
        document.add_paragraph("The first chapter begins here.")
        table = document.add_table(rows=2, cols=2)
        table.cell(0, 0).text, table.cell(0, 1).text = "Name", "Value"
        table.cell(1, 0).text, table.cell(1, 1).text = "alpha", "1"
        document.add_heading("Chapter Two", level=1)
        document.add_paragraph("The second chapter follows.", style="List Bullet")

    return samples.write_docx(tmp_path / "a.docx", build, title="A Docx").read_bytes()


def epub_bytes(tmp_path: Path) -> bytes:
    chapters = [
        samples.Chapter("one.xhtml", "<h1>Opening</h1><p>It was a bright cold day.</p>"),
        samples.Chapter("two.xhtml", "<h1>Middle</h1><p>The clocks were striking.</p>"),
    ]
    return samples.write_epub(tmp_path / "a.epub", chapters).read_bytes()


HTML = b"""<!doctype html><html><head><title>An Article</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>An Article</h1><p>Pagecast reads this paragraph aloud to anyone who asks for it.</p>
<p>A second paragraph of the article with enough words to count as main content.</p></article>
<footer>Copyright footer text</footer></body></html>"""


def test_a_pdf_gets_its_first_page_as_cover_and_text_gets_none(
    alice_client: APIClient, bob_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    capture = django_capture_on_commit_callbacks
    pdf = upload(alice_client, pdf_samples.report_pdf(2), "r.pdf", capture)
    document = detail(alice_client, pdf["body"]["id"])
    assert document["cover_url"] == f"/api/v1/documents/{document['id']}/cover/"
    response = alice_client.get(document["cover_url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=86400"
    with Image.open(io.BytesIO(response.content)) as image:
        width, height = image.size
    assert image.format == "JPEG"
    assert abs(width / height - 595 / 842) < 0.02  # an A4 page, upright
    # The browser's copy is still good: no body the second time.
    again = alice_client.get(document["cover_url"], HTTP_IF_NONE_MATCH=response["ETag"])
    assert (again.status_code, again.content) == (304, b"")
    # Someone it is not shared with learns nothing, not even that it has a cover.
    assert bob_client.get(document["cover_url"]).status_code == 404
    assert (
        bob_client.get(document["cover_url"], HTTP_IF_NONE_MATCH=response["ETag"]).status_code
        == 404
    )

    text = upload(alice_client, b"# One\n\nFirst.\n", "a.md", capture)
    plain = detail(alice_client, text["body"]["id"])
    assert plain["cover_url"] is None
    missing = alice_client.get(f"/api/v1/documents/{plain['id']}/cover/")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "This document has no cover."


@pytest.mark.parametrize(
    ("name", "kind", "make", "expected_pages", "expected_text"),
    [
        ("report.pdf", "pdf", lambda p: pdf_samples.report_pdf(3), 3, "Example Report"),
        # Two chapters, and the navigation document its spine lists (kept, marked as contents).
        ("book.epub", "epub", epub_bytes, 3, "bright cold day"),
        ("notes.docx", "docx", docx_bytes, 2, "first chapter"),
        ("page.html", "html", lambda p: HTML, 1, "reads this paragraph"),
        ("readme.md", "markdown", lambda p: b"# One\n\nFirst.\n\n# Two\n\nSecond.\n", 2, "First."),
        ("plain.txt", "text", lambda p: b"Just some plain text to read.\n", 1, "plain text"),
    ],
)
def test_each_format_uploads_to_pages(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    tmp_path: Path,
    name: str,
    kind: str,
    make: Callable[[Path], bytes],
    expected_pages: int,
    expected_text: str,
) -> None:
    result = upload(alice_client, make(tmp_path), name, django_capture_on_commit_callbacks)
    assert result["status"] == 202, result
    assert result["body"]["status"] == "pending"
    assert result["body"]["source_type"] == "file"
    assert result["body"]["permission"] == "owner"
    document = detail(alice_client, result["body"]["id"])
    assert document["status"] == "completed", document["error_message"]
    assert document["page_count"] == expected_pages == len(document["pages"])
    assert [page["number"] for page in document["pages"]] == list(range(1, expected_pages + 1))
    assert Document.objects.get(pk=document["id"]).detected_type == kind
    texts = " ".join(Page.objects.filter(document_id=document["id"]).values_list("text", flat=True))
    markdown = " ".join(
        Page.objects.filter(document_id=document["id"]).values_list("markdown", flat=True)
    )
    assert expected_text in texts + " " + document["title"]
    # Every page has a name a person can tell apart.
    titles = [page["title"] for page in document["pages"]]
    assert all(titles), titles
    assert len(set(titles)) == len(titles), titles
    assert [page["is_contents"] for page in document["pages"]] == (
        [True, False, False] if kind == "epub" else [False] * expected_pages
    )
    if kind == "html":
        assert "Copyright footer" not in markdown
        assert "About" not in markdown


def test_the_type_comes_from_the_content_not_the_name(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    result = upload(
        alice_client,
        pdf_samples.report_pdf(1),
        "looks-like.txt",
        django_capture_on_commit_callbacks,
    )
    assert result["status"] == 202
    assert Document.objects.get(pk=result["body"]["id"]).detected_type == "pdf"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (samples.png_bytes(), "picture.pdf"),
        (samples.ELF_BYTES, "program.pdf"),
        (b"PK\x03\x04" + b"\x00" * 200, "archive.docx"),
        (b"\x00\x01\x02\x03binary" * 50, "notes.txt"),
    ],
)
def test_other_files_renamed_as_documents_are_415_and_leave_nothing(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, data: bytes, name: str
) -> None:
    before = stored_originals()
    result = upload(alice_client, data, name, django_capture_on_commit_callbacks)
    assert result["status"] == 415
    assert result["body"]["error"]["code"] == "unsupported_media_type"
    assert not Document.objects.exists()
    assert stored_originals() == before


CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.mark.parametrize(
    ("make", "name", "words"),
    [
        # Apache POI's bug 53475 file and pdf.js's issue 6010: real password-protected files.
        (lambda p: (CORPUS / "docx" / "poi-bug53475-password-is-pass.docx").read_bytes(),
         "letter.docx", "protected by a password"),
        (lambda p: (CORPUS / "pdf" / "pdfjs-issue6010_1-password-abc.pdf").read_bytes(),
         "paper.pdf", "protected by a password"),
        (lambda p: pdf_samples.pdf_bytes([["Secret."]], encrypt="secret"), "made.pdf",
         "protected by a password"),
        (lambda p: samples.write_epub(
            p / "b.epub", [samples.Chapter("c.xhtml", "<p>Hi</p>")],
            overrides={"META-INF/rights.xml": "<rights/>"},
        ).read_bytes(), "book.epub", "DRM"),
    ],
)  # fmt: skip
def test_locked_files_are_400_naming_the_lock_and_leave_nothing(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    tmp_path: Path,
    make: Callable[[Path], bytes],
    name: str,
    words: str,
) -> None:
    before = stored_originals()

    result = upload(alice_client, make(tmp_path), name, django_capture_on_commit_callbacks)

    assert result["status"] == 400
    assert result["body"]["error"]["code"] == "validation_error"
    assert words in result["body"]["error"]["message"]
    assert result["body"]["error"]["fields"]["file"] == [result["body"]["error"]["message"]]
    assert not Document.objects.exists()
    assert stored_originals() == before


def test_an_empty_file_is_400(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    result = upload(alice_client, b"", "empty.pdf", django_capture_on_commit_callbacks)
    assert result["status"] == 400
    assert not Document.objects.exists()


def test_too_large_is_413(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = 2048
    result = upload(alice_client, b"x" * 4096, "big.txt", django_capture_on_commit_callbacks)
    assert result["status"] == 413
    assert result["body"]["error"]["code"] == "payload_too_large"
    assert not Document.objects.exists()


def test_a_huge_content_length_is_refused_before_reading_the_body(
    alice_client: APIClient, settings: Any
) -> None:
    settings.UPLOAD_MAX_BYTES = 1024
    response = alice_client.generic(
        "POST", DOCUMENTS, "x", content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(10 * 1024 * 1024 * 1024),
    )  # fmt: skip
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\windows\\report.pdf", "report.pdf"),
        ("re\x00port.pdf", "report.pdf"),
        ("\u202egnp.pdf", "gnp.pdf"),
        ("evil\r\nSet-Cookie: x.pdf", None),
        ("a" * 600 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_file_names_are_sanitised_and_never_used_as_keys(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    name: str,
    expected: str | None,
) -> None:
    result = upload(
        alice_client, pdf_samples.report_pdf(1), name, django_capture_on_commit_callbacks
    )
    assert result["status"] == 202
    stored = result["body"]["original_filename"]
    if expected is not None:
        assert stored == expected
    if "\r" not in name:  # a CR/LF ends the multipart header itself; whatever survives is clean
        assert stored.endswith(".pdf")
    assert len(stored) <= 200
    assert not any(c in stored for c in "/\\\x00\r\n\u202e")
    key = Document.objects.get(pk=result["body"]["id"]).file_key
    assert key.startswith("originals/")
    assert stored.removesuffix(".pdf")[:10] not in key


def test_a_name_longer_than_a_multipart_header_allows_is_a_400_envelope(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    # Django caps a part's headers at 1 KiB, so a 1,000-character name never reaches the app.
    result = upload(
        alice_client,
        pdf_samples.report_pdf(1),
        "a" * 1000 + ".pdf",
        django_capture_on_commit_callbacks,
    )
    assert result["status"] == 400
    assert result["body"]["error"]["code"] == "validation_error"
    assert not Document.objects.exists()


def test_uploads_are_rate_limited_with_retry_after(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(UploadThrottle, "rate", "2/hour", raising=False)
    for _ in range(2):
        assert (
            upload(alice_client, b"hello", "a.txt", django_capture_on_commit_callbacks)["status"]
            == 202
        )
    response = alice_client.post(DOCUMENTS, {"title": "t", "text": "more"}, format="json")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert Document.objects.count() == 2


def test_refused_uploads_do_not_count_against_the_rate_limit(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    monkeypatch.setattr(UploadThrottle, "rate", "1/hour", raising=False)
    settings.UPLOAD_MAX_BYTES = 64 * 1024
    locked = pdf_samples.pdf_bytes([["Secret."]], encrypt="secret")
    refusals = [
        (samples.png_bytes(), "picture.pdf", 415),
        (samples.ELF_BYTES, "program.txt", 415),
        (b"x" * 128 * 1024, "big.txt", 413),
        (b"", "empty.txt", 400),
        (locked, "locked.pdf", 400),
    ]
    for data, name, status in refusals * 2:  # ten refusals
        assert upload(alice_client, data, name, django_capture_on_commit_callbacks)["status"] == (
            status
        )
    for body in ({"text": "   "}, {"url": "http://10.0.0.1/"}, {"url": "not an address"}):
        assert alice_client.post(DOCUMENTS, body, format="json").status_code == 400
    accepted = upload(alice_client, b"hello", "a.txt", django_capture_on_commit_callbacks)
    assert accepted["status"] == 202
    # The allowance is one an hour: the next one, even pasted, waits.
    assert alice_client.post(DOCUMENTS, {"text": "more"}, format="json").status_code == 429
    assert Document.objects.count() == 1


def test_a_throttled_answer_says_the_wait_in_words_and_in_seconds(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(UploadThrottle, "rate", "1/hour", raising=False)
    assert (
        upload(alice_client, b"hello", "a.txt", django_capture_on_commit_callbacks)["status"] == 202
    )
    # Fifteen minutes later, three quarters of the hour are left to wait.
    later = UploadThrottle.timer() + 15 * 60
    monkeypatch.setattr(UploadThrottle, "timer", lambda self: later)
    response = alice_client.post(DOCUMENTS, {"title": "t", "text": "more"}, format="json")
    assert response.status_code == 429
    assert 44 * 60 < int(response["Retry-After"]) <= 45 * 60
    assert response.json()["error"] == {
        "code": "rate_limited",
        "message": "Too many requests. Try again in about 45 minutes.",
        "fields": {},
    }


def test_a_storage_failure_is_503_and_leaves_no_row(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken_save(*args: object, **kwargs: object) -> str:
        raise ConnectionError("s3.internal:9000 refused")

    monkeypatch.setattr(default_storage, "save", broken_save)
    result = upload(alice_client, b"hello", "a.txt", django_capture_on_commit_callbacks)
    assert result["status"] == 503
    assert "s3.internal" not in str(result["body"])
    assert not Document.objects.exists()


def test_pasted_text_becomes_pages(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            DOCUMENTS, {"title": "My notes", "text": "# First\n\nHello.\n\n# Second\n\nBye."}
        )
    assert response.status_code == 202
    body = detail(alice_client, response.json()["id"])
    assert body["source_type"] == "text"
    assert body["title"] == "My notes"
    assert body["status"] == "completed"
    assert [page["title"] for page in body["pages"]] == ["First", "Second"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": "x"},
        {"title": "x", "text": ""},
        {"title": "x", "text": "   \n "},
        {"title": "x", "text": 5},
        {"url": ""},
        {"url": "notaurl"},
        {"url": "ftp://example.com/x"},
        {"url": "http://127.0.0.1/"},
        {"url": "http://169.254.169.254/latest/meta-data/"},
        {"url": ["http://example.com"]},
    ],
)
def test_bad_create_requests_are_400(alice_client: APIClient, body: dict[str, object]) -> None:
    response = alice_client.post(DOCUMENTS, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["error"]["code"] == "validation_error"
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (pdf_samples.report_pdf(2)[:400], "could not be read"),
        (b"%PDF-1.7\n" + b"\x8f garbage" * 300, "could not be read"),
    ],
)
def test_corrupt_pdfs_fail_with_a_clear_message(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, data: bytes, message: str
) -> None:
    result = upload(alice_client, data, "broken.pdf", django_capture_on_commit_callbacks)
    assert result["status"] == 202
    body = detail(alice_client, result["body"]["id"])
    assert body["status"] == "failed"
    assert message in body["error_message"]
    assert "Traceback" not in body["error_message"]
    assert body["pages"] == []


def test_documents_without_text_fail_with_a_clear_message(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, settings: Any
) -> None:
    settings.OCR_ENABLED = False
    result = upload(
        alice_client, pdf_samples.blank_pdf(2), "blank.pdf", django_capture_on_commit_callbacks
    )
    body = detail(alice_client, result["body"]["id"])
    assert body["status"] == "failed"
    assert body["error_message"] == "No readable text was found in this document."


def test_list_is_paginated_newest_first_and_only_mine(
    alice: User, bob: User, alice_client: APIClient
) -> None:
    mine = [DocumentFactory.create(owner=alice, title=f"Mine {n}") for n in range(3)]
    DocumentFactory.create(owner=bob, title="Not mine")
    response = alice_client.get(DOCUMENTS, {"page_size": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [d["id"] for d in body["results"]] == [mine[2].pk, mine[1].pk]
    assert body["next"] is not None
    assert body["results"][0]["owner"] == {"id": alice.pk, "email": alice.email}


def test_list_search_and_status_filters(alice: User, alice_client: APIClient) -> None:
    DocumentFactory.create(owner=alice, title="Moby Dick")
    DocumentFactory.create(owner=alice, title="Dracula", status=Document.Status.FAILED)
    assert [
        d["title"] for d in alice_client.get(DOCUMENTS, {"search": "moby"}).json()["results"]
    ] == ["Moby Dick"]
    assert [
        d["title"] for d in alice_client.get(DOCUMENTS, {"status": "failed"}).json()["results"]
    ] == ["Dracula"]


@pytest.mark.parametrize(
    "query", [{"status": "bogus"}, {"page": "x"}, {"page": "999"}, {"search": "a\x00b"}]
)
def test_bad_list_queries_are_4xx(alice_client: APIClient, query: dict[str, str]) -> None:
    response = alice_client.get(DOCUMENTS, query)
    assert response.status_code in (400, 404)
    assert "error" in response.json()


def test_list_query_count_does_not_grow_with_documents(
    alice: User, alice_client: APIClient
) -> None:
    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(DOCUMENTS).status_code == 200
        return len(queries)

    document_with_pages(owner=alice, pages=2)
    document_with_pages(owner=alice, pages=2)
    small = count_queries()
    for _ in range(48):
        document_with_pages(owner=alice, pages=2)
    assert count_queries() == small <= 3


def test_detail_has_page_summaries(alice: User, alice_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=3)
    body = detail(alice_client, document.pk)
    summary = {"id", "number", "title", "char_count", "is_contents", "language"}
    assert [set(page) for page in body["pages"]] == [summary] * 3


@pytest.mark.parametrize("suffix", ["abc/", "-1/", "99999999999999999999999999/", "1.5/"])
def test_malformed_ids_are_404(alice_client: APIClient, suffix: str) -> None:
    response = alice_client.get(DOCUMENTS + suffix)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_other_peoples_documents_are_404_everywhere(alice: User, charlie_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=1, status=Document.Status.FAILED)
    page = document.pages.get()
    calls = [
        ("get", f"{DOCUMENTS}{document.pk}/", None),
        ("patch", f"{DOCUMENTS}{document.pk}/", {"title": "mine now"}),
        ("delete", f"{DOCUMENTS}{document.pk}/", None),
        ("post", f"{DOCUMENTS}{document.pk}/retry/", None),
        ("get", f"{DOCUMENTS}{document.pk}/pages/", None),
        ("post", f"{DOCUMENTS}{document.pk}/pages/", {"markdown": "x"}),
        ("get", f"/api/v1/pages/{page.pk}/", None),
        ("patch", f"/api/v1/pages/{page.pk}/", {"markdown": "x"}),
    ]
    for method, path, body in calls:
        response = getattr(charlie_client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
    document.refresh_from_db()
    assert document.title != "mine now"


def test_rename(alice: User, alice_client: APIClient) -> None:
    document = DocumentFactory.create(owner=alice)
    response = alice_client.patch(f"{DOCUMENTS}{document.pk}/", {"title": "  New name "})
    assert response.status_code == 200
    assert response.json()["title"] == "New name"
    assert alice_client.patch(f"{DOCUMENTS}{document.pk}/", {"title": ""}).status_code == 400
    assert alice_client.patch(f"{DOCUMENTS}{document.pk}/", {"title": "x" * 301}).status_code == 400


def test_delete_removes_rows_and_the_stored_original(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture
) -> None:
    result = upload(alice_client, b"# A\n\nText.", "a.md", django_capture_on_commit_callbacks)
    key = Document.objects.get(pk=result["body"]["id"]).file_key
    assert default_storage.exists(key)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.delete(f"{DOCUMENTS}{result['body']['id']}/")
    assert response.status_code == 204
    assert not Document.objects.exists()
    assert not Page.objects.exists()
    assert not default_storage.exists(key)


def test_retry_only_when_failed(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = upload(alice_client, b"# A\n\nText.", "a.md", django_capture_on_commit_callbacks)
    document_id = result["body"]["id"]
    assert alice_client.post(f"{DOCUMENTS}{document_id}/retry/").status_code == 409
    Document.objects.filter(pk=document_id).update(status=Document.Status.FAILED, error_message="x")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(f"{DOCUMENTS}{document_id}/retry/")
    assert response.status_code == 202
    body = detail(alice_client, document_id)
    assert body["status"] == "completed"
    assert body["error_message"] == ""
    assert Page.objects.filter(document_id=document_id).count() == 1


def test_page_detail_html_is_sanitised_and_has_neighbours(
    alice: User, alice_client: APIClient
) -> None:
    document = document_with_pages(owner=alice, pages=3)
    first, second, third = document.pages.order_by("number")
    payload = (
        "# Title\n\n<script>alert(1)</script>\n\n[click](javascript:alert(1))\n\n"
        '<img src=x onerror="alert(1)">\n\n**bold** text'
    )
    response = alice_client.patch(f"/api/v1/pages/{second.pk}/", {"markdown": payload})
    assert response.status_code == 200
    body = response.json()
    assert body["previous"] == first.pk
    assert body["next"] == third.pk
    assert "<script" not in body["html"]
    assert "<img" not in body["html"]
    assert 'href="javascript' not in body["html"]
    assert "<strong>bold</strong>" in body["html"]
    assert "**" not in body["text"]
    assert "bold text" in body["text"]
    assert body["char_count"] == len(body["text"])
    assert alice_client.get(f"/api/v1/pages/{first.pk}/").json()["previous"] is None


def test_append_a_page_from_markdown(alice: User, alice_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=2)
    response = alice_client.post(
        f"{DOCUMENTS}{document.pk}/pages/", {"markdown": "# Added\n\nMore."}
    )
    assert response.status_code == 201
    assert response.json()["number"] == 3
    assert response.json()["title"] == "Added"
    document.refresh_from_db()
    assert document.page_count == 3
    listing = alice_client.get(f"{DOCUMENTS}{document.pk}/pages/").json()
    assert [page["number"] for page in listing["results"]] == [1, 2, 3]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"markdown": ""},
        {"markdown": "x", "url": "http://example.com"},
        {"url": "file:///etc/passwd"},
    ],
)
def test_bad_appends_are_400(alice: User, alice_client: APIClient, body: dict[str, str]) -> None:
    document = document_with_pages(owner=alice, pages=1)
    response = alice_client.post(f"{DOCUMENTS}{document.pk}/pages/", body, format="json")
    assert response.status_code == 400
    assert Page.objects.filter(document=document).count() == 1


def _docx_bomb(tmp_path: Path) -> bytes:
    source = tmp_path / "source.docx"
    source.write_bytes(docx_bytes(tmp_path))
    members = samples.zip_members(source)
    members.pop("word/document.xml")
    path = samples.write_bomb_zip(
        tmp_path / "bomb.docx", members, bomb_name="word/document.xml", bomb_size=300 * 1024 * 1024
    )
    return path.read_bytes()


def _epub_with_entities(tmp_path: Path) -> bytes:
    chapter = samples.with_dtd(samples.xhtml("<p>&xxe;</p>"), samples.XXE_DTD)
    return samples.write_epub(
        tmp_path / "x.epub",
        [samples.Chapter("one.xhtml", "<p>Hello.</p>")],
        overrides={"OEBPS/one.xhtml": chapter},
    ).read_bytes()


@pytest.mark.parametrize(
    ("make", "name", "words"),
    [
        # (A password-protected file is refused on upload: see test_locked_files_are_400_….)
        # pdfium counts the real pages of a file whose page tree claims millions: one, empty.
        (lambda p: pdf_samples.claimed_pages_pdf(5_000_000), "claims.pdf", "No readable text"),
        (_docx_bomb, "bomb.docx", ""),
    ],
)
def test_hostile_files_fail_cleanly(
    alice_client: APIClient,
    django_capture_on_commit_callbacks: Capture,
    tmp_path: Path,
    make: Callable[[Path], bytes],
    name: str,
    words: str,
) -> None:
    result = upload(alice_client, make(tmp_path), name, django_capture_on_commit_callbacks)
    assert result["status"] == 202, result
    body = detail(alice_client, result["body"]["id"])
    assert body["status"] == "failed"
    assert words in body["error_message"]
    assert body["error_message"].endswith(".")
    assert "root:" not in body["error_message"]
    assert not Page.objects.filter(document_id=body["id"]).exists()


def test_entities_in_an_epub_are_never_expanded(
    alice_client: APIClient, django_capture_on_commit_callbacks: Capture, tmp_path: Path
) -> None:
    result = upload(
        alice_client, _epub_with_entities(tmp_path), "x.epub", django_capture_on_commit_callbacks
    )
    body = detail(alice_client, result["body"]["id"])
    assert body["status"] in ("completed", "failed")
    texts = "".join(Page.objects.filter(document_id=body["id"]).values_list("markdown", flat=True))
    assert samples.PASSWD_MARKER not in texts


@pytest.mark.parametrize("field", ["markdown"])
def test_lone_surrogates_in_json_are_400_not_500(
    alice: User, alice_client: APIClient, field: str
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    page = document.pages.get()
    raw = f'{{"{field}": "bad \\ud800 half"}}'
    response = alice_client.generic(
        "PATCH", f"/api/v1/pages/{page.pk}/", raw, content_type="application/json"
    )
    assert response.status_code == 400
    title = alice_client.generic(
        "PATCH",
        f"{DOCUMENTS}{document.pk}/",
        '{"title": "\\udfff"}',
        content_type="application/json",
    )
    assert title.status_code == 400


def test_nul_characters_in_json_are_400_not_500(alice: User, alice_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=1)
    response = alice_client.post(
        DOCUMENTS, {"title": "nul\u0000title", "text": "Some\u0000 text."}, format="json"
    )
    assert response.status_code == 400
    assert Document.objects.count() == 1
    assert document.pk


def test_uploads_reach_the_service_as_temporary_files_on_disk(
    alice_client: APIClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uploads stream to disk in chunks, so a large file never sits whole in memory."""
    from django.core.files.uploadedfile import TemporaryUploadedFile

    from document_processing import services

    seen: list[object] = []
    real = services.create_document_from_upload

    def spy(**kwargs: Any) -> Document:
        seen.append(kwargs["uploaded_file"])
        return real(**kwargs)

    monkeypatch.setattr(services, "create_document_from_upload", spy)
    response = alice_client.post(
        DOCUMENTS, {"file": _named(b"small text", "a.txt")}, format="multipart"
    )
    assert response.status_code == 202
    assert isinstance(seen[0], TemporaryUploadedFile)


# --- Language ---------------------------------------------------------------------------------


def _shared(document: Document, bob: User, permission: str) -> None:
    from sharing.models import DocumentShare

    DocumentShare.objects.create(document=document, shared_with=bob, permission=permission)


def test_documents_and_pages_say_their_language(alice: User, alice_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=2, language="ar")
    first, second = document.pages.order_by("number")
    Page.objects.filter(pk=first.pk).update(language="ar")
    Page.objects.filter(pk=second.pk).update(language="en")
    listed = alice_client.get(DOCUMENTS).json()["results"]
    assert [item["language"] for item in listed] == ["ar"]
    body = detail(alice_client, document.pk)
    assert body["language"] == "ar"
    assert [page["language"] for page in body["pages"]] == ["ar", "en"]
    assert alice_client.get(f"/api/v1/pages/{second.pk}/").json()["language"] == "en"
    pages = alice_client.get(f"{DOCUMENTS}{document.pk}/pages/").json()["results"]
    assert [page["language"] for page in pages] == ["ar", "en"]


def test_setting_the_documents_language_moves_the_pages_that_were_in_it(
    alice: User, alice_client: APIClient
) -> None:
    document = document_with_pages(owner=alice, pages=3, language="ms")
    first, second, third = document.pages.order_by("number")
    Page.objects.filter(pk__in=[first.pk, second.pk]).update(language="ms")
    Page.objects.filter(pk=third.pk).update(language="en")
    response = alice_client.patch(f"{DOCUMENTS}{document.pk}/", {"language": "id"})
    assert response.status_code == 200
    assert response.json()["language"] == "id"
    # The pages that followed the document follow it; the English one keeps its own.
    assert [page["language"] for page in response.json()["pages"]] == ["id", "id", "en"]


@pytest.mark.parametrize("permission", ["collaborator", "can_share"])
def test_whoever_may_edit_pages_sets_the_language_but_only_the_owner_renames(
    alice: User, bob: User, bob_client: APIClient, permission: str
) -> None:
    document = document_with_pages(owner=alice, pages=1, title="Kept", language="en")
    _shared(document, bob, permission)
    response = bob_client.patch(f"{DOCUMENTS}{document.pk}/", {"language": "ar"})
    assert response.status_code == 200
    assert response.json()["language"] == "ar"
    # Both at once: refused as a whole, nothing changed.
    both = bob_client.patch(f"{DOCUMENTS}{document.pk}/", {"title": "New", "language": "fr"})
    assert both.status_code == 403
    document.refresh_from_db()
    assert (document.title, document.language) == ("Kept", "ar")
    page = document.pages.get()
    response = bob_client.patch(f"/api/v1/pages/{page.pk}/", {"language": "he"})
    assert response.status_code == 200
    assert response.json()["language"] == "he"


def test_view_only_may_not_set_a_language_and_strangers_do_not_see_the_document(
    alice: User, bob: User, bob_client: APIClient, charlie_client: APIClient
) -> None:
    document = document_with_pages(owner=alice, pages=1, language="en")
    _shared(document, bob, "view_only")
    page = document.pages.get()
    assert bob_client.patch(f"{DOCUMENTS}{document.pk}/", {"language": "ar"}).status_code == 403
    assert bob_client.patch(f"/api/v1/pages/{page.pk}/", {"language": "ar"}).status_code == 403
    assert charlie_client.patch(f"{DOCUMENTS}{document.pk}/", {"language": "ar"}).status_code == 404
    assert charlie_client.patch(f"/api/v1/pages/{page.pk}/", {"language": "ar"}).status_code == 404
    document.refresh_from_db()
    page.refresh_from_db()
    assert (document.language, page.language) == ("en", "")


@pytest.mark.parametrize("language", ["", "xx", "english", "en US", "x-klingon", "a" * 40, 5])
def test_a_language_pagecast_does_not_know_is_400(
    alice: User, alice_client: APIClient, language: object
) -> None:
    document = document_with_pages(owner=alice, pages=1, language="en")
    page = document.pages.get()
    body = {"language": language}
    response = alice_client.patch(f"{DOCUMENTS}{document.pk}/", body, format="json")
    assert response.status_code == 400
    assert alice_client.patch(f"/api/v1/pages/{page.pk}/", body, format="json").status_code == 400
    document.refresh_from_db()
    assert document.language == "en"


def test_a_language_is_stored_as_bcp_47_spells_it(alice: User, alice_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=1)
    response = alice_client.patch(f"{DOCUMENTS}{document.pk}/", {"language": "pt_br"})
    assert response.status_code == 200
    assert response.json()["language"] == "pt-BR"


def test_an_added_page_is_in_the_documents_language(alice: User, alice_client: APIClient) -> None:
    document = document_with_pages(owner=alice, pages=1, language="ar")
    response = alice_client.post(f"{DOCUMENTS}{document.pk}/pages/", {"markdown": "# Two\n\nMore."})
    assert response.status_code == 201
    assert response.json()["language"] == "ar"
