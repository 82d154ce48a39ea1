from django.contrib import admin

from document_processing.models import Document, Page


class PageInline(admin.TabularInline):
    model = Page
    fields = ["number", "title", "char_count"]
    readonly_fields = ["number", "title", "char_count"]
    extra = 0
    show_change_link = True


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "status", "source_type", "page_count", "created_at"]
    list_filter = ["status", "source_type", "detected_type"]
    search_fields = ["title", "owner__email", "original_filename"]
    readonly_fields = ["file_key", "file_size", "detected_type", "created_at", "updated_at"]
    raw_id_fields = ["owner"]
    inlines = [PageInline]


@admin.register(Page)
class PageAdmin(admin.ModelAdmin):
    list_display = ["document", "number", "title", "char_count"]
    search_fields = ["title", "document__title"]
    raw_id_fields = ["document"]
