from django.urls import path

import core.converters  # noqa: F401  (registers the "id" converter)
from web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("documents/<id:pk>/", views.document_detail, name="document-page"),
]
