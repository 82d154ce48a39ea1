from django.urls import path

import core.converters  # noqa: F401  (registers the "id" converter)
from exports import api

urlpatterns = [
    path("auth/me/export/", api.ExportStartView.as_view(), name="auth-me-export"),
    path("exports/<id:pk>/", api.ExportDetailView.as_view(), name="export-detail"),
    path("exports/<id:pk>/download/", api.ExportDownloadView.as_view(), name="export-download"),
]
