"""Server-rendered pages over the same services, selectors and access policy as the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from core.exceptions import NotFound
from document_processing.selectors import document_detail as select_document
from users.models import User


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "web/home.html")


@login_required
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    try:
        document = select_document(user=user, document_id=pk)
    except NotFound as exc:
        raise Http404 from exc
    return render(request, "web/document_detail.html", {"document": document})
