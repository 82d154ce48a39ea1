from django.contrib import admin

from speech_processing.models import Audio, PlaybackPosition


@admin.register(Audio)
class AudioAdmin(admin.ModelAdmin):
    list_display = ["id", "page", "voice", "status", "lifetime_status", "duration_seconds",
                    "created_by", "created_at"]  # fmt: skip
    list_filter = ["status", "lifetime_status", "engine"]
    search_fields = ["voice", "page__document__title", "created_by__email"]
    readonly_fields = ["file_key", "size_bytes", "duration_seconds", "timings", "attempts",
                       "created_at", "started_at", "completed_at"]  # fmt: skip
    raw_id_fields = ["page", "created_by"]


@admin.register(PlaybackPosition)
class PlaybackPositionAdmin(admin.ModelAdmin):
    list_display = ["user", "audio", "position_seconds", "updated_at"]
    raw_id_fields = ["user", "audio"]
