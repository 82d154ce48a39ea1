"""Documents people bring, and the pages of Markdown they are split into."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSING = "processing", _("Processing")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    class SourceType(models.TextChoices):
        FILE = "file", _("File")
        URL = "url", _("Web page")
        TEXT = "text", _("Pasted text")

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(_("title"), max_length=300)
    # False while the title is a placeholder that the document's own metadata may replace.
    title_is_custom = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    source_type = models.CharField(max_length=10, choices=SourceType.choices)
    source_url = models.URLField(max_length=2000, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    # The original as stored through STORAGES, under a generated key.
    file_key = models.CharField(max_length=500, blank=True)
    file_size = models.BigIntegerField(default=0)
    # What the content turned out to be: pdf, epub, docx, html, markdown, text.
    detected_type = models.CharField(max_length=20, blank=True)
    author = models.CharField(max_length=300, blank=True)
    # The cover extraction found (an EPUB's cover image, a DOCX thumbnail, a PDF's first page),
    # re-encoded as JPEG and stored through STORAGES; empty when the source has none.
    cover_key = models.CharField(max_length=500, blank=True)
    page_count = models.PositiveIntegerField(default=0)
    char_count = models.PositiveBigIntegerField(default=0)
    # A BCP 47 tag ("en", "ar", "pt-BR"): detected at extraction, or set by whoever may edit
    # pages; "" while unknown.
    language = models.CharField(_("language"), max_length=35, blank=True)
    notes = models.JSONField(default=list, blank=True)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    # Claims of this document by a worker; the stuck-job sweep gives up after a few.
    extraction_attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="document_owner_created"),
            models.Index(
                fields=["status", "processing_started_at"], name="document_status_started"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Page(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="pages")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=300, blank=True)
    # Markdown for reading; plain text (Markdown syntax removed) for speech.
    markdown = models.TextField()
    text = models.TextField()
    char_count = models.PositiveIntegerField(default=0)
    # A table of contents (or another page of links): kept for reading, passed over when
    # listening to the whole document.
    is_contents = models.BooleanField(default=False)
    # As the document's: detected from the page's own text, else the document's.
    language = models.CharField(_("language"), max_length=35, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["document_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["document", "number"], name="page_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}:{self.number}"


class PageImport(models.Model):
    """A web page someone asked to add to the end of a document.

    The request only checks the address; a worker fetches the page, converts it and appends it,
    and this row tells the person how that went.
    """

    # The same life as a document's processing.
    Status = Document.Status

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="page_imports")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="page_imports"
    )
    url = models.URLField(max_length=2000)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    # The first page it added; a long web page may become several.
    first_page = models.ForeignKey(
        Page, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    page_count = models.PositiveIntegerField(default=0)
    # Claims by a worker; the stuck-job sweep gives up after MAX_EXTRACTION_ATTEMPTS.
    attempts = models.PositiveSmallIntegerField(default=0)
    processing_started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["status", "processing_started_at"], name="page_import_status_started"
            ),
            models.Index(
                fields=["document", "requested_by", "-created_at"], name="page_import_recent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}:{self.url}"
