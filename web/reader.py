"""The reader: one page of a document at a time, its audio, a player, and (for editors) an editor.

Server-rendered over the same selectors, services and access policy as the API. Generating,
deleting and remembering positions go through the API from the page's script; editing is a plain
form here, through the same page-edit service.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core.exceptions import ApplicationError, NotFound, PermissionDenied, ValidationError
from core.query_params import parse_id
from core.security_utils import error_body
from document_processing import selectors as document_selectors
from document_processing import services as document_services
from document_processing.language import text_direction
from document_processing.markdown import render_markdown
from document_processing.models import Page
from sharing.audit import audited
from sharing.models import AccessLog
from sharing.policy import Action, can, require, visible_document
from speech_processing import progress as listening_progress
from speech_processing import selectors as speech_selectors
from speech_processing import services as speech_services
from speech_processing import voices as voice_catalogue
from speech_processing.engines.base import Voice
from speech_processing.models import Audio
from users.models import User
from web.views.common import GenerateThrottle, check_rate, reported

# Speeds offered by the player; playback keeps the voice's pitch at each of them.
SPEEDS = (0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)


@dataclass(frozen=True)
class AudioRow:
    """One audio of the page as the reader lists it."""

    audio: Audio
    voice_name: str  # the audio's voice as people see it
    download_url: str | None
    position_seconds: float
    duration_label: str
    # Made before the page was edited: its words and read-along no longer match the page.
    outdated: bool

    @property
    def resume_seconds(self) -> float:
        """Where listening goes on: where it stopped, or the start once it was heard to the end
        (as the page's script does; the player without the script starts there too)."""
        total = self.audio.duration_seconds or 0.0
        return 0.0 if total and self.position_seconds >= total - 1 else self.position_seconds


@dataclass(frozen=True)
class VoiceOption:
    voice: Voice
    name: str  # the voice as people see it everywhere: "Joe (English (US), Piper, medium)"
    short_name: str  # the same within its language's group: "Joe · Piper, medium"
    label: str  # the short name, and whether audio in it exists
    sample_url: str
    # Whether it speaks the page's language (True while that is unknown).
    speaks: bool = True


@dataclass(frozen=True)
class VoiceGroup:
    """The voices of one language in the picker (an <optgroup>)."""

    label: str  # "English (US)"
    options: list[VoiceOption]


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required has run
    return user


def _visible_page(user: User, page_id: int) -> Page:
    try:
        return document_selectors.page_detail(user=user, page_id=page_id)
    except NotFound as exc:
        raise Http404 from exc


def duration_label(seconds: float | None) -> str:
    """Seconds as m:ss (h:mm:ss from an hour on), or an empty string when not known."""
    if seconds is None:
        return ""
    whole = max(round(seconds), 0)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


@login_required
@require_GET
def reader(request: HttpRequest, pk: int) -> HttpResponse:
    # The page picker submits ?goto=<page id> (it works without JavaScript); that page's own
    # view checks access like any other.
    goto = parse_id(request.GET.get("goto"))
    if goto is not None and goto != pk:
        return redirect("reader", pk=goto)
    user = _user(request)
    return _render_reader(request, user=user, page=_visible_page(user, pk))


@login_required
@require_GET
def listen(request: HttpRequest, pk: int) -> HttpResponse:
    """A document's way into the reader: where this person stopped, on any device, else the
    first page."""
    user = _user(request)
    try:
        document = visible_document(user, pk)
    except NotFound as exc:
        raise Http404 from exc
    # ?listen=1 (the document page's and the library's "Listen") also starts playing there, on
    # to the last page.
    query = {"listen": "1"} if request.GET.get("listen") == "1" else {}
    saved = listening_progress.progress_of(user=user, document=document)
    if saved is not None:
        url = reverse("reader", kwargs={"pk": saved.page_id})
        if saved.audio_id:
            query = {"audio": str(saved.audio_id), **query}
        return redirect(f"{url}?{urlencode(query)}" if query else url)
    first = document_selectors.page_list(document=document).first()
    if first is None:
        return redirect("document-page", pk=document.pk)
    url = reverse("reader", kwargs={"pk": first.pk})
    return redirect(f"{url}?{urlencode(query)}" if query else url)


@login_required
@require_POST
def edit_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    page = _visible_page(user, pk)
    markdown = request.POST.get("markdown", "")
    try:
        document_services.update_page(user=user, page=page, markdown=markdown)
    except ValidationError as exc:
        errors = [message for messages_ in exc.fields.values() for message in messages_]
        return _render_reader(
            request,
            user=user,
            page=_visible_page(user, pk),
            edit_markdown=markdown,
            edit_errors=errors or [exc.message],
            status=400,
        )
    except PermissionDenied as exc:
        raise DjangoPermissionDenied from exc
    messages.success(request, _("The page was saved."))
    return redirect("reader", pk=pk)


@login_required
@require_POST
def preview_page(request: HttpRequest, pk: int) -> JsonResponse:
    """The submitted Markdown rendered by the same sanitising renderer as the page itself."""
    user = _user(request)
    page = _visible_page(user, pk)
    try:
        require(user, Action.EDIT_PAGES, page.document)
    except ApplicationError as exc:
        return JsonResponse(error_body(code=exc.code, message=exc.message), status=exc.status_code)
    markdown = request.POST.get("markdown", "")
    limit = settings.PAGE_MAX_CHARS * 2
    if len(markdown) > limit:
        message = _("A page may have at most %(limit)d characters.") % {"limit": limit}
        return JsonResponse(
            error_body(code="validation_error", message=message, fields={"markdown": [message]}),
            status=400,
        )
    return JsonResponse({"html": render_markdown(markdown)})


@login_required
@require_POST
def generate_audio(request: HttpRequest, pk: int) -> HttpResponse:
    """Make the page's audio in a voice without JavaScript: its "Regenerate" button. An outdated
    audio of that voice is replaced by the service in the same step, taking no further slot."""
    user = _user(request)
    page = _visible_page(user, pk)
    made: Audio | None = None
    with (
        reported(request),
        audited(
            request, user=user, action=AccessLog.Action.GENERATE, document=page.document
        ) as entry,
    ):
        # Access first: a caller who may not generate learns nothing about voices or quota.
        require(user, Action.GENERATE_AUDIO, page.document)
        check_rate(request, GenerateThrottle)
        voice = voice_catalogue.voice_for(
            user, request.POST.get("voice", "").strip(), language=page.document.language
        )
        made = speech_services.create_audio_record(page=page, voice=voice, user=user)
        entry["audio_id"] = made.pk
    if made is not None:
        messages.success(
            request,
            _("The audio in %(voice)s is being made.")
            % {"voice": voice_catalogue.display_name_of(made.voice)},
        )
    return redirect("reader", pk=pk)


def _render_reader(
    request: HttpRequest,
    *,
    user: User,
    page: Page,
    edit_markdown: str | None = None,
    edit_errors: list[str] | None = None,
    status: int = 200,
) -> HttpResponse:
    document = page.document
    pages = list(document_selectors.page_list(document=page.document))
    previous_id, next_id = document_selectors.neighbour_ids(page=page)

    audios = [
        audio
        for audio in speech_selectors.page_audios(page=page)
        if audio.lifetime_status == Audio.Lifetime.ACTIVE
    ]
    positions = list(speech_selectors.playback_positions(user=user, audios=audios))
    position_of = {position.audio_id: position.position_seconds for position in positions}
    # The place in the document, when it is on this page and saved after the audio's own
    # position (audio heard while it was made has only this one): "Continue listening" and
    # any other device resume there.
    place = listening_progress.place_on_page(user=user, page=page)
    if place is not None and place.audio_id is not None:
        own = next((p for p in positions if p.audio_id == place.audio_id), None)
        if own is None or own.updated_at <= place.updated_at:
            position_of[place.audio_id] = place.position_seconds
    rows = [
        AudioRow(
            audio=audio,
            voice_name=voice_catalogue.display_name_of(audio.voice),
            download_url=(
                reverse("audio-download", kwargs={"pk": audio.pk})
                if audio.status == Audio.Status.COMPLETED
                else None
            ),
            position_seconds=position_of.get(audio.pk, 0.0),
            duration_label=duration_label(audio.duration_seconds),
            outdated=speech_selectors.is_outdated(audio, page_text=page.text),
        )
        for audio in audios
    ]
    playable = [row for row in rows if row.download_url]

    # The document's default voice: one that speaks its language when one is installed.
    preferred_voice = voice_catalogue.voice_for(user, language=document.language)
    wanted_voice = request.GET.get("voice", "")
    autoplay = request.GET.get("autoplay") == "1"
    selected = _selected_row(
        playable,
        audio_id=parse_id(request.GET.get("audio")),
        voice=wanted_voice,
        recently_played=[position.audio_id for position in positions],
        preferred_voice=preferred_voice,
    )
    autoplay_missing = autoplay and (selected is None or selected.audio.voice != wanted_voice)

    may_generate = can(user, Action.GENERATE_AUDIO, document)
    may_edit = can(user, Action.EDIT_PAGES, document)
    may_delete_audio = can(user, Action.DELETE, document)
    # The page's language: its text's `lang` and `dir`, and the voices that speak it.
    text_language = page.language or document.language
    voice_groups = (
        _voice_groups(preferred_voice, rows, language=text_language) if may_generate else []
    )
    voice_options = [option for group in voice_groups for option in group.options]
    quota = speech_services.quota_for(page=page) if may_generate else None

    page_label = page.title or _("Page %(number)d") % {"number": page.number}
    next_url = reverse("reader", kwargs={"pk": next_id}) if next_id else None
    config = {
        "pageId": page.pk,
        "pageAudiosUrl": reverse("page-audios", kwargs={"pk": page.pk}),
        "audioUrl": reverse("audio-detail", kwargs={"pk": 0}),
        "playedUrl": reverse("audio-played", kwargs={"pk": 0}),
        "downloadUrl": reverse("audio-download", kwargs={"pk": 0}),
        "timingsUrl": reverse("audio-timings", kwargs={"pk": 0}),
        "streamUrl": reverse("audio-stream", kwargs={"pk": 0}),
        "partsUrl": reverse("audio-parts", kwargs={"pk": 0}),
        "progressUrl": reverse("document-progress", kwargs={"pk": document.pk}),
        # How far the document's audio in a voice has got, with an estimate of the time left.
        "audioProgressUrl": reverse("document-audio-progress", kwargs={"pk": document.pk}),
        # Timings index the page's plain text; the script splits it into sentences with them.
        "pageText": page.text,
        "nextUrl": next_url,
        "nextPageId": next_id,
        # Continuous play: the document's playlist in the listener's voice, the bulk request
        # for the pages ahead, and this reader's URL for any page (its text is swapped in).
        "voice": preferred_voice,
        "playlistUrl": reverse("document-playlist", kwargs={"pk": document.pk}),
        "documentAudiosUrl": reverse("document-audios", kwargs={"pk": document.pk}),
        "readerUrl": reverse("reader", kwargs={"pk": 0}),
        "listenAhead": settings.LISTEN_AHEAD_PAGES,
        "listen": request.GET.get("listen") == "1",
        "selectedAudioId": selected.audio.pk if selected else None,
        "autoplay": autoplay and not autoplay_missing,
        "mayDelete": may_delete_audio,
        "strings": _script_strings(),
    }
    context = {
        "document": document,
        "page": page,
        "page_label": page_label,
        "page_html": render_markdown(page.markdown),
        "pages": pages,
        "previous_id": previous_id,
        "next_id": next_id,
        "rows": rows,
        "selected": selected,
        "autoplay_missing": autoplay_missing,
        "may_generate": may_generate,
        "may_edit": may_edit,
        "may_delete_audio": may_delete_audio,
        "voice_groups": voice_groups,
        "text_language": text_language,
        "text_direction": text_direction(text_language),
        # Shown next to "Generate audio" while the chosen voice does not speak the page's
        # language (the script follows the choice); generating is not held up by it.
        "voice_language_note": (
            _(
                "The chosen voice does not speak %(language)s, the language of this page. "
                "The audio can still be made."
            )
            % {"language": voice_catalogue.language_name(text_language)}
            if text_language
            else ""
        ),
        "voice_mismatch": bool(voice_options) and not voice_options[0].speaks,
        "quota": quota,
        "speeds": SPEEDS,
        "edit_markdown": page.markdown if edit_markdown is None else edit_markdown,
        "edit_errors": edit_errors or [],
        "max_markdown_chars": settings.PAGE_MAX_CHARS * 2,
        "reader_config": config,
    }
    return render(request, "web/reader.html", context, status=status)


def _selected_row(
    playable: list[AudioRow],
    *,
    audio_id: int | None,
    voice: str,
    recently_played: list[int],
    preferred_voice: str,
) -> AudioRow | None:
    """The audio the player starts with: the one asked for (by id, then by voice, as continuous
    play asks), else the one this person listened to last, else the preferred voice's, else the
    newest."""
    by_id = {row.audio.pk: row for row in playable}
    if audio_id is not None and audio_id in by_id:
        return by_id[audio_id]
    in_voice = {}
    for row in reversed(playable):  # newest first: the newest of each voice wins
        in_voice[row.audio.voice] = row
    if voice in in_voice:
        return in_voice[voice]
    for played_id in recently_played:
        if played_id in by_id:
            return by_id[played_id]
    if preferred_voice in in_voice:
        return in_voice[preferred_voice]
    return playable[0] if playable else None


def now_playing_outdated_label() -> str:
    return _("Now playing: %(voice)s. This audio was made before the page was edited.")


def already_made_label() -> str:
    # Short enough that the picker's option is not cut on a phone.
    return _("%(voice)s ✓ made")


def _voice_groups(
    preferred_voice: str, rows: list[AudioRow], *, language: str = ""
) -> list[VoiceGroup]:
    """Every voice on offer by language, the document's default one first (then the voices
    that speak `language`); each says whether it speaks `language` and whether its audio of
    the page is made."""
    live = {
        row.audio.voice
        for row in rows
        if row.audio.status in Audio.LIVE_STATUSES  # made or being made: generating is a 409
    }
    groups = voice_catalogue.by_language(
        voice_catalogue.all_voices(), first=preferred_voice, language=language
    )
    return [
        VoiceGroup(
            label=group.label,
            options=[
                _voice_option(voice, made=voice.id in live, language=language)
                for voice in group.voices
            ],
        )
        for group in groups
    ]


def _voice_option(voice: Voice, *, made: bool, language: str) -> VoiceOption:
    name = voice_catalogue.voice_name(voice)
    return VoiceOption(
        voice=voice,
        name=name.full,
        short_name=name.short,
        label=already_made_label() % {"voice": name.short} if made else name.short,
        sample_url=reverse("voice-sample", kwargs={"voice_id": voice.id}),
        speaks=not language or voice_catalogue.speaks(voice, language),
    )


def _script_strings() -> dict[str, str]:
    """Messages the page's script shows, translated here (the script holds no text of its own)."""
    return {
        "play": _("Play"),
        "pause": _("Pause"),
        "previewVoice": _("Preview voice"),
        "stopPreview": _("Stop preview"),
        "previewFailed": _("The voice preview could not be played."),
        "positionOf": _("%(position)s of %(duration)s"),
        # While the audio is made: how much of it is made, and a skip past that point.
        "positionOfMade": _("%(position)s of %(made)s made so far"),
        "makingUntil": _("Making… (will play from %(position)s)"),
        "nowPlaying": _("Now playing: %(voice)s"),
        "nowPlayingOutdated": now_playing_outdated_label(),
        "noAudio": _("No audio for this page yet."),
        "starting": _("Asking for audio in %(voice)s…"),
        "pending": _("Waiting for a free speech worker…"),
        # Said once when the work starts; the progress line beside it counts the time.
        "generating": _("Making the audio in %(voice)s…"),
        # The progress line of one audio being made, updated every second.
        "progressPending": _("%(voice)s: waiting for a free speech worker · %(elapsed)s"),
        "progressMaking": _("%(voice)s: making the audio · %(elapsed)s elapsed"),
        "progressMakingLeft": _(
            "%(voice)s: making the audio · %(elapsed)s elapsed · about %(left)s left"
        ),
        "ready": _("The audio is ready. Press play to listen."),
        "readyListening": _("The audio is ready."),
        "listeningWhileMade": _("Playing from the first sentence while the rest is made."),
        "regenerating": _("Making the audio again in %(voice)s…"),
        "failed": _("The audio could not be made: %(message)s"),
        "quota": _("%(available)s of %(max)s audios left for this page."),
        "status_pending": _("Pending"),
        "status_generating": _("Generating"),
        "status_completed": _("Completed"),
        "status_failed": _("Failed"),
        "alreadyMade": already_made_label(),
        "madeBy": _("made by %(email)s"),
        "madeByUnknown": _("made by a former user"),
        "confirmDelete": _("Delete this audio? Its file is removed for everyone."),
        "deleted": _("The audio was deleted."),
        "pressPlay": _("Press play to continue listening."),
        "nextPage": _("Going on to the next page…"),
        "previewEmpty": _("Nothing to preview yet."),
        "previewShown": _("The preview is shown below."),
        "errorConflict": _("Audio in this voice exists or is being made."),
        "errorQuota": _("This page has no audio left in its quota."),
        "errorPermission": _("You may not do this."),
        "errorRateLimited": _("Too many requests. Please wait and try again."),
        "errorUnavailable": _("Audio cannot be made right now. Please try again later."),
        "errorNetwork": _("The server could not be reached. Check your connection and retry."),
        "errorGeneric": _("Something went wrong. Please try again."),
        "speedChanged": _("Speed: %(speed)s"),
        "listenNow": _("Page %(number)s: %(title)s, %(voice)s"),
        "listenNowUntitled": _("Page %(number)s, %(voice)s"),
        "listenNoText": _("Page %(number)s has no text"),
        "listenNotPermitted": _("Page %(number)s: you may not make audio here"),
        "listenQuota": _("Page %(number)s: this page's audio quota is used up"),
        "listenFailed": _("Page %(number)s: its audio could not be made"),
        "listenNotMade": _("Page %(number)s has no audio in this voice"),
        "listenContents": _("Page %(number)s, a table of contents, was passed over"),
        "listenEnd": _("That was the last page."),
        "listenOn": _("Listening to the end · Stop"),
        "listenNowOutdated": _("%(now)s. This audio was made before the page was edited."),
        "listenOutdated": _("Page %(number)s: its audio was made before the page was edited"),
    }
