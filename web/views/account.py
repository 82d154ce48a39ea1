"""The "Your data" and "Delete account" parts of the settings page: plain form posts over the
same services as the API (exports.services, users.deletion)."""

from __future__ import annotations

import logging
from typing import Any

from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from exports import services as export_services
from users import deletion
from users.models import User
from users.throttles import DeleteAccountThrottle
from web.forms import DeleteAccountForm
from web.views.common import check_rate, report_form_errors, reported, signed_in

logger = logging.getLogger(__name__)


def _settings_section(section: str) -> HttpResponse:
    return redirect(f"{reverse('settings')}#{section}")


def account_context(request: HttpRequest, user: User) -> dict[str, Any]:
    """What the settings page shows about the person's export and account deletion."""
    export = export_services.latest_export(user=user)
    downloadable = export is not None and export_services.is_downloadable(export)
    return {
        "latest_export": export,
        "export_download_url": (
            reverse("export-download", kwargs={"pk": export.pk})
            if export is not None and downloadable
            else ""
        ),
        "export_retention_days": settings.EXPORT_RETENTION_DAYS,
        "delete_form": DeleteAccountForm(),
        "has_password": user.has_usable_password(),
        "reauthenticated": deletion.recently_signed_in_with_provider(request, user),
        "reauthentication_links": _reauthentication_links(request, user),
    }


def _reauthentication_links(request: HttpRequest, user: User) -> list[tuple[str, str]]:
    """(provider name, URL) to sign in again with each provider the person uses and that is
    still switched on; the sign-in comes back to the deletion form."""
    if user.has_usable_password():
        return []
    adapter = get_social_adapter()
    back = f"{reverse('settings')}#delete-title"
    links = []
    providers = SocialAccount.objects.filter(user=user).values_list("provider", flat=True)
    for provider_id in sorted(set(providers)):
        try:
            provider = adapter.get_provider(request, provider_id)
        except Exception:  # switched off since: it cannot be used to sign in
            logger.info("Provider %s is not switched on; not offered", provider_id)
            continue
        url = provider.get_login_url(request, process="login", action="reauthenticate", next=back)
        links.append((provider.name, url))
    return links


@login_required
@require_POST
def start_export(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        export_services.start_export(user=user)
        messages.success(
            request, _("Your export is being made. Reload this page in a while to download it.")
        )
    return _settings_section("data-title")


@login_required
@require_POST
def delete_account(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    with reported(request):
        check_rate(request, DeleteAccountThrottle)
        form = DeleteAccountForm(request.POST)
        if not form.is_valid():
            report_form_errors(request, form)
            return _settings_section("delete-title")
        deletion.request_account_deletion(
            user=user, password=form.cleaned_data["password"] or None, request=request
        )
        logout(request)
        messages.success(request, _("Your account and everything in it are being deleted."))
        return redirect("home")
    return _settings_section("delete-title")
