"""Services: extraction is claimed once, fails cleanly, and leaves nothing half-written."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from core.exceptions import NotFound
from document_processing import extraction, services
from document_processing.extractors import forkserver
from document_processing.extractors.base import ExtractionError
from document_processing.models import Document, Page
from document_processing.tests.extractors import pdf_samples, samples
from document_processing.tests.extractors.served import forked_since, server_children
from document_processing.tests.factories import DocumentFactory
from users.models import User

pytestmark = pytest.mark.django_db

# What `extract_document` asks of the database, whatever the number of pages: the claim, the
# row, then in one transaction (its start and end are two more) the row locked, the pages it had
# (none), all the new pages in one insert and the row completed.
EXTRACTION_QUERIES = 8


def stored_document(owner: User, data: bytes, kind: str = "markdown") -> Document:
    key = default_storage.save(f"originals/test.{kind}", ContentFile(data))
    return DocumentFactory.create(
        owner=owner, status=Document.Status.PENDING, detected_type=kind, file_key=key,
        source_type=Document.SourceType.FILE,
    )  # fmt: skip


def test_extraction_runs_once_even_if_delivered_twice(alice: User) -> None:
    document = stored_document(alice, b"# One\n\nText.\n\n# Two\n\nMore.")
    services.extract_document(document_id=document.pk)
    first_pages = list(Page.objects.filter(document=document).values_list("pk", flat=True))
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED
    assert document.page_count == 2
    assert list(Page.objects.filter(document=document).values_list("pk", flat=True)) == first_pages


def test_metadata_title_replaces_a_placeholder_but_not_a_chosen_title(alice: User) -> None:
    html = (
        b"<html><head><title>From The Page</title></head>"
        b"<body><p>Hello there reader.</p></body></html>"
    )
    placeholder = stored_document(alice, html, kind="html")
    chosen = stored_document(alice, html, kind="html")
    Document.objects.filter(pk=chosen.pk).update(title="Mine", title_is_custom=True)
    for document in (placeholder, chosen):
        services.extract_document(document_id=document.pk)
    placeholder.refresh_from_db()
    chosen.refresh_from_db()
    assert placeholder.title == "From The Page"
    assert chosen.title == "Mine"


def test_a_failure_in_the_middle_leaves_no_pages(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = stored_document(alice, b"# One\n\nText.\n\n# Two\n\nMore.")
    original = Page.objects.bulk_create

    def explode_after_writing(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(Page.objects, "bulk_create", explode_after_writing)
    with pytest.raises(RuntimeError):
        services.extract_document(document_id=document.pk)
    assert not Page.objects.filter(document=document).exists()


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ExtractionError("This PDF is password protected."), "This PDF is password protected."),
        (SoftTimeLimitExceeded(), "This document took too long to process."),
    ],
)
def test_permanent_failures_fail_at_once_with_a_user_message(
    alice: User, monkeypatch: pytest.MonkeyPatch, error: BaseException, message: str
) -> None:
    document = stored_document(alice, b"text")

    def fail(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(extraction, "extract_file", fail)
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert document.error_message == message


def test_unexpected_errors_fail_with_an_error_id_not_the_exception(
    alice: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    document = stored_document(alice, b"text")

    def fail(*args: object, **kwargs: object) -> None:
        raise KeyError("/srv/pagecast/secret/path")

    monkeypatch.setattr(extraction, "extract_file", fail)
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "/srv/pagecast" not in document.error_message
    assert "error" in document.error_message
    assert "/srv/pagecast/secret/path" in caplog.text


def test_storage_outage_releases_the_claim_for_a_retry(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = stored_document(alice, b"text")

    def unreachable(*args: object, **kwargs: object) -> None:
        raise ConnectionError("storage unreachable")

    monkeypatch.setattr(default_storage, "open", unreachable)
    with pytest.raises(services.TransientStorageError):
        services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.PENDING
    services.fail_after_retries(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "storage" in document.error_message


def test_a_locked_file_found_during_extraction_fails_naming_the_lock(alice: User) -> None:
    # Stored before uploads were checked for locks: the extraction says what the lock is.
    encrypted = pdf_samples.pdf_bytes([["Secret."]], encrypt="secret")
    locked = stored_document(alice, encrypted, kind="pdf")
    drm = stored_document(alice, _drm_epub(), kind="epub")

    for document in (locked, drm):
        services.extract_document(document_id=document.pk)
        document.refresh_from_db()
        assert document.status == Document.Status.FAILED
        assert not Page.objects.filter(document=document).exists()
    assert locked.error_message.startswith("This PDF is protected by a password.")
    assert "DRM" in drm.error_message


def _drm_epub() -> bytes:
    encryption = (
        '<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
        '<EncryptedData xmlns="http://www.w3.org/2001/04/xmlenc#">'
        '<EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
        '<CipherData><CipherReference URI="OEBPS/one.xhtml"/></CipherData></EncryptedData>'
        "</encryption>"
    )
    with tempfile.TemporaryDirectory() as folder:
        return samples.write_epub(
            Path(folder) / "drm.epub",
            [samples.Chapter("one.xhtml", "<p>Hidden.</p>")],
            overrides={"META-INF/encryption.xml": encryption},
        ).read_bytes()


def test_a_missing_original_fails_clearly(alice: User) -> None:
    document = stored_document(alice, b"text")
    default_storage.delete(document.file_key)
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "missing" in document.error_message


def test_a_document_deleted_during_extraction_writes_nothing(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = stored_document(alice, b"# One\n\nText.")
    real = extraction.extract_file

    def delete_meanwhile(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        Document.objects.filter(pk=document.pk).delete()
        return result

    monkeypatch.setattr(extraction, "extract_file", delete_meanwhile)
    services.extract_document(document_id=document.pk)
    assert not Page.objects.exists()


def test_page_and_character_limits(alice: User, settings: Any) -> None:
    settings.DOCUMENT_MAX_PAGES = 2
    document = stored_document(alice, b"# A\n\na\n\n# B\n\nb\n\n# C\n\nc\n")
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "limit is 2" in document.error_message or "2" in document.error_message
    assert not Page.objects.filter(document=document).exists()


def test_storage_errors_on_delete_are_retried_not_lost(
    alice: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    document = stored_document(alice, b"text")
    key = document.file_key
    real_delete = default_storage.delete
    calls = {"n": 0}

    def flaky_delete(name: str) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("storage hiccup")
        real_delete(name)

    monkeypatch.setattr(default_storage, "delete", flaky_delete)
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_document(user=alice, document=document)
    assert not Document.objects.filter(pk=document.pk).exists()
    assert calls["n"] == 2  # the eager retry task deleted it the second time
    assert not default_storage.exists(key)


def test_the_character_limit_fails_the_document(alice: User, settings: Any) -> None:
    settings.DOCUMENT_MAX_CHARS = 1_000
    document = stored_document(alice, ("word " * 400).encode())
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.FAILED
    assert "more text" in document.error_message
    assert not Page.objects.filter(document=document).exists()


# --- Covers ----------------------------------------------------------------------------------


def epub_with_cover(tmp_path: Path) -> bytes:
    """A one-chapter EPUB 3 whose manifest names a cover image."""
    return samples.write_epub_with_cover(tmp_path / "cover.epub").read_bytes()


def cover_files() -> set[str]:
    """The covers in storage (this test process's own folder: other tests' covers too)."""
    try:
        return set(default_storage.listdir("covers")[1])
    except FileNotFoundError:
        return set()


def test_the_cover_extraction_finds_is_stored_and_deleted_with_the_document(
    alice: User, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    document = stored_document(alice, epub_with_cover(tmp_path), kind="epub")
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.status == Document.Status.COMPLETED
    assert document.cover_key.startswith("covers/")
    cover = services.read_cover(user=alice, document=document)
    with Image.open(io.BytesIO(cover)) as image:
        assert (image.format, image.size) == ("JPEG", (300, 450))
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_document(user=alice, document=document)
    assert not default_storage.exists(document.cover_key)


def test_a_document_without_a_cover_has_none(alice: User) -> None:
    document = stored_document(alice, b"# One\n\nText.")
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.cover_key == ""
    with pytest.raises(NotFound):
        services.read_cover(user=alice, document=document)


def test_a_stranger_gets_no_cover(alice: User, bob: User, tmp_path: Path) -> None:
    document = stored_document(alice, epub_with_cover(tmp_path), kind="epub")
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    with pytest.raises(NotFound):
        services.read_cover(user=bob, document=document)


def test_a_store_refusing_the_cover_still_completes_the_document(
    alice: User, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    document = stored_document(alice, epub_with_cover(tmp_path), kind="epub")
    real_save = default_storage.save

    def refuse_covers(name: str, content: Any, **kwargs: Any) -> str:
        if name.startswith("covers/"):
            raise ConnectionError("storage hiccup")
        return str(real_save(name, content, **kwargs))

    monkeypatch.setattr(default_storage, "save", refuse_covers)
    before = cover_files()
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert (document.status, document.cover_key) == (Document.Status.COMPLETED, "")
    assert cover_files() == before


def test_a_cover_found_for_a_document_deleted_meanwhile_is_not_left_behind(
    alice: User, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    document = stored_document(alice, epub_with_cover(tmp_path), kind="epub")
    real = extraction.extract_file

    def delete_meanwhile(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        assert result.cover  # there was one to store
        Document.objects.filter(pk=document.pk).delete()
        return result

    monkeypatch.setattr(extraction, "extract_file", delete_meanwhile)
    before = cover_files()
    services.extract_document(document_id=document.pk)
    assert cover_files() == before


def test_a_failure_storing_the_pages_removes_the_new_cover(
    alice: User, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    document = stored_document(alice, epub_with_cover(tmp_path), kind="epub")
    extracted = extraction.extract_file(Path(default_storage.path(document.file_key)), kind="epub")
    Document.objects.filter(pk=document.pk).update(status=Document.Status.PROCESSING)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database gone")

    monkeypatch.setattr(Page.objects, "bulk_create", broken)
    before = cover_files()
    with pytest.raises(RuntimeError, match="database gone"):
        services._complete(document, extracted)
    assert cover_files() == before
    assert Document.objects.get(pk=document.pk).cover_key == ""


def test_a_page_edit_is_in_the_documents_activity(alice: User, bob: User) -> None:
    from conftest import client_for
    from document_processing.tests.factories import document_with_pages
    from sharing.models import DocumentShare

    document = document_with_pages(owner=alice, pages=2)
    DocumentShare.objects.create(
        document=document, shared_with=bob, permission="collaborator", shared_by=alice
    )
    page = document.pages.get(number=2)
    edited = client_for(bob).patch(
        f"/api/v1/pages/{page.pk}/", {"markdown": "# Two\n\nNew words."}, format="json"
    )
    assert edited.status_code == 200
    # A refused edit is not an edit.
    with pytest.raises(NotFound):
        services.update_page(user=User.objects.create(email="x@example.com"), page=page,
                             markdown="No.")  # fmt: skip
    activity = client_for(alice).get(f"/api/v1/documents/{document.pk}/activity/").json()
    assert [(r["action"], r["outcome"], r["user"]["email"]) for r in activity["results"]] == [
        ("page_edit", "success", bob.email)
    ]
    assert activity["results"][0]["created_at"]


def test_extraction_stores_the_language_of_the_document_and_of_each_page(alice: User) -> None:
    russian = "Все люди рождаются свободными и равными в своем достоинстве и правах."  # noqa: RUF001
    french = "Tous les êtres humains naissent libres et égaux en dignité et en droits."
    text = f"# Глава первая\n\n{russian} {russian}\n\n# 2\n\n3\n\n# Note\n\n{french}"
    document = stored_document(alice, text.encode())
    services.extract_document(document_id=document.pk)
    document.refresh_from_db()
    assert document.language == "ru"
    pages = Page.objects.filter(document=document).order_by("number")
    # The page with nothing to go by takes the document's language.
    assert [page.language for page in pages] == ["ru", "ru", "fr"]


def test_a_persons_language_survives_their_edit_of_the_text(alice: User) -> None:
    document = stored_document(alice, b"# One\n\nText to be read aloud by someone.")
    services.extract_document(document_id=document.pk)
    page = Page.objects.get(document=document)
    services.update_page(user=alice, page=page, language="cy")
    services.update_page(user=alice, page=page, markdown="# One\n\nOther text to be read.")
    page.refresh_from_db()
    assert (page.language, page.text) == ("cy", "One\n\nOther text to be read.")


def test_pages_are_stored_with_their_names_and_contents_marks(alice: User) -> None:
    text = (
        "# Contents\n\n- [One](#one)\n- [Two](#two)\n\n# One\n\n"
        + "A long first chapter. " * 40
        + "\n\n# Two\n\nThe end."
    )
    document = stored_document(alice, text.encode())
    services.extract_document(document_id=document.pk)

    pages = list(Page.objects.filter(document=document).order_by("number"))

    assert [(page.title, page.is_contents) for page in pages] == [
        ("Contents", True),
        ("One", False),
        ("Two", False),
    ]


def test_an_edit_without_a_heading_keeps_the_pages_name(alice: User) -> None:
    document = stored_document(alice, b"# Chapter One\n\nText to be read aloud.")
    services.extract_document(document_id=document.pk)
    page = Page.objects.get(document=document)

    services.update_page(user=alice, page=page, markdown="Only new words, no heading.")
    assert Page.objects.get(pk=page.pk).title == "Chapter One"

    services.update_page(user=alice, page=page, markdown="## Renamed\n\nWords.")
    assert Page.objects.get(pk=page.pk).title == "Renamed"


def test_pages_made_before_pages_had_names_are_named(alice: User) -> None:
    from importlib import import_module

    from django.apps import apps

    migration = import_module("document_processing.migrations.0005_page_is_contents")
    document = DocumentFactory.create(owner=alice)
    headed, plain, coded, named = (
        Page.objects.create(document=document, number=number, markdown=markdown, text=text,
                            title=title)
        for number, (markdown, text, title) in enumerate(
            [
                ("Intro.\n\n## Part \\*2\\*\n\nText.", "Intro.\n\nPart *2*\n\nText.", ""),
                ("Some words.", "Some words.", ""),
                ("```\n# not a heading\n```\n\nWords.", "# not a heading\n\nWords.", ""),
                ("# Heading", "Heading", "Kept"),
            ],
            start=1,
        )
    )  # fmt: skip

    migration.name_untitled_pages(apps, None)

    titles = [Page.objects.get(pk=page.pk).title for page in (headed, plain, coded, named)]
    assert titles == ["Part *2*", "Some words.", "# not a heading Words.", "Kept"]


# --- Extraction's cost ------------------------------------------------------------------------


def _chapters(count: int) -> bytes:
    return "\n\n".join(
        f"# Chapter {n}\n\nThe text of chapter {n}, read aloud." for n in range(1, count + 1)
    ).encode()


@pytest.mark.parametrize("pages", [2, 40])
def test_extraction_stores_any_number_of_pages_in_the_same_queries(
    alice: User, pages: int, django_assert_num_queries: Any
) -> None:
    document = stored_document(alice, _chapters(pages))

    with django_assert_num_queries(EXTRACTION_QUERIES):
        services.extract_document(document_id=document.pk)

    assert Page.objects.filter(document=document).count() == pages


def test_a_worker_has_its_documents_read_by_children_of_its_fork_server(
    alice: User, fork_server: forkserver._Client
) -> None:
    documents = [stored_document(alice, _chapters(pages)) for pages in (2, 3)]

    for document in documents:
        before = server_children(fork_server)
        services.extract_document(document_id=document.pk)
        assert forked_since(fork_server, before)  # the spare took it; another is forked

    for document, pages in zip(documents, (2, 3), strict=True):
        document.refresh_from_db()
        assert (document.status, document.page_count) == (Document.Status.COMPLETED, pages)


def test_only_a_worker_uses_a_fork_server(
    alice: User, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Path] = []

    def record(extractor: object, path: Path, *, limits: object) -> None:
        served.append(path)  # and forked here after all

    monkeypatch.setattr(forkserver, "run_served", record)
    path = tmp_path / "book.md"
    path.write_bytes(_chapters(2))

    extraction.extract_file(path, kind="markdown")  # as `pagecast convert` does
    assert served == []
    services.extract_document(document_id=stored_document(alice, _chapters(2)).pk)
    assert len(served) == 1
