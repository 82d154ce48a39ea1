"""Documents and pages endpoints of API.md. Each view validates, calls one service, serialises."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView

from core.exceptions import PayloadTooLarge, PermissionDenied, ValidationError
from core.pagination import PaginatedView, paginated_response
from core.parsers import JSONParser
from core.throttles import RefusalsAreFree, RetryThrottle, UploadThrottle
from document_processing import page_imports, selectors, services
from document_processing.models import Page
from document_processing.serializers import (
    DocumentDetailSerializer,
    DocumentListQuerySerializer,
    DocumentListSerializer,
    DocumentSerializer,
    DocumentTextSerializer,
    DocumentUpdateSerializer,
    DocumentUploadSerializer,
    DocumentUrlSerializer,
    PageAppendSerializer,
    PageEditSerializer,
    PageImportSerializer,
    PageSerializer,
    PageSummarySerializer,
    page_representation,
)
from sharing.audit import audited
from sharing.models import AccessLog
from sharing.policy import Action, can, get_document
from users.auth import current_user

# Multipart bodies carry a little more than the file itself.
_MULTIPART_SLACK = 1024 * 1024


def _refuse_oversized_body(request: Request) -> None:
    """Answer 413 from the Content-Length alone, before reading a byte of the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.UPLOAD_MAX_BYTES + _MULTIPART_SLACK:
        raise PayloadTooLarge(
            _("The file is larger than the limit of %(mb)d MB.")
            % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
        )


_create_request = PolymorphicProxySerializer(
    component_name="DocumentCreate",
    serializers=[DocumentUploadSerializer, DocumentUrlSerializer, DocumentTextSerializer],
    resource_type_field_name=None,
)


class DocumentListView(RefusalsAreFree, PaginatedView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def get_throttles(self) -> list[BaseThrottle]:
        return [UploadThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        parameters=[DocumentListQuerySerializer],
        responses={200: DocumentSerializer(many=True)},
        tags=["documents"],
    )
    def get(self, request: Request) -> Response:
        query = DocumentListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = selectors.document_rows(user=current_user(request), **query.validated_data)
        return paginated_response(request, self, rows, DocumentListSerializer)

    @extend_schema(request=_create_request, responses={202: DocumentSerializer}, tags=["documents"])
    def post(self, request: Request) -> Response:
        _refuse_oversized_body(request)
        user = current_user(request)
        if "file" in request.FILES:
            upload = DocumentUploadSerializer(data=request.data)
            upload.is_valid(raise_exception=True)
            document = services.create_document_from_upload(
                owner=user,
                uploaded_file=upload.validated_data["file"],
                title=upload.validated_data.get("title"),
            )
        elif "url" in request.data:
            by_url = DocumentUrlSerializer(data=request.data)
            by_url.is_valid(raise_exception=True)
            document = services.create_document_from_url(owner=user, **by_url.validated_data)
        elif "text" in request.data:
            pasted = DocumentTextSerializer(data=request.data)
            pasted.is_valid(raise_exception=True)
            document = services.create_document_from_text(owner=user, **pasted.validated_data)
        else:
            message = _("Send a file, a url, or a title and text.")
            raise ValidationError(message, fields={"file": [message]})
        document = selectors.document_detail(user=user, document_id=document.pk)
        return Response(DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)


class DocumentDetailView(APIView):
    @extend_schema(responses={200: DocumentDetailSerializer}, tags=["documents"])
    def get(self, request: Request, pk: int) -> Response:
        document = selectors.document_detail(user=current_user(request), document_id=pk)
        return Response(DocumentDetailSerializer(document).data)

    @extend_schema(
        request=DocumentUpdateSerializer,
        responses={200: DocumentDetailSerializer},
        tags=["documents"],
        description="`title`: the owner renames. `language`: whoever may edit pages sets the "
        "document's language (a BCP 47 tag; 400 for one Pagecast does not know); the pages "
        "that were in the document's language follow it.",
    )
    def patch(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        # Access first (404, then 403 for a caller who may do neither), then the body.
        document = get_document(user, pk, Action.VIEW)
        if not (can(user, Action.RENAME, document) or can(user, Action.EDIT_PAGES, document)):
            raise PermissionDenied(_("You do not have permission to do this to this document."))
        serializer = DocumentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_document(user=user, document=document, **serializer.validated_data)
        document = selectors.document_detail(user=user, document_id=pk)
        return Response(DocumentDetailSerializer(document).data)

    @extend_schema(responses={204: None}, tags=["documents"])
    def delete(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk, Action.VIEW)
        with audited(
            request._request, user=user, action=AccessLog.Action.DELETE, document=None,
            details={"document_id": document.pk, "title": document.title},
        ):  # fmt: skip
            services.delete_document(user=user, document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


class DocumentCoverView(APIView):
    @extend_schema(
        responses={
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            304: OpenApiResponse(description="The cover the client already has"),
        },
        tags=["documents"],
        description="The document's cover as JPEG: an EPUB's cover image, a DOCX thumbnail or "
        "a PDF's first page. 404 when the document has none (`cover_url` is then null).",
    )
    def get(self, request: Request, pk: int) -> HttpResponse:
        user = current_user(request)
        document = get_document(user, pk, Action.VIEW)
        # A cover is never changed in place (a new one gets a new key), so its key is its tag.
        tag = '"' + hashlib.sha256(document.cover_key.encode()).hexdigest()[:32] + '"'
        if document.cover_key and tag in request.headers.get("If-None-Match", ""):
            response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
        else:
            data = services.read_cover(user=user, document=document)
            response = HttpResponse(data, content_type="image/jpeg")
        response["ETag"] = tag
        response["Cache-Control"] = "private, max-age=86400"
        return response


class DocumentRetryView(APIView):
    throttle_classes = [RetryThrottle]

    @extend_schema(request=None, responses={202: DocumentSerializer}, tags=["documents"])
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk, Action.RETRY_EXTRACTION)
        services.retry_extraction(user=user, document=document)
        document = selectors.document_detail(user=user, document_id=pk)
        return Response(DocumentSerializer(document).data, status=status.HTTP_202_ACCEPTED)


class DocumentPagesView(RefusalsAreFree, PaginatedView):
    @extend_schema(responses={200: PageSummarySerializer(many=True)}, tags=["pages"])
    def get(self, request: Request, pk: int) -> Response:
        document = get_document(current_user(request), pk, Action.VIEW)
        pages = selectors.page_list(document=document)
        return paginated_response(request, self, pages, PageSummarySerializer)

    @extend_schema(
        request=PageAppendSerializer,
        responses={201: PageSerializer, 202: PageImportSerializer},
        tags=["pages"],
        description="`{markdown}` adds the page at once (201 Page). `{url}` is checked and "
        "queued (202 PageImport, with its address in `Location`): a worker fetches the web "
        "page and appends it; the import then says `completed` and names the `page`, or "
        "`failed` with an `error_message`. Adding by URL counts against the URL import rate "
        "limit.",
    )
    def post(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        document = get_document(user, pk, Action.EDIT_PAGES)
        serializer = PageAppendSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "url" in serializer.validated_data:
            # A fetch costs what a URL import costs, so it draws on the same allowance;
            # counted after access, so a refused caller spends none of it.
            self.count_upload(request)
            page_import = page_imports.start_page_import(
                user=user, document=document, url=serializer.validated_data["url"]
            )
            # Where to follow it until the worker is done.
            location = reverse("page-import-detail", kwargs={"pk": page_import.pk})
            return Response(
                PageImportSerializer(page_import).data,
                status=status.HTTP_202_ACCEPTED,
                headers={"Location": location},
            )
        page = services.append_page(
            user=user, document=document, markdown=serializer.validated_data["markdown"]
        )
        return _page_response(page=selectors.page_detail(user=user, page_id=page.pk), code=201)


class PageImportDetailView(APIView):
    @extend_schema(responses={200: PageImportSerializer}, tags=["pages"])
    def get(self, request: Request, pk: int) -> Response:
        page_import = selectors.page_import_detail(user=current_user(request), page_import_id=pk)
        return Response(PageImportSerializer(page_import).data)


class PageDetailView(APIView):
    @extend_schema(responses={200: PageSerializer}, tags=["pages"])
    def get(self, request: Request, pk: int) -> Response:
        return _page_response(page=selectors.page_detail(user=current_user(request), page_id=pk))

    @extend_schema(request=PageEditSerializer, responses={200: PageSerializer}, tags=["pages"])
    def patch(self, request: Request, pk: int) -> Response:
        user = current_user(request)
        page = selectors.page_detail(user=user, page_id=pk)
        serializer = PageEditSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.update_page(user=user, page=page, **serializer.validated_data)
        return _page_response(page=selectors.page_detail(user=user, page_id=pk))


def _page_response(*, page: Page, code: int = 200) -> Response:
    page.previous_page_id, page.next_page_id = selectors.neighbour_ids(page=page)  # type: ignore[attr-defined]
    return Response(page_representation(page), status=code)
