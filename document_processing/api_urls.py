from django.urls import path

import core.converters  # noqa: F401  (registers the "id" converter)
from document_processing import api

urlpatterns = [
    path("documents/", api.DocumentListView.as_view(), name="document-list"),
    path("documents/<id:pk>/", api.DocumentDetailView.as_view(), name="document-detail"),
    path("documents/<id:pk>/retry/", api.DocumentRetryView.as_view(), name="document-retry"),
    path("documents/<id:pk>/cover/", api.DocumentCoverView.as_view(), name="document-cover"),
    path("documents/<id:pk>/pages/", api.DocumentPagesView.as_view(), name="document-pages"),
    path("pages/<id:pk>/", api.PageDetailView.as_view(), name="page-detail"),
    path("page-imports/<id:pk>/", api.PageImportDetailView.as_view(), name="page-import-detail"),
]
