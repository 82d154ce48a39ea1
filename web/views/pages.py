"""The pages a person sees: landing, library, a document, settings; and the voice previews."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import ClassVar
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import get_script_prefix, get_urlconf
from django.utils.timezone import get_current_timezone_name
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_safe

from core.exceptions import ServiceUnavailable, ValidationError
from core.links import id_link
from core.query_params import search_term
from document_processing.models import Document, Page
from document_processing.selectors import document_detail as select_document
from document_processing.selectors import document_list, recent_page_imports
from sharing import selectors as sharing_selectors
from sharing.models import DocumentShare, ShareInvitation
from sharing.policy import (
    Action,
    Permission,
    can,
    granter_has_access,
    may_change_invitation,
    may_change_share,
    may_grant,
    permission_for,
)
from speech_processing import audiobooks, samples, voices
from speech_processing.audio_progress import AudioProgress, audio_progress
from speech_processing.engines.base import Voice
from speech_processing.models import Audio, Audiobook, ListeningProgress
from speech_processing.progress import continue_listening
from speech_processing.selectors import audio_counts_by_page, recent_audiobooks
from speech_processing.streaming import ranged_file_response
from speech_processing.voices import display_name_of
from users import services as user_services
from users.models import User
from web import making
from web.forms import (
    DeleteForm,
    PreferencesForm,
    RenameForm,
    SharePermissionForm,
    voice_choices,
)
from web.views.account import account_context
from web.views.common import report_form_errors, shown_as_page_errors, signed_in

LIBRARY_PAGE_SIZE = 20
ACTIVITY_SHOWN = 20
LANDING_VOICES = 6
# Library tabs and the document_list scope each shows.
TABS = {"all": "all", "mine": "owned", "shared": "shared"}
# Their labels, translated only when the tabs are rendered (not when they are kept rendered).
TAB_LABELS = [
    ("all", gettext_lazy("All")),
    ("mine", gettext_lazy("Mine")),
    ("shared", gettext_lazy("Shared with me")),
]
# File types the upload picker offers; the server decides by content anyway.
ACCEPTED_FILES = ".pdf,.epub,.docx,.html,.htm,.md,.markdown,.txt,application/pdf,text/plain"
IN_PROGRESS = (Document.Status.PENDING, Document.Status.PROCESSING)
STATUS_LABELS = dict(Document.Status.choices)
# Dialogs a link can open without JavaScript (`?dialog=share`).
DIALOGS = {"share", "delete"}


# --- Landing ------------------------------------------------------------------------------------


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("library")
    return render(request, "web/home.html", {"voices": _landing_voices()})


def _landing_voices() -> list[Voice]:
    """The default voice first, then a few others to compare: in the default voice's language
    first, and at most two from one engine (eSpeak alone offers a hundred languages)."""
    every = voices.all_voices()
    chosen = [voice for voice in every if voice.id == settings.SPEECH_DEFAULT_VOICE]
    language = (chosen[0].language if chosen else "en").split("-")[0].lower()
    per_engine = Counter(voice.engine for voice in chosen)
    ranked = sorted(
        (voice for voice in every if voice not in chosen),
        key=lambda voice: not voice.language.lower().startswith(language),
    )  # a stable sort: the catalogue's order otherwise
    for voice in ranked:
        if len(chosen) >= LANDING_VOICES:
            break
        if per_engine[voice.engine] < 2:
            chosen.append(voice)
            per_engine[voice.engine] += 1
    return chosen


@require_safe
def voice_sample(request: HttpRequest, voice_id: str) -> HttpResponse | StreamingHttpResponse:
    """A voice's short preview, for anyone: the landing page plays these before sign-up."""
    try:
        voice = voices.resolve_voice(voice_id)
    except ValidationError as exc:
        raise Http404(exc.message) from exc
    try:
        key = samples.sample_key(voice=voice)
    except ServiceUnavailable as exc:
        # An <audio> element shows no page: the message is for whoever opens the link itself.
        refusal = HttpResponse(exc.message, status=503, content_type="text/plain; charset=utf-8")
        refusal["Cache-Control"] = "no-store"
        if exc.retry_after is not None:
            refusal["Retry-After"] = str(max(exc.retry_after, 1))
        return refusal
    response = ranged_file_response(
        request, storage=default_storage, key=key,
        content_type="audio/mpeg", filename=f"{voice.name}-sample.mp3",
    )  # fmt: skip
    response["Cache-Control"] = "public, max-age=86400"
    return response


# --- Library ------------------------------------------------------------------------------------


class DocumentLinks:
    """The addresses of a document's links in a list, for any number of rows at the cost of one
    reversal per kind of link: reversing every link of every row (`{% url %}` five times a row)
    was a third of rendering the library at 20 rows."""

    _made: ClassVar[dict[tuple[str, object], DocumentLinks]] = {}

    def __init__(self) -> None:
        self.page = id_link("document-page")
        self.listen = id_link("document-listen")
        self.cover = id_link("document-cover")
        self.delete = id_link("web-delete")
        self.rename = id_link("web-rename")
        self.retry = id_link("web-retry")
        self.api = id_link("document-detail")
        self.api_retry = id_link("document-retry")

    @classmethod
    def current(cls) -> DocumentLinks:
        """The links under the current script prefix and URLconf, worked out once per process
        for each (eight reversals a request were a tenth of the library's view)."""
        key = (get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF)
        links = cls._made.get(key)
        if links is None:
            links = cls._made[key] = cls()
        return links

    @staticmethod
    def address(of: tuple[str, str], pk: int) -> str:
        return f"{of[0]}{pk}{of[1]}"


@dataclass(frozen=True)
class DocumentRow:
    """A document in the library as the page shows it: the words and addresses of each row are
    worked out here once, since the template engine costs microseconds per variable looked up;
    what the viewer may do to it is decided by the policy."""

    pk: int
    title: str
    status: str
    status_label: str
    pages_label: str
    owner_label: str  # whose document it is, when it is someone else's
    error_message: str  # why it failed, when it did
    page_url: str
    listen_url: str  # empty until it has pages to listen to
    cover_url: str  # empty without a cover
    delete_url: str
    rename_url: str
    api_url: str
    retry_url: str
    api_retry_url: str
    can_delete: bool
    can_rename: bool
    can_share: bool
    can_retry: bool

    def __getitem__(self, name: str) -> object:
        # The template engine tries `row[name]` before `row.name`; answering it spares an
        # exception per variable (about a fifth of rendering the rows).
        return getattr(self, name)

    @property
    def anchor(self) -> str:
        return f"document-{self.pk}"

    @property
    def cache_key(self) -> str:
        """Everything the row shows (with the language), which names its rendered HTML."""
        return repr(_shown(self))

    @staticmethod
    def list_key(rows: list[DocumentRow]) -> str:
        """What names the rows rendered as one: everything each row shows, hashed; empty when a
        row has a form, whose CSRF token is the page's own."""
        if any(row.can_retry for row in rows):
            return ""
        shown = repr([_shown(row) for row in rows])
        return hashlib.sha256(shown.encode()).hexdigest()

    @property
    def menu_label(self) -> str:
        """The row menu's name for screen readers (worked out here: a `blocktranslate` per row
        cost more than the rest of the row)."""
        return _("More for %(title)s") % {"title": self.title}

    @property
    def has_menu(self) -> bool:
        """Whether the row's menu (rename, share, delete) offers this person anything."""
        return self.can_rename or self.can_share or self.can_delete

    @property
    def in_progress(self) -> bool:
        return self.status in IN_PROGRESS

    @classmethod
    def of(
        cls, user: User, document: Document, links: DocumentLinks, words: RowWords | None = None
    ) -> DocumentRow:
        pk, status = document.pk, document.status
        address = links.address
        words = words or RowWords()
        return cls(
            pk=pk,
            title=document.title,
            status=status,
            status_label=words.status(status),
            pages_label=words.pages(document.page_count),
            owner_label=""
            if document.owner_id == user.pk
            else _("Owner: %(owner)s") % {"owner": document.owner.email},
            error_message=document.error_message if status == Document.Status.FAILED else "",
            page_url=address(links.page, pk),
            listen_url=address(links.listen, pk)
            if status == Document.Status.COMPLETED and document.page_count
            else "",
            cover_url=address(links.cover, pk) if document.cover_key else "",
            delete_url=address(links.delete, pk),
            rename_url=address(links.rename, pk),
            api_url=address(links.api, pk),
            retry_url=address(links.retry, pk),
            api_retry_url=address(links.api_retry, pk),
            can_delete=can(user, Action.DELETE, document),
            can_rename=can(user, Action.RENAME, document),
            can_share=can(user, Action.MANAGE_SHARES, document),
            can_retry=status == Document.Status.FAILED
            and can(user, Action.RETRY_EXTRACTION, document),
        )


# Every field of a row, as a tuple: what it shows.
_shown = attrgetter(*(field.name for field in fields(DocumentRow)))


class RowWords:
    """The words rows share, translated once per page: twenty rows have a few statuses and page
    counts between them, and each translation costs more than the rest of a row's words."""

    def __init__(self) -> None:
        self._statuses: dict[str, str] = {}
        self._pages: dict[int, str] = {}

    def status(self, status: str) -> str:
        label = self._statuses.get(status)
        if label is None:
            label = self._statuses[status] = str(STATUS_LABELS.get(status, status))
        return label

    def pages(self, count: int) -> str:
        label = self._pages.get(count)
        if label is None:
            label = ngettext("%(pages)s page", "%(pages)s pages", count) % {"pages": count}
            self._pages[count] = label
        return label


@login_required
@require_safe
def library(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    tab = request.GET.get("tab", "all")
    if tab not in TABS:
        tab = "all"
    query = search_term(request.GET.get("q"), max_length=200)
    documents = document_list(user=user, search=query or None, scope=TABS[tab])
    page = Paginator(documents, LIBRARY_PAGE_SIZE).get_page(request.GET.get("page"))
    links = DocumentLinks.current()
    words = RowWords()
    rows = [DocumentRow.of(user, document, links, words) for document in page]
    places = continue_listening(user=user)
    context = {
        "tab": tab,
        "tabs": TAB_LABELS,
        "query": query,
        "page_obj": page,
        # Kept by the pagination links, which add `page=`.
        "query_string": urlencode({"tab": tab, "q": query} if query else {"tab": tab}) + "&",
        "rows": rows,
        "rows_key": DocumentRow.list_key(rows),
        "continue_listening": places,
        "continue_key": _places_key(places),
        "accepted_files": ACCEPTED_FILES,
        # The browser checks a file's size against this before sending it.
        "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
        "upload_max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        # "Add a document" without JavaScript: the page again, with its dialog open.
        "open_dialog": "add" if request.GET.get("dialog") == "add" else "",
    }
    return render(request, "web/library.html", context)


def _places_key(places: list[ListeningProgress]) -> str:
    """Everything "Continue listening" shows of these places (with the language), which names
    its rendered HTML: the same for anyone who listened to the same places so."""
    shown = tuple(
        (
            place.document_id, place.page_id, place.audio_id, place.document.title,
            place.page.number, place.document.page_count, place.position_seconds, place.voice,
            display_name_of(place.voice) if place.voice else "", place.saved_at,
        )
        for place in places
    )  # fmt: skip
    return hashlib.sha256(repr((get_current_timezone_name(), shown)).encode()).hexdigest()


# --- A document ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PageRow:
    page: Page
    ready: int
    in_progress: int
    failed: int


@dataclass(frozen=True)
class ShareRow:
    share: DocumentShare
    can_change: bool
    form: SharePermissionForm
    shared_by: str  # "Shared by …", as the reader of the dialog would say it
    granter_has_access: bool
    # The shares this person granted, when the caller may remove them along with this one.
    granted: list[DocumentShare]

    @property
    def granted_emails(self) -> str:
        return ", ".join(other.shared_with.email for other in self.granted)


def _share_rows(user: User, document: Document, permission: Permission) -> list[ShareRow]:
    shares = list(sharing_selectors.shares_of(user=user, document=document))
    given: dict[int, list[DocumentShare]] = {}
    for share in shares:
        if share.shared_by_id is not None:
            given.setdefault(share.shared_by_id, []).append(share)
    rows = []
    for share in shares:
        granted = given.get(share.shared_with_id, [])
        rows.append(
            ShareRow(
                share=share,
                can_change=may_change_share(user, share, permission),
                form=SharePermissionForm(
                    initial={"permission": share.permission}, auto_id=f"share-{share.pk}-%s"
                ),
                shared_by=_granter_name(user, document, share),
                granter_has_access=granter_has_access(share),
                granted=granted
                if all(may_change_share(user, other, permission) for other in granted)
                else [],
            )
        )
    return rows


def _granter_name(user: User, document: Document, share: DocumentShare) -> str:
    if share.shared_by is None:
        return _("Shared by a deleted account")
    if share.shared_by_id == user.pk:
        return _("Shared by you")
    if share.shared_by_id == document.owner_id:
        return _("Shared by %(email)s (the owner)") % {"email": share.shared_by.email}
    return _("Shared by %(email)s") % {"email": share.shared_by.email}


@dataclass(frozen=True)
class InvitationRow:
    invitation: ShareInvitation
    can_withdraw: bool
    invited_by: str


def _invitation_rows(user: User, document: Document, permission: Permission) -> list[InvitationRow]:
    return [
        InvitationRow(
            invitation=invitation,
            can_withdraw=may_change_invitation(user, invitation, permission),
            invited_by=_inviter_name(user, document, invitation),
        )
        for invitation in sharing_selectors.invitations_of(user=user, document=document)
    ]


def _inviter_name(user: User, document: Document, invitation: ShareInvitation) -> str:
    if invitation.invited_by is None:
        return _("Invited by a deleted account")
    if invitation.invited_by_id == user.pk:
        return _("Invited by you")
    if invitation.invited_by_id == document.owner_id:
        return _("Invited by %(email)s (the owner)") % {"email": invitation.invited_by.email}
    return _("Invited by %(email)s") % {"email": invitation.invited_by.email}


@login_required
@require_safe
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    with shown_as_page_errors():
        document = select_document(user=user, document_id=pk)
    permission = permission_for(user, document)
    assert permission is not None
    may_share = can(user, Action.MANAGE_SHARES, document)
    counts = audio_counts_by_page(document=document)
    pages = [
        PageRow(
            page=page,
            ready=counts.get(page.pk, {}).get(Audio.Status.COMPLETED, 0),
            in_progress=sum(
                counts.get(page.pk, {}).get(status, 0)
                for status in (Audio.Status.PENDING, Audio.Status.GENERATING)
            ),
            failed=counts.get(page.pk, {}).get(Audio.Status.FAILED, 0),
        )
        for page in getattr(document, "page_summaries", [])
    ]
    shares: list[ShareRow] = []
    invitations: list[InvitationRow] = []
    activity = []
    if may_share:
        shares = _share_rows(user, document, permission)
        invitations = _invitation_rows(user, document, permission)
        activity = list(
            sharing_selectors.activity_of(user=user, document=document)[:ACTIVITY_SHOWN]
        )
    dialog = request.GET.get("dialog", "")
    context = {
        "document": document,
        "permission": permission,
        "permission_label": ""
        if permission == "owner"
        else DocumentShare.Permission(permission.value).label,
        "is_owner": permission == "owner",
        "in_progress": document.status in IN_PROGRESS,
        "can_rename": can(user, Action.RENAME, document),
        "can_delete": can(user, Action.DELETE, document),
        "can_retry": document.status == Document.Status.FAILED
        and can(user, Action.RETRY_EXTRACTION, document),
        "can_share": may_share,
        "pages": pages,
        "shares": shares,
        "invitations": invitations,
        "grantable": [
            (value, label)
            for value, label in DocumentShare.Permission.choices
            if may_grant(permission, value)
        ],
        "activity": activity,
        # Pages from the web are fetched by a worker; the person's recent requests say how each
        # went (being fetched, added, or why not).
        "can_add_pages": document.status == Document.Status.COMPLETED
        and can(user, Action.EDIT_PAGES, document),
        "page_imports": recent_page_imports(user=user, document=document),
        **_whole_document_audio(request, user, document, has_pages=bool(pages)),
        "rename_form": RenameForm(initial={"title": document.title}),
        "delete_form": DeleteForm(title=document.title),
        "open_dialog": dialog if dialog in DIALOGS else "",
    }
    return render(request, "web/document_detail.html", context)


def _whole_document_audio(
    request: HttpRequest, user: User, document: Document, *, has_pages: bool
) -> dict[str, object]:
    """The context of "Make audio for every page" with its progress in the chosen voice, and
    of the audiobooks: each being made with its progress, each finished one up to date or not."""
    may_generate = can(user, Action.GENERATE_AUDIO, document)
    available = voices.all_voices()
    offered = {voice.id for voice in available}
    asked = request.GET.get("voice", "")
    # The voice "Make audio for every page" was last used with (the form comes back to it).
    default = voices.voice_for(user, language=document.language)
    chosen = asked if asked in offered else default
    progress: AudioProgress | None = None
    if may_generate and has_pages and chosen in offered:
        progress = audio_progress(document=document, voice=chosen)
    books = recent_audiobooks(document=document)
    for book in books:
        book.document = document  # the caller's access is checked: no query per book
    rows = _book_rows(document, books, may_generate=may_generate)
    busy = {row.book.voice for row in rows if row.in_progress or row.up_to_date}
    audiobook_voices = [voice for voice in available if voice.id not in busy]
    return {
        "can_make_audio": may_generate,
        "can_make_audiobook": may_generate,
        "audio_progress": progress,
        "audio_progress_label": making.progress_label(progress) if progress else "",
        "progress_voice": chosen,
        "making_strings": making.strings(),
        "audiobooks": rows,
        # "Make the audiobook" is offered in the voices without a book being made or up to date.
        "audiobook_voices": audiobook_voices,
        "audiobook_voice_groups": voice_choices(audiobook_voices, first=default),
        "voice_groups": voice_choices(available, first=chosen),
        "preferred_voice": default,
    }


def _book_rows(
    document: Document, books: list[Audiobook], *, may_generate: bool
) -> list[making.BookRow]:
    current = audiobooks.up_to_date_books(document=document, books=books)
    rows = []
    newest_finished: set[str] = set()
    busy = {book.voice for book in books if book.status in IN_PROGRESS_BOOKS}
    busy |= {book.voice for book in books if book.pk in current}
    filename = audiobooks.download_filename(document.title)
    for book in books:  # newest first
        finished = book.status == Audiobook.Status.COMPLETED and bool(book.file_key)
        newest = finished and book.voice not in newest_finished
        if finished:
            newest_finished.add(book.voice)
        rows.append(
            making.BookRow(
                book=book,
                filename=filename,
                up_to_date=book.pk in current,
                may_remake=may_generate and newest and book.voice not in busy,
                progress=audiobooks.live_progress(book),
            )
        )
    return rows


IN_PROGRESS_BOOKS = (Audiobook.Status.PENDING, Audiobook.Status.GENERATING)


# --- Settings -----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    available = voices.all_voices()
    if request.method == "POST":
        form = PreferencesForm(request.POST, voices=available, first=settings.SPEECH_DEFAULT_VOICE)
        if form.is_valid():
            user_services.update_preferences(
                user=user, preferred_voice=form.cleaned_data["preferred_voice"]
            )
            messages.success(request, _("Your preferred voice was saved."))
            return redirect("settings")
        report_form_errors(request, form)
    else:
        form = PreferencesForm(
            initial={"preferred_voice": user.preferred_voice},
            voices=available,
            first=settings.SPEECH_DEFAULT_VOICE,
        )
    context = {
        "form": form,
        "voices": available,
        "default_voice": voices.display_name_of(settings.SPEECH_DEFAULT_VOICE),
        "default_voice_id": settings.SPEECH_DEFAULT_VOICE,
        **account_context(request, user),
    }
    return render(request, "web/settings.html", context)
