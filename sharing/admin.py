from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from sharing.models import AccessLog, DocumentShare


@admin.register(DocumentShare)
class DocumentShareAdmin(admin.ModelAdmin):
    list_display = ["document", "shared_with", "permission", "shared_by", "created_at"]
    list_filter = ["permission"]
    search_fields = ["document__title", "shared_with__email", "shared_by__email"]
    raw_id_fields = ["document", "shared_with", "shared_by"]


@admin.register(AccessLog)
class AccessLogAdmin(admin.ModelAdmin):
    """The audit trail is read-only, for staff and for everyone else."""

    list_display = ["created_at", "user", "action", "outcome", "document", "audio", "client_ip"]
    list_filter = ["action", "outcome"]
    search_fields = ["user__email", "document__title", "client_ip"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
