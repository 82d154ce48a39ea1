from django.contrib import admin

from operations.admin_audit import StaffAuditedAdmin
from speech_processing.models import Audio, Audiobook, ListeningProgress, PlaybackPosition


@admin.register(Audio)
class AudioAdmin(StaffAuditedAdmin):
    list_display = ["id", "page", "voice", "status", "lifetime_status", "duration_seconds",
                    "created_by", "created_at", "expires_at"]  # fmt: skip
    list_filter = ["status", "lifetime_status", "engine", "created_at"]
    search_fields = ["voice", "page__document__title", "created_by__email", "=id"]
    readonly_fields = ["file_key", "size_bytes", "duration_seconds", "timings", "attempts",
                       "created_at", "started_at", "completed_at"]  # fmt: skip
    raw_id_fields = ["page", "created_by"]
    list_select_related = ["page", "created_by"]
    date_hierarchy = "created_at"


@admin.register(PlaybackPosition)
class PlaybackPositionAdmin(StaffAuditedAdmin):
    list_display = ["user", "audio", "position_seconds", "updated_at"]
    list_filter = ["updated_at"]
    search_fields = ["user__email", "=audio__id"]
    raw_id_fields = ["user", "audio"]
    list_select_related = ["user", "audio"]


@admin.register(ListeningProgress)
class ListeningProgressAdmin(StaffAuditedAdmin):
    list_display = ["user", "document", "page", "voice", "position_seconds", "updated_at"]
    list_filter = ["updated_at"]
    search_fields = ["user__email", "document__title", "=document__id"]
    raw_id_fields = ["user", "document", "page", "audio"]
    list_select_related = ["user", "document", "page"]


@admin.register(Audiobook)
class AudiobookAdmin(StaffAuditedAdmin):
    list_display = ["id", "document", "voice", "status", "pages_done", "pages_total",
                    "created_by", "created_at"]  # fmt: skip
    list_filter = ["status", "created_at"]
    search_fields = ["voice", "document__title", "created_by__email", "=id"]
    readonly_fields = ["file_key", "size_bytes", "duration_seconds", "chapters", "created_at",
                       "completed_at"]  # fmt: skip
    raw_id_fields = ["document", "created_by"]
    list_select_related = ["document", "created_by"]
