"""URLs of the reader page."""

from django.urls import path

import core.converters  # noqa: F401  (registers the "id" converter)
from web import reader

urlpatterns = [
    path("pages/<id:pk>/", reader.reader, name="reader"),
    path("documents/<id:pk>/listen/", reader.listen, name="document-listen"),
    path("pages/<id:pk>/edit/", reader.edit_page, name="reader-edit"),
    path("pages/<id:pk>/preview/", reader.preview_page, name="reader-preview"),
    path("pages/<id:pk>/generate/", reader.generate_audio, name="reader-generate"),
]
