"""The staff dashboard: figures, failures, activity, usage, the staff trail and site settings.

Staff only: anyone else signed in gets a 404 (the dashboard's existence is not shown), people not
signed in go to the log-in page. Every list is paginated and costs the same queries at any size.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.exceptions import ValidationError
from exports.audit_log import export_audit_log, key_for, parse_month
from operations import charts, selectors, services
from operations.forms import (
    WINDOWS,
    ActivityFilterForm,
    MonthForm,
    SiteSettingsForm,
    WindowForm,
)
from operations.models import SITE_SETTINGS_ID, SiteSettings, StaffAction
from operations.site_settings import site_settings
from operations.storage_usage import storage_usage
from speech_processing.voices import display_name_of
from users.models import User

PAGE_SIZE = 25
RECENT_FAILURES = 10

View = Callable[..., HttpResponseBase]


def staff_only(view: View) -> View:
    @login_required
    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not (request.user.is_active and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return guarded


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> tuple[Page[Any], str]:
    """One page of the list, and the query string that keeps the filters on the page links."""
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    kept = [(key, value) for key, value in request.GET.items() if key != "page" and value]
    return page, (urlencode(kept) + "&" if kept else "")


@staff_only
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    days = WindowForm(request.GET).chosen()
    figures = selectors.daily(days=days)
    month = selectors.month_start()
    series = [
        ("documents", _("Documents added"), ""),
        ("pages", _("Pages added"), ""),
        ("audios", _("Audio made"), ""),
        ("audio_minutes", _("Minutes of audio made"), _("min")),
        ("characters", _("Characters synthesised"), ""),
        ("failures", _("Task failures"), ""),
    ]
    chart_list = [
        {
            "title": title,
            "svg": charts.bar_chart(
                chart_id=f"chart-{name}", title=title, points=figures.points(name), unit=unit
            ),
            "total": sum(getattr(figures, name)),
            "points": figures.points(name),
        }
        for name, title, unit in series
    ]
    voice_chart = charts.horizontal_bar_chart(
        chart_id="chart-voices",
        title=_("Characters synthesised by engine and voice"),
        rows=[(display_name_of(row["voice"]), row["characters"] or 0) for row in figures.by_voice],
    )
    context = {
        "section": "overview",
        "days": days,
        "windows": WINDOWS,
        "totals": selectors.totals(),
        "storage": storage_usage(),
        "charts": chart_list,
        "by_voice": figures.by_voice,
        "voice_chart": voice_chart,
        "usage": selectors.usage_by_engine(month=month),
        "month": month,
        "recent_failures": list(selectors.failures()[:RECENT_FAILURES]),
        "config": site_settings(),
    }
    return render(request, "operations/overview.html", context)


@staff_only
@require_GET
def failures(request: HttpRequest) -> HttpResponse:
    page, query_string = _page(request, selectors.failures())
    return render(
        request,
        "operations/failures.html",
        {"section": "failures", "page_obj": page, "query_string": query_string},
    )


@staff_only
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    form = ActivityFilterForm(request.GET)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.activity(
        user=(filters.get("user") or "").strip(),
        document=(filters.get("document") or "").strip(),
        action=filters.get("action") or "",
        outcome=filters.get("outcome") or "",
    )
    page, query_string = _page(request, entries)
    exported = request.GET.get("exported", "")
    try:
        download = reverse(
            "operations:audit-download", kwargs={"month": f"{parse_month(exported):%Y-%m}"}
        )
    except ValidationError:
        download = ""
    return render(
        request,
        "operations/activity.html",
        {
            "section": "activity", "form": form, "page_obj": page,
            "query_string": query_string, "audit_download": download,
        },
    )  # fmt: skip


@staff_only
@require_POST
def audit_export(request: HttpRequest) -> HttpResponse:
    """Write one month of the audit log to storage now (beat also does it monthly)."""
    month = request.POST.get("month", "")
    try:
        export_audit_log(month=month)
    except ValidationError as exc:
        messages.error(request, exc.message)
        return redirect("operations:activity")
    exported = parse_month(month).strftime("%Y-%m")
    messages.success(request, _("The audit log for %(month)s is ready.") % {"month": exported})
    return redirect(f"{reverse('operations:activity')}?exported={exported}")


@staff_only
@require_GET
def audit_download(request: HttpRequest, month: str) -> HttpResponseBase:
    try:
        key = key_for(parse_month(month))
    except ValidationError as exc:
        raise Http404 from exc
    if not default_storage.exists(key):
        raise Http404
    return FileResponse(
        default_storage.open(key, "rb"), as_attachment=True,
        filename=key.rsplit("/", 1)[-1], content_type="application/gzip",
    )  # fmt: skip


@staff_only
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    form = MonthForm(request.GET)
    chosen = form.cleaned_data.get("month") if form.is_valid() else None
    month = (chosen or selectors.month_start()).replace(day=1)
    page, query_string = _page(request, selectors.usage_records(month=month))
    context = {
        "section": "usage",
        "month": month,
        "months": selectors.usage_months(),
        "by_engine": selectors.usage_by_engine(month=month),
        "total_cost": selectors.month_total_cost(month=month),
        "page_obj": page,
        "query_string": query_string,
    }
    return render(request, "operations/usage.html", context)


@staff_only
@require_GET
def staff_actions(request: HttpRequest) -> HttpResponse:
    page, query_string = _page(request, selectors.staff_actions())
    return render(
        request,
        "operations/staff_actions.html",
        {"section": "staff_actions", "page_obj": page, "query_string": query_string},
    )


@staff_only
@require_http_methods(["GET", "POST"])
def site_settings_page(request: HttpRequest) -> HttpResponse:
    stored = SiteSettings.objects.select_related("updated_by").filter(pk=SITE_SETTINGS_ID).first()
    instance = stored or SiteSettings(pk=SITE_SETTINGS_ID)
    form = SiteSettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        staff = request.user
        assert isinstance(staff, User)
        try:
            services.update_site_settings(
                staff=staff,
                values={name: form.cleaned_data[name] for name in SiteSettings.EDITABLE},
                via=StaffAction.Via.DASHBOARD,
            )
        except ValidationError as exc:
            for name, errors in exc.fields.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            messages.success(request, _("The site settings were saved."))
            return redirect("operations:settings")
    status = 400 if request.method == "POST" else 200
    context = {
        "section": "settings",
        "form": form,
        "config": site_settings(),
        "changed": stored if stored and stored.updated_by_id else None,
    }
    return render(request, "operations/settings.html", context, status=status)
