from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from operations import services
from operations.admin_audit import ReadOnlyAdmin
from operations.forms import SiteSettingsForm
from operations.models import (
    SITE_SETTINGS_ID,
    ExpiryNotice,
    FailureAlert,
    SiteSettings,
    StaffAction,
    TaskFailure,
    UsageRecord,
    WorkerHeartbeat,
)
from users.models import User


@admin.register(SiteSettings)
class SiteSettingsAdmin(admin.ModelAdmin):
    """The one row; every save goes through the service, so it is in the staff trail."""

    form = SiteSettingsForm
    readonly_fields = ["updated_at", "updated_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        SiteSettings.objects.get_or_create(pk=SITE_SETTINGS_ID)
        return HttpResponseRedirect(
            reverse("admin:operations_sitesettings_change", args=[SITE_SETTINGS_ID])
        )

    def save_model(self, request: HttpRequest, obj: SiteSettings, form: Any, change: bool) -> None:
        assert isinstance(request.user, User)
        services.update_site_settings(
            staff=request.user,
            values={name: form.cleaned_data[name] for name in SiteSettings.EDITABLE},
            via=StaffAction.Via.ADMIN,
        )


@admin.register(TaskFailure)
class TaskFailureAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "task", "object_type", "object_id", "error_id", "alerted",
                    "message"]  # fmt: skip
    list_filter = ["task", "object_type", "alerted"]
    search_fields = ["error_id", "object_id", "task", "message"]
    date_hierarchy = "created_at"


@admin.register(StaffAction)
class StaffActionAdmin(ReadOnlyAdmin):
    """The staff trail is read-only, for everyone."""

    list_display = ["created_at", "staff_email", "action", "via", "target_type", "target_id",
                    "target_repr"]  # fmt: skip
    list_filter = ["action", "via", "target_type"]
    search_fields = ["staff_email", "target_repr", "target_id"]
    date_hierarchy = "created_at"


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["month", "user", "engine", "characters", "audio_count", "estimated_cost"]
    list_filter = ["engine", "month"]
    search_fields = ["user__email", "engine"]
    list_select_related = ["user"]


@admin.register(ExpiryNotice)
class ExpiryNoticeAdmin(ReadOnlyAdmin):
    list_display = ["sent_at", "audio", "expires_at", "recipient"]
    search_fields = ["recipient", "audio__id"]
    date_hierarchy = "sent_at"


@admin.register(FailureAlert)
class FailureAlertAdmin(ReadOnlyAdmin):
    list_display = ["object_key", "last_sent_at"]
    search_fields = ["object_key"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = [
        "nodename", "host", "pid", "started_at", "last_seen_at", "stopped_at",
        "engine_voice", "engine_ok_at", "engine_failed_at", "engine_error",
    ]  # fmt: skip
    search_fields = ["nodename", "host"]
