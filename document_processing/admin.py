from typing import Any

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

from document_processing.models import Document, Page, PageImport
from operations.admin_audit import StaffAuditedAdmin


class PageInline(admin.TabularInline):
    """Pages are shown here; they are changed on their own page, where the change is recorded."""

    model = Page
    fields = ["number", "title", "char_count"]
    readonly_fields = ["number", "title", "char_count"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(StaffAuditedAdmin):
    list_display = ["title", "owner", "status", "source_type", "page_count", "created_at"]
    list_filter = ["status", "source_type", "detected_type", "created_at"]
    search_fields = ["title", "owner__email", "original_filename", "=id"]
    readonly_fields = ["file_key", "file_size", "detected_type", "created_at", "updated_at"]
    raw_id_fields = ["owner"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [PageInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Page)
class PageAdmin(StaffAuditedAdmin):
    list_display = ["document", "number", "title", "char_count"]
    list_filter = ["document__status"]
    search_fields = ["title", "document__title", "=document__id"]
    raw_id_fields = ["document"]
    list_select_related = ["document"]


@admin.register(PageImport)
class PageImportAdmin(StaffAuditedAdmin):
    """Web pages people asked to add to documents; made and changed by the worker only."""

    list_display = ["document", "requested_by", "status", "url", "page_count", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["url", "document__title", "requested_by__email", "=document__id", "=id"]
    raw_id_fields = ["document", "requested_by", "first_page"]
    list_select_related = ["document", "requested_by"]
    readonly_fields = [
        "document", "requested_by", "url", "status", "error_message", "first_page", "page_count",
        "attempts", "processing_started_at", "processed_at", "created_at", "updated_at",
    ]  # fmt: skip

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
