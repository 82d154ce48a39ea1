"""Adding a page from the web to a document, from the document's page, without JavaScript.

With JavaScript the same form calls the API instead. Either way the request only checks access,
the shared URL import allowance and the address; a worker fetches the page, and the document
page shows how that went.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from document_processing.page_imports import start_page_import
from sharing.policy import Action, get_document
from web.forms import AddPageForm
from web.views.common import report_form_errors, reported, signed_in, upload_allowance


@login_required
@require_POST
def add_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        document = get_document(user, pk, Action.EDIT_PAGES)
        form = AddPageForm(request.POST)
        if form.is_valid():
            with upload_allowance(request):
                start_page_import(user=user, document=document, url=form.cleaned_data["url"])
            messages.success(request, _("Fetching the page… It appears here when it is ready."))
        else:
            report_form_errors(request, form)
    return redirect("document-page", pk=pk)
