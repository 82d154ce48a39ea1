"""Documents shared between people, and the audit trail of what was done with them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from document_processing.models import Document


class DocumentShare(models.Model):
    class Permission(models.TextChoices):
        VIEW_ONLY = "view_only", _("View only")
        COLLABORATOR = "collaborator", _("Collaborator")
        CAN_SHARE = "can_share", _("Can share")

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="shares")
    shared_with = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shares_received"
    )
    permission = models.CharField(max_length=20, choices=Permission.choices)
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "shared_with"], name="share_one_per_document_person"
            ),
        ]
        indexes = [models.Index(fields=["shared_with", "document"], name="share_person_document")]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.shared_with_id} ({self.permission})"


class ShareInvitation(models.Model):
    """A document offered to an email address, until someone who has confirmed that address
    accepts it (it then becomes their DocumentShare and the invitation is deleted).

    Sharing by email always invites, whether or not the address has an account, so that the
    sharer cannot tell the two apart (sharing/invitations.py). Withdrawn and accepted
    invitations are deleted; expired ones are no longer honoured and are swept away.
    """

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)  # normalised (users.models.normalize_email)
    permission = models.CharField(max_length=20, choices=DocumentShare.Permission.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # When the invitation was last emailed: inviting again re-sends it only now and then.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "email"], name="invitation_one_per_document_address"
            ),
        ]
        indexes = [
            models.Index(fields=["email"], name="invitation_address"),
            models.Index(fields=["expires_at"], name="invitation_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id} → {self.email} ({self.permission})"


class AccessLog(models.Model):
    """One thing a person did (or tried to do) with a document. Never edited."""

    # Labels say what happened, as the activity lists show it ("Played", "Renamed").
    class Action(models.TextChoices):
        ADD = "add", _("Added")
        RENAME = "rename", _("Renamed")
        PAGE_EDIT = "page_edit", _("Edited a page")
        GENERATE = "generate", _("Asked for audio")
        # One listening session: the player's report, or the opening of the audio's stream.
        PLAY = "play", _("Played")
        # An explicit download only, never the requests of a player (speech_processing.api).
        DOWNLOAD = "download", _("Downloaded")
        DELETE = "delete", _("Deleted")
        SHARE = "share", _("Shared")
        UNSHARE = "unshare", _("Removed a share")
        PERMISSION_CHANGE = "permission_change", _("Changed a permission")
        INVITE = "invite", _("Invited someone")
        INVITE_WITHDRAW = "invite_withdraw", _("Withdrew an invitation")
        INVITE_ACCEPT = "invite_accept", _("Accepted an invitation")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Done")
        DENIED = "denied", _("Denied")
        FAILED = "failed", _("Failed")
        # Refused because it exists already or is being made (a 409): nothing went wrong.
        EXISTS = "exists", _("Already made")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    document = models.ForeignKey(
        Document, on_delete=models.SET_NULL, null=True, related_name="access_logs"
    )
    audio = models.ForeignKey(
        "speech_processing.Audio", on_delete=models.SET_NULL, null=True, related_name="+"
    )
    action = models.CharField(max_length=30, choices=Action.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["document", "-created_at"], name="accesslog_document_time")]

    def __str__(self) -> str:
        return f"{self.action} {self.outcome} by {self.user_id}"
