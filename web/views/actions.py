"""Form posts that work without JavaScript. Each checks its form, calls one service, redirects.

With JavaScript the same forms call the API instead. Both paths go through the same services,
the same access policy, the same audit trail and the same rate limits.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from core.exceptions import PayloadTooLarge, PermissionDenied
from core.query_params import parse_digits
from document_processing import services as document_services
from document_processing.models import Document
from sharing import invitations as sharing_invitations
from sharing import selectors as sharing_selectors
from sharing import services as sharing_services
from sharing.audit import audited, client_info, record, record_removed_with, shared_and_logged
from sharing.models import AccessLog, DocumentShare, ShareInvitation
from sharing.policy import Action, get_document, require
from speech_processing import audiobooks, playlist, voices
from web import making
from web.forms import (
    DeleteForm,
    ImportForm,
    PasteForm,
    RenameForm,
    ShareForm,
    SharePermissionForm,
    ShareRemoveForm,
    UploadForm,
)
from web.views.common import (
    GenerateThrottle,
    RetryThrottle,
    ShareThrottle,
    check_rate,
    report_form_errors,
    reported,
    shown_as_page_errors,
    signed_in,
    upload_allowance,
)

# Multipart bodies carry a little more than the file itself.
_MULTIPART_SLACK = 1024 * 1024


def _document_page(pk: int, *, dialog: str = "") -> HttpResponse:
    url = reverse("document-page", kwargs={"pk": pk})
    return redirect(f"{url}?dialog={dialog}#{dialog}-dialog" if dialog else url)


# --- New documents --------------------------------------------------------------------------


@login_required
@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        if (parse_digits(request.META.get("CONTENT_LENGTH")) or 0) > (
            settings.UPLOAD_MAX_BYTES + _MULTIPART_SLACK
        ):
            raise PayloadTooLarge(
                _("The file is larger than the limit of %(mb)d MB.")
                % {"mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
            )
        form = UploadForm(request.POST, request.FILES)
        if not form.is_valid():
            report_form_errors(request, form)
            return redirect("library")
        with upload_allowance(request):
            document = document_services.create_document_from_upload(
                owner=user,
                uploaded_file=form.cleaned_data["file"],
                title=form.cleaned_data["title"],
            )
        messages.success(request, _("“%(title)s” was uploaded.") % {"title": document.title})
    return redirect("library")


@login_required
@require_POST
def import_url(request: HttpRequest) -> HttpResponse:
    return _add_document(
        request, ImportForm, document_services.create_document_from_url,
        _("“%(title)s” is being imported."),
    )  # fmt: skip


@login_required
@require_POST
def paste_text(request: HttpRequest) -> HttpResponse:
    return _add_document(
        request, PasteForm, document_services.create_document_from_text,
        _("“%(title)s” was added."),
    )  # fmt: skip


def _add_document(
    request: HttpRequest,
    form_class: type[forms.Form],
    create: Callable[..., Document],
    done: str,
) -> HttpResponse:
    """The form, the upload limit, one service call and a message: a URL or pasted text."""
    user = signed_in(request)
    with reported(request):
        form = form_class(request.POST)
        if not form.is_valid():
            report_form_errors(request, form)
            return redirect("library")
        with upload_allowance(request):
            document = create(owner=user, **form.cleaned_data)
        messages.success(request, done % {"title": document.title})
    return redirect("library")


# --- A document ---------------------------------------------------------------------------------


@login_required
@require_POST
def rename(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        document = get_document(user, pk, Action.RENAME)
        form = RenameForm(request.POST)
        if form.is_valid():
            document_services.rename_document(user=user, document=document, **form.cleaned_data)
            messages.success(request, _("The document was renamed."))
        else:
            report_form_errors(request, form)
    return _document_page(pk)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with shown_as_page_errors():
        document = get_document(user, pk, Action.DELETE)
    form = DeleteForm(request.POST, title=document.title)
    if not form.is_valid():
        report_form_errors(request, form)
        return _document_page(pk, dialog="delete")
    title = document.title
    with reported(request):
        with audited(
            request, user=user, action=AccessLog.Action.DELETE, document=None,
            details={"document_id": document.pk, "title": document.title},
        ):  # fmt: skip
            document_services.delete_document(user=user, document=document)
        messages.success(request, _("“%(title)s” was deleted.") % {"title": title})
    return redirect("library")


@login_required
@require_POST
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        document = get_document(user, pk, Action.RETRY_EXTRACTION)
        check_rate(request, RetryThrottle)
        document_services.retry_extraction(user=user, document=document)
        messages.success(request, _("Processing starts again."))
    if request.POST.get("next") == "library":
        return redirect("library")
    return _document_page(pk)


# --- Audio for the whole document ----------------------------------------------------------------


@login_required
@require_POST
def make_all_audio(request: HttpRequest, pk: int) -> HttpResponse:
    """The form "Make audio for every page": the missing pages' audio in one voice, asked for
    as the API's bulk creation asks (the same service, policy, quota, throttle and audit)."""
    user = signed_in(request)
    voice = request.POST.get("voice", "").strip()
    with reported(request):
        document = get_document(user, pk)
        try:
            require(user, Action.GENERATE_AUDIO, document)
        except PermissionDenied:
            record(user=user, action=AccessLog.Action.GENERATE, outcome=AccessLog.Outcome.DENIED,
                   document=document, client=client_info(request))  # fmt: skip
            raise
        check_rate(request, GenerateThrottle)
        voice = voices.voice_for(user, voice, language=document.language)
        results = playlist.make_document_audio(
            user=user, document=document, voice=voice, pages="all", client=client_info(request)
        )
        messages.success(request, making.outcome_message(results))
    # Back to the document, with the progress shown in the voice asked for.
    url = reverse("document-page", kwargs={"pk": pk})
    query = f"?{urlencode({'voice': voice})}" if voice else ""
    return redirect(f"{url}{query}#whole-audio")


# --- The whole document as an audiobook ---------------------------------------------------------


@login_required
@require_POST
def audiobook(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        document = get_document(user, pk)
        with audited(request, user=user, action=AccessLog.Action.GENERATE, document=document):
            # Access first: a caller who may not generate learns nothing about the voices.
            require(user, Action.GENERATE_AUDIO, document)
            check_rate(request, GenerateThrottle)
            voice = voices.voice_for(
                user, request.POST.get("voice", "").strip(), language=document.language
            )
            audiobooks.start_audiobook(user=user, document=document, voice=voice)
        messages.success(
            request,
            _("The audiobook is being made: pages without audio in that voice are made first."),
        )
    return _document_page(pk)


# --- Sharing ------------------------------------------------------------------------------------


@login_required
@require_POST
def share(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        document = get_document(user, pk, Action.VIEW)
        check_rate(request, ShareThrottle)
        form = ShareForm(request.POST)
        if not form.is_valid():
            report_form_errors(request, form)
            return _document_page(pk, dialog="share")
        result = shared_and_logged(request, user=user, document=document, **form.cleaned_data)
        email = form.cleaned_data["email"]
        if isinstance(result, ShareInvitation):
            # The same words whether or not the address has an account (sharing/invitations.py).
            messages.success(
                request,
                _("%(email)s was invited. The invitation is listed below until it is accepted.")
                % {"email": result.email},
            )
        else:
            messages.success(request, _("The share with %(email)s was updated.") % {"email": email})
    return _document_page(pk, dialog="share")


@login_required
@require_POST
def withdraw_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with shown_as_page_errors():
        invitation = sharing_selectors.invitation_detail(user=user, invitation_id=pk)
    with reported(request):
        with audited(
            request, user=user, action=AccessLog.Action.INVITE_WITHDRAW,
            document=invitation.document, details={"invitation": invitation.pk},
        ):  # fmt: skip
            sharing_invitations.withdraw_invitation(user=user, invitation=invitation)
        messages.success(
            request, _("The invitation to %(email)s was withdrawn.") % {"email": invitation.email}
        )
    return _document_page(invitation.document_id, dialog="share")


@login_required
@require_POST
def change_share(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with shown_as_page_errors():
        existing = sharing_selectors.share_detail(user=user, share_id=pk)
    document_id = existing.document_id
    with reported(request):
        form = SharePermissionForm(request.POST)
        if not form.is_valid():
            report_form_errors(request, form)
            return _document_page(document_id, dialog="share")
        with audited(
            request, user=user, action=AccessLog.Action.PERMISSION_CHANGE,
            document=existing.document,
            details={"from": existing.permission, "to": form.cleaned_data["permission"],
                     "shared_with": existing.shared_with_id},
        ):  # fmt: skip
            _share, removed = sharing_services.change_share(
                user=user, share=existing, **form.cleaned_data
            )
        record_removed_with(request, user=user, document=existing.document,
                            person_id=existing.shared_with_id, removed=removed)  # fmt: skip
        messages.success(request, _("The permission was changed.") + _removed_note(removed))
    return _document_page(document_id, dialog="share")


@login_required
@require_POST
def remove_share(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with shown_as_page_errors():
        existing = sharing_selectors.share_detail(user=user, share_id=pk)
    document_id = existing.document_id
    with reported(request):
        form = ShareRemoveForm(request.POST)
        if not form.is_valid():
            report_form_errors(request, form)
            return _document_page(document_id, dialog="share")
        with audited(
            request, user=user, action=AccessLog.Action.UNSHARE, document=existing.document,
            details={"shared_with": existing.shared_with_id},
        ):  # fmt: skip
            removed = sharing_services.remove_share(user=user, share=existing, **form.cleaned_data)
        record_removed_with(request, user=user, document=existing.document,
                            person_id=existing.shared_with_id, removed=removed)  # fmt: skip
        messages.success(request, _("The share was removed.") + _removed_note(removed))
    return _document_page(document_id, dialog="share")


def _removed_note(removed: list[DocumentShare]) -> str:
    if not removed:
        return ""
    return " " + ngettext(
        "The share they granted (%(emails)s) was removed too.",
        "The %(count)d shares they granted (%(emails)s) were removed too.",
        len(removed),
    ) % {"count": len(removed), "emails": ", ".join(s.shared_with.email for s in removed)}
