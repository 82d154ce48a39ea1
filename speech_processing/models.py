"""Audio made from pages, and where each listener is in it."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from document_processing.models import Page


class Audio(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        GENERATING = "generating", _("Generating")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    class Lifetime(models.TextChoices):
        ACTIVE = "active", _("Active")
        DELETED = "deleted", _("Deleted")
        EXPIRED = "expired", _("Expired")

    # Statuses that hold a page's voice slot: made, or being made.
    LIVE_STATUSES = (Status.PENDING, Status.GENERATING, Status.COMPLETED)

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="audios")
    voice = models.CharField(max_length=200)
    engine = models.CharField(max_length=40)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    lifetime_status = models.CharField(
        max_length=20, choices=Lifetime.choices, default=Lifetime.ACTIVE
    )
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    file_key = models.CharField(max_length=500, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    char_count = models.PositiveIntegerField(default=0)
    # Sentence timings: [{start, end, char_start, char_end}] in seconds and characters. The
    # character offsets index the page's plain `text` as it was when the audio was made, whose
    # SHA-256 is `text_digest` (so an edited page is noticed rather than highlighted wrongly).
    timings = models.JSONField(default=list, blank=True)
    text_digest = models.CharField(max_length=64, blank=True)
    # What the audio says and how (speech_processing.reuse): an exact twin reuses the file.
    content_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Made by sharing a twin's file: nothing was synthesised, and the quota was not charged.
    reused = models.BooleanField(default=False)
    # The outdated audio of the same page and voice that this one was made to replace (a page
    # edited after its audio was made): the replacement takes no further quota slot.
    replaces = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # MP3 parts written so far by the attempt making it, for listening while it is made
    # (speech_processing.live).
    stream_parts = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    last_played_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One audio per page and voice that is made or being made: concurrent generate
            # requests for the same voice cannot both insert.
            models.UniqueConstraint(
                fields=["page", "voice"],
                condition=Q(
                    lifetime_status="active", status__in=["pending", "generating", "completed"]
                ),
                name="audio_one_live_per_page_voice",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "started_at"], name="audio_status_started"),
            models.Index(fields=["lifetime_status", "expires_at"], name="audio_lifetime_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.voice} for page {self.page_id}"


class PlaybackPosition(models.Model):
    """Where a listener stopped in an audio, so any device can resume there."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    audio = models.ForeignKey(Audio, on_delete=models.CASCADE, related_name="positions")
    position_seconds = models.FloatField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "audio"], name="playback_one_per_user_audio")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} at {self.position_seconds:.1f} s of audio {self.audio_id}"


class ListeningProgress(models.Model):
    """Where a person is in a document: the page, the audio on it and the position in that audio.

    One row per person and document, written by whichever device they listen on, so that any
    other device can carry on from there.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(
        "document_processing.Document", on_delete=models.CASCADE, related_name="+"
    )
    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="+")
    audio = models.ForeignKey(
        Audio, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    voice = models.CharField(max_length=200, blank=True)
    position_seconds = models.FloatField(default=0)
    # Which browser saved it (an id it keeps for itself) and when, by its clock: a save from the
    # same browser that arrives after a later one (a page being left, and the next page already
    # saving) does not undo it.
    device = models.CharField(max_length=64, blank=True)
    saved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "document"], name="progress_one_per_document")
        ]
        indexes = [models.Index(fields=["user", "-updated_at"], name="progress_recent")]

    def __str__(self) -> str:
        return f"{self.user_id} on page {self.page_id} of document {self.document_id}"


class Audiobook(models.Model):
    """A whole document as one M4B file: AAC audio with a chapter per page, in one voice.

    Made by a background job that first has every page's audio made (each page as any other
    audio: permissions, quota and reuse apply), then joins them. The pages' audio stays, so a
    job interrupted at any point starts again where it was.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        GENERATING = "generating", _("Generating")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    document = models.ForeignKey(
        "document_processing.Document", on_delete=models.CASCADE, related_name="audiobooks"
    )
    voice = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error_message = models.TextField(blank=True)
    pages_total = models.PositiveIntegerField(default=0)
    pages_done = models.PositiveIntegerField(default=0)
    file_key = models.CharField(max_length=500, blank=True)
    size_bytes = models.PositiveBigIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    # [{title, start, end}] in seconds, one per page.
    chapters = models.JSONField(default=list, blank=True)
    # What the finished book was made from: a digest of each page with the audio used for it
    # (speech_processing.audiobooks.sources_fingerprint). A book is made again only once the
    # pages' audio in its voice no longer gives the same digest. Empty for books made before.
    source_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One book per document and voice being made at a time.
            models.UniqueConstraint(
                fields=["document", "voice"],
                condition=Q(status__in=["pending", "generating"]),
                name="audiobook_one_in_progress",
            )
        ]

    def __str__(self) -> str:
        return f"{self.voice} audiobook of document {self.document_id}"
