from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.representation import Representation
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
        fields = ["id", "number", "title", "char_count", "is_contents", "language"]


class DocumentSerializer(serializers.ModelSerializer[Document]):
    owner = UserSummarySerializer(read_only=True)
    permission = serializers.SerializerMethodField()
    source_url = serializers.SerializerMethodField()
    cover_url = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "id", "title", "status", "error_message", "source_type", "source_url",
            "original_filename", "page_count", "char_count", "language", "owner", "permission",
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


class DocumentListSerializer(serializers.BaseSerializer[dict[str, Any]]):
    """A row of the document list (`selectors.document_rows`): exactly the JSON DocumentSerializer
    makes of the same document, written out by hand.

    DRF builds a field object per field for every request and runs one per value, which at 20
    rows cost more than the query (a profile of `GET /api/v1/documents/` at 1,000 documents:
    a fifth of the request). The API schema still describes the rows with DocumentSerializer;
    a test holds the two equal.
    """

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        row = instance
        return {
            "id": row["id"],
            "title": row["title"],
            "status": row["status"],
            "error_message": row["error_message"],
            "source_type": row["source_type"],
            "source_url": row["source_url"] or None,
            "original_filename": row["original_filename"],
            "page_count": row["page_count"],
            "char_count": row["char_count"],
            "language": row["language"],
            "owner": {"id": row["owner_id"], "email": row["owner__email"]},
            "permission": row["caller_permission"],
            "cover_url": reverse("document-cover", kwargs={"pk": row["id"]})
            if row["cover_key"]
            else None,
            "created_at": _TIMESTAMP.to_representation(row["created_at"]),
            "updated_at": _TIMESTAMP.to_representation(row["updated_at"]),
        }


# One field formats every timestamp of the list as DocumentSerializer's fields do (ISO 8601 in
# the current time zone); it holds nothing of a request.
_TIMESTAMP = serializers.DateTimeField(read_only=True)


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


_LANGUAGE_HELP = (
    "A BCP 47 tag (en, ar, pt-BR) of the language the text is in; whoever may edit pages may "
    "change it. Detected when the document is read; empty while unknown."
)


class DocumentUpdateSerializer(serializers.Serializer[dict[str, Any]]):
    title = StrictCharField(max_length=300, required=False, help_text="Only the owner renames.")
    language = StrictCharField(max_length=35, required=False, help_text=_LANGUAGE_HELP)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(_("Give a title or a language."))
        return attrs


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
            "is_contents", "language", "previous", "next", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_html(self, page: Page) -> str:
        return render_markdown(page.markdown)

    # The neighbours' ids travel on the page (`selectors.neighbour_ids`, set by the view), so that
    # one serializer instance serves every page (core.representation).
    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_previous(self, page: Page) -> int | None:
        return getattr(page, "previous_page_id", None)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_next(self, page: Page) -> int | None:
        return getattr(page, "next_page_id", None)


page_representation = Representation(PageSerializer)


class PageEditSerializer(serializers.Serializer[dict[str, Any]]):
    markdown = StrictCharField(trim_whitespace=False, required=False)
    language = StrictCharField(max_length=35, required=False, help_text=_LANGUAGE_HELP)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError(_("Give markdown or a language."))
        return attrs


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
