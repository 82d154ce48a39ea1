"""Forms of the staff dashboard and of the admin's site settings page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MaxValueValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from operations.models import SiteSettings
from operations.site_settings import defaults, limits
from sharing.models import AccessLog

WINDOWS = (7, 30, 90)


class SiteSettingsForm(forms.ModelForm):
    class Meta:
        model = SiteSettings
        fields = list(SiteSettings.EDITABLE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        fallback = defaults()
        for name, value in fallback.items():
            shown = filesizeformat(value) if name == "upload_max_bytes" else value
            field = self.fields[name]
            field.widget.attrs["placeholder"] = str(value)
            note = _("Empty: the default from the environment (%(value)s).") % {
                "value": shown or _("none")
            }
            field.help_text = f"{field.help_text} {note}".strip()
        for name, most in limits().items():
            # Days become dates and counts database integers: both overflow long before the
            # model fields' own bounds.
            field = self.fields[name]
            assert isinstance(field, forms.IntegerField)
            field.max_value = most
            field.validators.append(MaxValueValidator(most))
            field.widget.attrs["max"] = str(most)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"id_{name}-help"


class ActivityFilterForm(forms.Form):
    user = forms.CharField(label=_("Person"), required=False, max_length=254)
    document = forms.CharField(
        label=_("Document"), required=False, max_length=300,
        help_text=_("An id, or part of the title."),
    )  # fmt: skip
    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("Any action")), *AccessLog.Action.choices],
    )
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        required=False,
        choices=[("", _("Any outcome")), *AccessLog.Outcome.choices],
    )


class WindowForm(forms.Form):
    days = forms.TypedChoiceField(
        label=_("Days shown"),
        choices=[(days, days) for days in WINDOWS],
        coerce=int,
        required=False,
    )

    def chosen(self) -> int:
        if self.is_valid() and self.cleaned_data.get("days"):
            return int(self.cleaned_data["days"])
        return 30


class MonthForm(forms.Form):
    month = forms.DateField(label=_("Month"), required=False, input_formats=["%Y-%m", "%Y-%m-%d"])
