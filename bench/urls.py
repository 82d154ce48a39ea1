"""The application's URLs plus the bare views that serve as baselines."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from core.urls import urlpatterns as app_urlpatterns


def bare_json(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


urlpatterns = [path("bench/bare/", bare_json), *app_urlpatterns]
