import sys

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import api_errors, error_pages, views

urlpatterns = [
    path("health/", views.health, name="health"),
    path("health/ready/", views.health, name="health-ready"),
    path("health/live/", views.live, name="health-live"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/v1/docs/",
        # The split view serves its script as a file, and the page's rules come from a file
        # too, so the docs need no inline script or style (CSP).
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/v1/", include("users.api_urls")),
    path("api/v1/", include("document_processing.api_urls")),
    path("api/v1/", include("speech_processing.api_urls")),
    path("api/v1/", include("sharing.api_urls")),
    path("api/v1/", include("exports.api_urls")),
    # Anything else under /api/ is a 404 in the envelope, with or without DEBUG.
    re_path(r"^api/", api_errors.api_not_found),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
    path("dashboard/", include("operations.urls")),
    path("", include("web.urls")),
]


def handler404(request: HttpRequest, exception: Exception) -> HttpResponse:
    if api_errors.is_api_request(request):
        return api_errors.api_not_found(request)
    return error_pages.not_found(request)


def handler500(request: HttpRequest) -> HttpResponse:
    # Called while the exception is being handled, from a view or a middleware (a session that
    # cannot be saved): a full disk is a 503 with a message, not a 500.
    failure = sys.exception()
    if failure is not None and (full := api_errors.out_of_space_response(failure, request)):
        return full
    if api_errors.is_api_request(request):
        return api_errors.api_server_error(request)
    return error_pages.server_error(request)


def handler400(request: HttpRequest, exception: Exception) -> HttpResponse:
    if api_errors.is_api_request(request):
        return api_errors.api_bad_request(request)
    return error_pages.bad_request(request)


def handler403(request: HttpRequest, exception: Exception) -> HttpResponse:
    if api_errors.is_api_request(request):
        return api_errors.api_permission_denied(request)
    return error_pages.permission_denied(request)
