from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.serializer_fields import StrictCharField
from document_processing.markdown import render_markdown
from document_processing.models import Document, Page, PageImport
from users.models import User


class UserSummarySerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "email"]


class PageSummarySerializer(serializers.ModelSerializer[Page]):
    class Meta:
        model = Page
        fields = ["id", "number", "title", "char_count"]


class DocumentSerializer(serializers.ModelSerializer[Document]):
    owner = UserSummarySerializer(read_only=True)
    permission = serializers.SerializerMethodField()
    source_url = serializers.SerializerMethodField()
    cover_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id", "title", "status", "error_message", "source_type", "source_url",
            "original_filename", "page_count", "char_count", "owner", "permission",
            "cover_url", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(
        serializers.ChoiceField(choices=["owner", "view_only", "collaborator", "can_share"])
    )
    def get_permission(self, document: Document) -> str | None:
        return getattr(document, "caller_permission", None)

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_source_url(self, document: Document) -> str | None:
        """The imported URL, or null for uploads and pasted text."""
        return document.source_url or None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_cover_url(self, document: Document) -> str | None:
        """Where the cover is served (a path under the API), or null without one."""
        if not document.cover_key:
            return None
        return reverse("document-cover", kwargs={"pk": document.pk})


class DocumentDetailSerializer(DocumentSerializer):
    pages = serializers.SerializerMethodField()

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "author", "notes", "pages"]
        read_only_fields = fields

    @extend_schema_field(PageSummarySerializer(many=True))
    def get_pages(self, document: Document) -> list[dict[str, Any]]:
        pages = getattr(document, "page_summaries", None)
        if pages is None:
            pages = list(document.pages.order_by("number"))
        return PageSummarySerializer(pages, many=True).data  # type: ignore[return-value]


class DocumentUploadSerializer(serializers.Serializer[dict[str, Any]]):
    file = serializers.FileField(allow_empty_file=True, max_length=10_000)
    title = StrictCharField(max_length=300, required=False, allow_blank=True)


class DocumentUrlSerializer(serializers.Serializer[dict[str, Any]]):
    url = StrictCharField(max_length=2000)
    title = StrictCharField(max_length=300, required=False, allow_blank=True)


class DocumentTextSerializer(serializers.Serializer[dict[str, Any]]):
    title = StrictCharField(max_length=300, allow_blank=True)
    text = StrictCharField(trim_whitespace=False)


class DocumentRenameSerializer(serializers.Serializer[dict[str, Any]]):
    title = StrictCharField(max_length=300)


class DocumentListQuerySerializer(serializers.Serializer[dict[str, Any]]):
    search = StrictCharField(max_length=200, required=False, allow_blank=True)
    # An empty value means "no filter", as a web form sends it.
    status = serializers.ChoiceField(
        choices=Document.Status.choices, required=False, allow_blank=True
    )
    scope = serializers.ChoiceField(
        choices=["owned", "shared", "all"], required=False, allow_blank=True
    )


class PageSerializer(serializers.ModelSerializer[Page]):
    html = serializers.SerializerMethodField()
    previous = serializers.SerializerMethodField()
    next = serializers.SerializerMethodField()

    class Meta:
        model = Page
        fields = [
            "id", "document", "number", "title", "markdown", "html", "text", "char_count",
            "previous", "next", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_html(self, page: Page) -> str:
        return render_markdown(page.markdown)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_previous(self, page: Page) -> int | None:
        return self.context.get("previous")

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_next(self, page: Page) -> int | None:
        return self.context.get("next")


class PageEditSerializer(serializers.Serializer[dict[str, Any]]):
    markdown = StrictCharField(trim_whitespace=False)


class PageAppendSerializer(serializers.Serializer[dict[str, Any]]):
    markdown = StrictCharField(trim_whitespace=False, required=False)
    url = StrictCharField(max_length=2000, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("markdown" in attrs) == ("url" in attrs):
            raise serializers.ValidationError(_("Give either markdown or url."))
        return attrs


class PageImportSerializer(serializers.ModelSerializer[PageImport]):
    """A web page being added to a document: follow it until `status` is completed or failed."""

    page = serializers.IntegerField(
        source="first_page_id", read_only=True, allow_null=True,
        help_text="The first page added (a long web page may make several); null until then.",
    )  # fmt: skip
    title = serializers.SerializerMethodField()

    class Meta:
        model = PageImport
        fields = [
            "id", "document", "url", "status", "error_message", "page", "page_count", "title",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_title(self, page_import: PageImport) -> str:
        """The title of the first page added, or the web address until there is one."""
        page = page_import.first_page
        return page.title if page is not None and page.title else page_import.url
