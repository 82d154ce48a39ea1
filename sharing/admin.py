from django.contrib import admin

from operations.admin_audit import ReadOnlyAdmin, StaffAuditedAdmin
from sharing.models import AccessLog, DocumentShare, ShareInvitation


@admin.register(DocumentShare)
class DocumentShareAdmin(StaffAuditedAdmin):
    list_display = ["document", "shared_with", "permission", "shared_by", "created_at"]
    list_filter = ["permission", "created_at"]
    search_fields = ["document__title", "shared_with__email", "shared_by__email"]
    raw_id_fields = ["document", "shared_with", "shared_by"]
    list_select_related = ["document", "shared_with", "shared_by"]


@admin.register(ShareInvitation)
class ShareInvitationAdmin(StaffAuditedAdmin):
    list_display = ["document", "email", "permission", "invited_by", "created_at", "expires_at"]
    list_filter = ["permission", "expires_at"]
    search_fields = ["document__title", "email", "invited_by__email"]
    raw_id_fields = ["document", "invited_by"]
    list_select_related = ["document", "invited_by"]


@admin.register(AccessLog)
class AccessLogAdmin(ReadOnlyAdmin):
    """The audit trail is read-only, for staff and for everyone else."""

    list_display = ["created_at", "user", "action", "outcome", "document", "audio", "client_ip"]
    list_filter = ["action", "outcome"]
    search_fields = ["user__email", "document__title", "client_ip", "=document__id"]
    list_select_related = ["user", "document", "audio"]
    date_hierarchy = "created_at"
