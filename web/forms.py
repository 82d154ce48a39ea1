"""Forms of the web pages. They check the shape of input only; services decide the rest."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from sharing.models import DocumentShare
from speech_processing.engines.base import Voice
from speech_processing.voices import by_language, voice_name


class UploadForm(forms.Form):
    file = forms.FileField(label=_("File"))
    title = forms.CharField(label=_("Title (optional)"), max_length=300, required=False)


class ImportForm(forms.Form):
    url = forms.CharField(label=_("Web address"), max_length=2000)
    title = forms.CharField(label=_("Title (optional)"), max_length=300, required=False)


class PasteForm(forms.Form):
    title = forms.CharField(label=_("Title (optional)"), max_length=300, required=False)
    text = forms.CharField(label=_("Text"), strip=False, widget=forms.Textarea)


class RenameForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=300)


class AddPageForm(forms.Form):
    url = forms.CharField(label=_("Web address"), max_length=2000)


class DeleteForm(forms.Form):
    """Deleting asks for the document's title, typed, so it is never done by a slip."""

    confirm_title = forms.CharField(label=_("Type the title to confirm"), strip=False)

    def __init__(self, *args: Any, title: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expected_title = title

    def clean_confirm_title(self) -> str:
        typed: str = self.cleaned_data["confirm_title"]
        if typed.strip() != self.expected_title.strip():
            raise forms.ValidationError(_("The title you typed does not match."))
        return typed


class DeleteAccountForm(forms.Form):
    """Deleting an account asks for the password (when it has one) and a ticked box."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    confirm = forms.BooleanField(
        label=_("I understand that my documents, audio and shares are deleted for good."),
        error_messages={"required": _("Tick the box to confirm that you want to delete it all.")},
    )


class ShareForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    permission = forms.ChoiceField(label=_("Permission"), choices=DocumentShare.Permission.choices)


class SharePermissionForm(forms.Form):
    permission = forms.ChoiceField(label=_("Permission"), choices=DocumentShare.Permission.choices)
    cascade = forms.BooleanField(
        label=_("If they can no longer share, also remove the shares they granted"), required=False
    )


class ShareRemoveForm(forms.Form):
    cascade = forms.BooleanField(label=_("Also remove the shares they granted"), required=False)


class PreferencesForm(forms.Form):
    preferred_voice = forms.ChoiceField(label=_("Preferred voice"), required=False)

    def __init__(self, *args: Any, voices: list[Voice], first: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["preferred_voice"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("The site's default voice")), *voice_choices(voices, first=first)]


def voice_choices(
    voices: list[Voice], *, first: str = ""
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Voices grouped by language (each group an <optgroup>), each by its short name there."""
    return [
        (group.label, [(voice.id, voice_name(voice).short) for voice in group.voices])
        for group in by_language(voices, first=first)
    ]
