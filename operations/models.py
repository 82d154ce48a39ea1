"""What running Pagecast for others needs: site settings, failures, usage and the staff's trail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

SITE_SETTINGS_ID = 1


class SiteSettings(models.Model):
    """The one row of settings staff change while the site runs.

    An empty number uses the default from the environment (the setting of the same name in
    capitals), so a deployment's defaults still apply until staff choose otherwise.
    """

    audio_generation_enabled = models.BooleanField(
        _("audio generation on"),
        default=True,
        help_text=_("When off, requests for new audio are refused with the message below."),
    )
    generation_disabled_message = models.CharField(
        _("message while generation is off"),
        max_length=300,
        blank=True,
        help_text=_("Shown to people who ask for audio while generation is off."),
    )
    max_audios_per_page = models.PositiveIntegerField(
        _("most audios per page"), null=True, blank=True, validators=[MinValueValidator(1)]
    )
    upload_max_bytes = models.PositiveBigIntegerField(
        _("largest upload (bytes)"), null=True, blank=True, validators=[MinValueValidator(1024)]
    )
    audio_retention_days = models.PositiveIntegerField(
        _("audio retention (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Audio is kept this many days after it was last played or made."),
    )
    expiry_warning_days = models.PositiveIntegerField(
        _("expiry warning (days)"),
        null=True,
        blank=True,
        help_text=_("Owners are told by email this many days before their audio expires."),
    )
    auto_delete_expired = models.BooleanField(
        _("delete expired audio"),
        default=True,
        help_text=_("When off, no audio expires and no expiry warnings are sent."),
    )
    admin_email = models.EmailField(
        _("admin notification email"),
        blank=True,
        help_text=_("Where alerts about failed tasks go."),
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # The fields staff edit, in the order forms show them.
    EDITABLE = (
        "audio_generation_enabled",
        "generation_disabled_message",
        "max_audios_per_page",
        "upload_max_bytes",
        "audio_retention_days",
        "expiry_warning_days",
        "auto_delete_expired",
        "admin_email",
    )

    class Meta:
        verbose_name = _("site settings")
        verbose_name_plural = _("site settings")
        constraints = [
            models.CheckConstraint(condition=Q(pk=SITE_SETTINGS_ID), name="site_settings_one_row")
        ]

    def __str__(self) -> str:
        return str(_("Site settings"))

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        ceiling = settings.UPLOAD_MAX_BYTES
        if self.upload_max_bytes is not None and self.upload_max_bytes > ceiling:
            # The environment's limit also bounds what the web server reads before any check.
            errors["upload_max_bytes"] = _(
                "At most the server's limit of %(limit)s (UPLOAD_MAX_BYTES)."
            ) % {"limit": filesizeformat(ceiling)}
        retention = self.audio_retention_days or settings.AUDIO_RETENTION_DAYS
        warning = (
            self.expiry_warning_days
            if self.expiry_warning_days is not None
            else settings.AUDIO_EXPIRY_WARNING_DAYS
        )
        if warning >= retention:
            errors["expiry_warning_days"] = _(
                "The warning must come before the end of retention (%(days)d days)."
            ) % {"days": retention}
        if errors:
            raise ValidationError(errors)


class TaskFailure(models.Model):
    """A background task that failed for good. The cause is in the log under `error_id`."""

    task = models.CharField(_("task"), max_length=200)
    object_type = models.CharField(_("object type"), max_length=40, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    message = models.TextField(_("message"))
    error_id = models.CharField(_("error id"), max_length=40, db_index=True)
    alerted = models.BooleanField(_("admin emailed"), default=False)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("task failure")
        verbose_name_plural = _("task failures")

    def __str__(self) -> str:
        return f"{self.task} {self.object_label} ({self.error_id[:8]})"

    @property
    def object_label(self) -> str:
        return " ".join(part for part in (self.object_type, self.object_id) if part)

    @property
    def object_key(self) -> str:
        """What alerts are limited by: one email per object (or per task without one) an hour."""
        return f"{self.object_type}:{self.object_id}" if self.object_id else f"task:{self.task}"


class FailureAlert(models.Model):
    """When the admin was last emailed about an object's failures (claimed with an UPDATE)."""

    object_key = models.CharField(max_length=300, unique=True)
    last_sent_at = models.DateTimeField()

    class Meta:
        verbose_name = _("failure alert")
        verbose_name_plural = _("failure alerts")

    def __str__(self) -> str:
        return f"{self.object_key} at {self.last_sent_at:%Y-%m-%d %H:%M}"


class UsageRecord(models.Model):
    """Characters synthesised by one person with one engine in one month, and what they cost."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    engine = models.CharField(_("engine"), max_length=40)
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    characters = models.PositiveBigIntegerField(_("characters"), default=0)
    audio_count = models.PositiveIntegerField(_("audios"), default=0)
    estimated_cost = models.DecimalField(
        _("estimated cost (USD)"), max_digits=14, decimal_places=6, default=0
    )

    class Meta:
        ordering = ["-month", "user_id", "engine"]
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "engine", "month"], name="usage_one_per_user_engine_month"
            )
        ]
        indexes = [models.Index(fields=["month", "engine"], name="usage_month_engine")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.engine} {self.month:%Y-%m}: {self.characters}"


class StaffAction(models.Model):
    """Something staff did to the site's settings or to people's documents and audio. Never
    edited: the admin shows it read-only and no view changes it."""

    class Kind(models.TextChoices):
        SETTINGS_CHANGE = "settings_change", _("Change site settings")
        CREATE = "create", _("Create")
        CHANGE = "change", _("Change")
        DELETE = "delete", _("Delete")

    class Via(models.TextChoices):
        DASHBOARD = "dashboard", _("Dashboard")
        ADMIN = "admin", _("Admin")

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept as text too: the trail outlives the staff account.
    staff_email = models.CharField(_("staff"), max_length=254)
    action = models.CharField(_("action"), max_length=30, choices=Kind.choices)
    via = models.CharField(_("through"), max_length=20, choices=Via.choices)
    target_type = models.CharField(_("object type"), max_length=100)
    target_id = models.CharField(_("object id"), max_length=64, blank=True)
    target_repr = models.CharField(_("object"), max_length=300, blank=True)
    before = models.JSONField(_("before"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(_("after"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("staff action")
        verbose_name_plural = _("staff actions")
        indexes = [models.Index(fields=["target_type", "target_id"], name="staffaction_target")]

    def __str__(self) -> str:
        return f"{self.staff_email} {self.action} {self.target_type} {self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ValueError("Staff actions are never changed.")
        super().save(*args, **kwargs)


class ExpiryNotice(models.Model):
    """An owner was told that this audio expires at `expires_at` (once per expiry date)."""

    audio = models.ForeignKey(
        "speech_processing.Audio", on_delete=models.CASCADE, related_name="expiry_notices"
    )
    expires_at = models.DateTimeField()
    recipient = models.CharField(max_length=254)
    sent_at = models.DateTimeField()

    class Meta:
        verbose_name = _("expiry notice")
        verbose_name_plural = _("expiry notices")
        constraints = [
            models.UniqueConstraint(fields=["audio", "expires_at"], name="expiry_notice_once")
        ]

    def __str__(self) -> str:
        return f"audio {self.audio_id} expiring {self.expires_at:%Y-%m-%d}"


class WorkerHeartbeat(models.Model):
    """A running Celery worker, as it last reported in (every WORKER_HEARTBEAT_SECONDS).

    `/health/` reads these to know that some worker is alive and whether its speech engine works
    (web processes never load one), and the workers read each other's to give back to the queue
    the jobs that a dead worker had taken (`held`: the broker's delivery tags of the messages it
    holds unacknowledged).
    """

    instance = models.CharField(max_length=64, unique=True)
    nodename = models.CharField(max_length=255)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    held = models.JSONField(default=list, blank=True)
    # The worker's default voice, as it last tried it: when it last loaded it and spoke with it,
    # when it last failed, and why (a message of ours, never a credential).
    engine_voice = models.CharField(max_length=200, blank=True)
    engine_ok_at = models.DateTimeField(null=True, blank=True)
    engine_failed_at = models.DateTimeField(null=True, blank=True)
    engine_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("worker")
        verbose_name_plural = _("workers")

    def __str__(self) -> str:
        return f"{self.nodename} (pid {self.pid})"
