"""The link in an invitation email: the invited person opens the document it shares."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from core.exceptions import NotFound
from sharing import invitations
from sharing.audit import record_accepted
from sharing.policy import visible_document
from web.views.common import signed_in


@login_required
@require_safe
def open_invitation(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept the signed-in person's invitation to the document, then open it.

    A link followed from an email is a GET, and it accepts: it takes only invitations sent to
    the person's own confirmed addresses, which their next log-in would take anyway
    (sharing.signals), so a link forged by someone else can do nothing more.
    """
    user = signed_in(request)
    shares = invitations.accept_invitations(user=user, document_id=pk)
    record_accepted(request, user=user, shares=shares)
    try:
        document = visible_document(user, pk)
    except NotFound:
        # The same words for every case: nothing here says who has been invited.
        messages.error(
            request,
            _(
                "This invitation cannot be opened. It may have expired or been withdrawn, or it "
                "was sent to an email address you have not confirmed: confirm it with the link we "
                "emailed you, then open the invitation again."
            ),
        )
        return redirect("library")
    if shares:
        messages.success(request, _("“%(title)s” was shared with you.") % {"title": document.title})
    return redirect("document-page", pk=document.pk)
