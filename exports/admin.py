from django.contrib import admin

from exports.models import Export
from operations.admin_audit import ReadOnlyAdmin


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    """People's exports; the export job and the sweep change them, staff only watch."""

    list_display = ["pk", "user", "status", "size_bytes", "created_at", "expires_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    exclude = ["file_key"]
