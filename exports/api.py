"""Account export endpoints: start an export, follow it, download its ZIP."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import NotFound
from exports import services
from exports.serializers import ExportSerializer
from speech_processing.streaming import ranged_file_response
from users.auth import current_user


class ExportStartView(APIView):
    @extend_schema(
        request=None,
        responses={202: ExportSerializer},
        tags=["accounts"],
        description=(
            "Start an export of everything the caller keeps: their documents (originals, "
            "pages as Markdown, a JSON manifest with titles, dates and shares given), the audio "
            "of those documents with voices and timings, and their activity. 409 while another "
            "export of theirs is being made."
        ),
    )
    def post(self, request: Request) -> Response:
        export = services.start_export(user=current_user(request))
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class ExportDetailView(APIView):
    @extend_schema(responses={200: ExportSerializer}, tags=["accounts"])
    def get(self, request: Request, pk: int) -> Response:
        export = services.export_of(user=current_user(request), export_id=pk)
        return Response(ExportSerializer(export).data)


class ExportDownloadView(APIView):
    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            (206, "application/zip"): OpenApiTypes.BINARY,
            302: OpenApiResponse(description="Redirect to a short-lived signed URL (S3)"),
        },
        tags=["accounts"],
        description="The export's ZIP. 409 while it is being made; 404 once it has expired.",
    )
    def get(self, request: Request, pk: int) -> HttpResponse | StreamingHttpResponse:
        export = services.downloadable_export(user=current_user(request), export_id=pk)
        filename = services.download_filename(export)
        if settings.STORAGE_BACKEND == "s3":
            disposition = f'attachment; filename="{filename}"'
            # django-storages' S3 url() signs extra response headers; the base Storage has none.
            signed_url: Callable[..., str] = default_storage.url
            return HttpResponseRedirect(
                signed_url(export.file_key, parameters={"ResponseContentDisposition": disposition})
            )
        try:
            response = ranged_file_response(
                request._request, storage=default_storage, key=export.file_key,
                content_type="application/zip", filename=filename,
            )  # fmt: skip
        except FileNotFoundError as exc:
            raise NotFound(_("This export is no longer available. Start a new one.")) from exc
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
