"""The reader page: who sees it, what each person is offered, and what the server refuses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from document_processing.models import Document, Page
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from speech_processing import voices as voice_catalogue
from speech_processing.models import Audio, ListeningProgress, PlaybackPosition
from speech_processing.synthesis import text_digest
from speech_processing.tests.factories import AudioFactory
from users.models import User
from web.reader import duration_label

pytestmark = pytest.mark.django_db

XSS_MARKDOWN = (
    "# Title\n\n"
    "<script>alert('owned')</script>\n\n"
    "[click me](javascript:alert(1)) and [data](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '<img src=x onerror="alert(2)">\n\n'
    "![pic](https://example.com/a.png)\n\n"
    "<a href='https://example.com' onclick='alert(3)'>raw link</a>\n\n"
    "[fine](https://example.com/ok)"
)


def logged_in(user: User, *, enforce_csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(user)
    return client


def share(document: Document, user: User, permission: str) -> None:
    DocumentShare.objects.create(
        document=document, shared_with=user, permission=permission, shared_by=document.owner
    )


def pages_of(document: Document) -> list[Page]:
    return list(document.pages.order_by("number"))


class Tags(HTMLParser):
    """Every start tag with its attributes, to look at the page's structure."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def has_id(html: str, element_id: str) -> bool:
    return any(attrs.get("id") == element_id for _, attrs in tags_of(html))


def classes(html: str, name: str) -> int:
    return sum(1 for _, attrs in tags_of(html) if name in (attrs.get("class") or "").split())


def reader_config(html: str) -> dict[str, object]:
    match = re.search(
        r'<script id="reader-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, "the page carries its data for the script"
    data: dict[str, object] = json.loads(match.group(1))
    return data


# --- Who may open the reader ------------------------------------------------------------------


def test_anonymous_people_are_sent_to_log_in(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    response = Client().get(reverse("reader", kwargs={"pk": page.pk}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_the_owner_and_people_it_is_shared_with_read_the_page(
    alice: User, bob: User, charlie: User
) -> None:
    document = document_with_pages(owner=alice, pages=2, title="Field notes")
    share(document, bob, "view_only")
    page = pages_of(document)[0]
    url = reverse("reader", kwargs={"pk": page.pk})
    for person in (alice, bob):
        response = logged_in(person).get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "<h1>Page 1</h1>" in html
        assert "Field notes" in html
        assert "Some words to read." in html  # the page's Markdown, rendered
    assert logged_in(charlie).get(url).status_code == 404


def test_pages_of_documents_not_visible_and_unknown_pages_are_404(alice: User, bob: User) -> None:
    hidden = pages_of(document_with_pages(owner=alice, pages=1))[0]
    client = logged_in(bob)
    assert client.get(reverse("reader", kwargs={"pk": hidden.pk})).status_code == 404
    assert client.get(reverse("reader", kwargs={"pk": hidden.pk + 1000})).status_code == 404
    assert client.get(f"/pages/{'9' * 18}/").status_code == 404


def test_a_share_removed_takes_the_reader_away(alice: User, bob: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "collaborator")
    url = reverse("reader", kwargs={"pk": pages_of(document)[0].pk})
    client = logged_in(bob)
    assert client.get(url).status_code == 200
    DocumentShare.objects.filter(document=document, shared_with=bob).delete()
    assert client.get(url).status_code == 404


# --- Moving between pages ---------------------------------------------------------------------


def test_previous_and_next_follow_the_page_order_and_stop_at_the_edges(alice: User) -> None:
    first, middle, last = pages_of(document_with_pages(owner=alice, pages=3))
    client = logged_in(alice)

    def links(page: Page) -> dict[str, str | None]:
        html = client.get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
        found: dict[str, str | None] = {"prev": None, "next": None}
        for tag, attrs in tags_of(html):
            if tag == "a" and attrs.get("rel") in found:
                found[str(attrs["rel"])] = attrs.get("href")
        return found

    assert links(first) == {"prev": None, "next": f"/pages/{middle.pk}/"}
    assert links(middle) == {"prev": f"/pages/{first.pk}/", "next": f"/pages/{last.pk}/"}
    assert links(last) == {"prev": f"/pages/{middle.pk}/", "next": None}
    config = reader_config(client.get(reverse("reader", kwargs={"pk": last.pk})).content.decode())
    assert config["nextUrl"] is None


def test_the_page_picker_lists_every_page_and_goes_to_the_chosen_one(alice: User) -> None:
    pages = pages_of(document_with_pages(owner=alice, pages=4))
    other = pages_of(document_with_pages(owner=alice, pages=1))[0]
    client = logged_in(alice)
    url = reverse("reader", kwargs={"pk": pages[1].pk})
    html = client.get(url).content.decode()
    options = [attrs for tag, attrs in tags_of(html) if tag == "option" and "selected" in attrs]
    picker = re.search(r'<select id="reader-goto" name="goto">(.*?)</select>', html, re.S)
    assert picker
    assert re.findall(r'value="(\d+)"', picker.group(1)) == [str(page.pk) for page in pages]
    assert {"value": str(pages[1].pk), "selected": None} in options
    assert '<label for="reader-goto">' in html

    response = client.get(url, {"goto": str(pages[3].pk)})
    assert response.status_code == 302
    assert response["Location"] == f"/pages/{pages[3].pk}/"
    # The target page's own view checks access like any other.
    assert client.get(url, {"goto": str(other.pk)})["Location"] == f"/pages/{other.pk}/"
    assert client.get(url, {"goto": "not a number"}).status_code == 200
    assert client.get(url, {"goto": "9" * 40}).status_code == 200


# Digits that `str.isdigit()` accepts though a URL's ids are ASCII: Arabic-Indic, fullwidth,
# superscript (which `int()` refuses), and more digits than `int()` reads.
NOT_IDS = ["٣", "\uff13", "²", "-1", "0", "9" * 5000]


@pytest.mark.parametrize("value", NOT_IDS)
def test_the_page_picker_and_the_audio_choice_take_ascii_ids_only(alice: User, value: str) -> None:
    pages = pages_of(document_with_pages(owner=alice, pages=4))
    audio = AudioFactory.create(page=pages[0], voice="fake:alpha", duration_seconds=5)
    client = logged_in(alice)
    url = reverse("reader", kwargs={"pk": pages[0].pk})
    # Page 3 exists, and so may an audio 3: only ASCII digits may name them.
    assert client.get(url, {"goto": value}).status_code == 200
    response = client.get(url, {"audio": value})
    assert response.status_code == 200
    assert reader_config(response.content.decode())["selectedAudioId"] == audio.pk


# --- What each person is offered --------------------------------------------------------------


def test_the_owner_is_offered_everything(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    AudioFactory.create(page=page, created_by=alice, duration_seconds=75.0, file_key="a.mp3")
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert has_id(html, "reader-generate-button")
    assert has_id(html, "reader-voice-preview")
    assert has_id(html, "reader-edit-form")
    assert has_id(html, "reader-preview-button")
    assert classes(html, "reader-audio-delete") == 2  # the row, and the template for new rows
    assert "3 of 4 audios left for this page." in html
    assert reader_config(html)["mayDelete"] is True


@pytest.mark.parametrize(
    ("permission", "generate", "edit"),
    [("view_only", False, False), ("collaborator", True, True), ("can_share", True, True)],
)
def test_people_are_offered_only_what_their_permission_allows(
    alice: User, bob: User, permission: str, generate: bool, edit: bool
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, permission)
    page = pages_of(document)[0]
    audio = AudioFactory.create(page=page, created_by=alice, duration_seconds=75.0)
    html = logged_in(bob).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert has_id(html, "reader-generate-button") is generate
    assert has_id(html, "reader-generate-form") is generate
    assert has_id(html, "reader-voice") is generate
    assert has_id(html, "reader-edit-form") is edit
    assert has_id(html, "reader-quota") is generate
    assert classes(html, "reader-audio-delete") == 0  # deleting audio is the owner's
    assert reader_config(html)["mayDelete"] is False
    # Everyone who may see the page may listen and download.
    download = f"/api/v1/audios/{audio.pk}/download/"
    assert f'href="{download}"' in html
    assert has_id(html, "reader-toggle")
    assert "made by alice@example.com" in html
    assert "1:15" in html


def test_the_audio_list_shows_active_audio_only(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    AudioFactory.create(page=page, voice="fake:alpha", created_by=alice, duration_seconds=5)
    AudioFactory.create(
        page=page, voice="fake:beta", created_by=None, lifetime_status=Audio.Lifetime.DELETED
    )
    failed = AudioFactory.create(
        page=page,
        voice="fake:beta",
        created_by=alice,
        status=Audio.Status.FAILED,
        error_message="The speech engine could not read this text.",
    )
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    rows = [attrs for tag, attrs in tags_of(html) if tag == "li" and attrs.get("data-audio-id")]
    assert [row["data-voice"] for row in rows] == ["fake:beta", "fake:alpha"]
    assert rows[0]["data-audio-id"] == str(failed.pk)
    assert "data-download-url" not in rows[0]
    assert "The speech engine could not read this text." in html
    # The deleted audio still counts for the quota and the failed one does not, as generation
    # counts them.
    assert "2 of 4 audios left for this page." in html


def test_the_preferred_voice_comes_first_and_made_voices_say_so(alice: User) -> None:
    alice.preferred_voice = "fake:beta"
    alice.save(update_fields=["preferred_voice"])
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    AudioFactory.create(page=page, voice="fake:beta", created_by=alice, duration_seconds=3)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    voices = re.search(r'<select id="reader-voice" name="voice">(.*?)</select>', html, re.S)
    assert voices
    values = re.findall(r'<option value="([^"]+)"', voices.group(1))
    assert values[0] == "fake:beta"
    assert "fake:alpha" in values
    # Grouped by language, the preferred voice's group first; each option short, and a made
    # voice marked with a short suffix that fits a phone's picker.
    groups = re.findall(r'<optgroup label="([^"]+)">', voices.group(1))
    assert groups[0] == "English (GB)"
    assert "English (US)" in groups
    assert len(groups) == len(set(groups))
    options = {
        value: (attrs, text)
        for value, attrs, text in re.findall(
            r'<option value="([^"]+)"([^>]*)>([^<]*)</option>', voices.group(1)
        )
    }
    beta_attrs, beta_text = options["fake:beta"]
    assert beta_text == "Beta · Test tones ✓ made"
    assert 'data-label="Beta · Test tones"' in beta_attrs
    assert 'data-name="Beta (English (GB), Test tones)"' in beta_attrs
    assert 'data-sample-url="/api/v1/voices/fake:beta/sample/"' in beta_attrs
    assert options["fake:alpha"][1] == "Alpha · Test tones"
    # No option repeats another's name.
    assert len({text for _attrs, text in options.values()}) == len(options)


def test_without_a_preference_the_default_voice_comes_first(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert re.search(
        r'<select id="reader-voice" name="voice">\s*<optgroup label="English \(US\)">\s*'
        r'<option value="fake:alpha"',
        html,
    )


def test_audio_and_now_playing_name_the_voice_by_its_display_name(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    audio = AudioFactory.create(page=page, voice="fake:beta", created_by=alice, duration_seconds=3)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    name = "Beta (English (GB), Test tones)"
    assert f"Now playing: {name}</p>" in html
    row = next(attrs for _, attrs in tags_of(html) if attrs.get("data-audio-id") == str(audio.pk))
    assert (row["data-voice"], row["data-voice-name"]) == ("fake:beta", name)
    assert f'<span class="reader-audio-voice">{name}</span>' in html
    assert f"{name}</span></button>" in html  # "Play" and "Delete" say which voice
    # The id is for scripts and forms only, never text a person reads.
    assert ">fake:beta<" not in html
    assert " fake:beta<" not in html


def test_no_generate_button_when_the_quota_is_used_up(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    for _ in range(4):
        AudioFactory.create(page=page, lifetime_status=Audio.Lifetime.DELETED)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    button = next(
        attrs for _, attrs in tags_of(html) if attrs.get("id") == "reader-generate-button"
    )
    assert "disabled" in button
    assert "0 of 4 audios left for this page." in html


# --- The player's starting point --------------------------------------------------------------


def test_the_player_resumes_the_audio_last_listened_to_where_it_stopped(
    alice: User, bob: User
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "view_only")
    page = pages_of(document)[0]
    alpha = AudioFactory.create(page=page, voice="fake:alpha", duration_seconds=60)
    beta = AudioFactory.create(page=page, voice="fake:beta", duration_seconds=60)
    PlaybackPosition.objects.create(user=bob, audio=alpha, position_seconds=42.5)
    PlaybackPosition.objects.create(user=alice, audio=beta, position_seconds=7.0)

    html = logged_in(bob).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert reader_config(html)["selectedAudioId"] == alpha.pk
    assert f'src="/api/v1/audios/{alpha.pk}/download/"' in html
    rows = {attrs.get("data-audio-id"): attrs for tag, attrs in tags_of(html) if tag == "li"}
    row = rows[str(alpha.pk)]
    assert row["data-position"] == "42.500"  # bob's own position, not alice's
    assert rows[str(beta.pk)]["data-position"] == "0.000"

    # Asking for a voice (as continuous play does) picks that voice's audio, and autoplays it.
    html = (
        logged_in(bob)
        .get(reverse("reader", kwargs={"pk": page.pk}), {"voice": "fake:beta", "autoplay": "1"})
        .content.decode()
    )
    config = reader_config(html)
    assert config["selectedAudioId"] == beta.pk
    assert config["autoplay"] is True


def test_continuous_play_into_a_page_without_that_voice_only_says_so(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    AudioFactory.create(page=page, voice="fake:alpha", duration_seconds=60)
    html = (
        logged_in(alice)
        .get(reverse("reader", kwargs={"pk": page.pk}), {"voice": "fake:beta", "autoplay": "1"})
        .content.decode()
    )
    assert reader_config(html)["autoplay"] is False
    assert "This page has no audio in that voice yet." in html


def test_a_page_without_audio_has_an_idle_player(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert reader_config(html)["selectedAudioId"] is None
    toggle = next(attrs for _, attrs in tags_of(html) if attrs.get("id") == "reader-toggle")
    assert "disabled" in toggle
    assert "No audio for this page yet." in html


def test_the_number_of_queries_does_not_grow_with_pages_or_audio(alice: User) -> None:
    def queries_for(pages: int, audios: int) -> int:
        document = document_with_pages(owner=alice, pages=pages)
        page = pages_of(document)[0]
        for number in range(audios):
            audio = AudioFactory.create(page=page, voice=f"fake:v{number}", created_by=alice)
            PlaybackPosition.objects.create(user=alice, audio=audio, position_seconds=1)
        client = logged_in(alice)
        url = reverse("reader", kwargs={"pk": page.pk})
        client.get(url)  # sessions and caches warmed up
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    assert queries_for(pages=2, audios=1) == queries_for(pages=40, audios=4)


# --- Safety of the page itself -----------------------------------------------------------------


def test_the_page_has_no_inline_script_or_style_and_its_markdown_is_sanitised(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    Page.objects.filter(pk=page.pk).update(markdown=XSS_MARKDOWN)
    AudioFactory.create(page=page, created_by=alice, duration_seconds=3)
    response = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk}))
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    for tag, attrs in tags_of(html):
        assert "style" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        if tag == "script":
            assert attrs.get("src") or attrs.get("type") == "application/json", attrs
        if tag == "a":
            assert not (attrs.get("href") or "").lower().startswith(("javascript:", "data:"))
        assert tag not in {"img", "style", "iframe"}
    article = html.split('<article class="reader-content"', 1)[1].split("</article>", 1)[0]
    assert "<script" not in article
    assert "&lt;script&gt;" in article  # raw HTML in Markdown is shown as text
    assert 'href="https://example.com/ok"' in article
    assert 'rel="noopener noreferrer nofollow"' in article


def test_the_data_for_the_script_cannot_break_out_of_its_element(alice: User) -> None:
    alice.preferred_voice = "</script><script>alert(1)</script>"
    alice.save(update_fields=["preferred_voice"])
    page = pages_of(document_with_pages(owner=alice, pages=1, title="</script><b>x"))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "</script><b>x" not in html
    assert reader_config(html)["pageId"] == page.pk


# --- Editing and its preview --------------------------------------------------------------------


def preview(client: Client, page: Page, markdown: str) -> tuple[int, dict[str, object]]:
    response = client.post(
        reverse("reader-preview", kwargs={"pk": page.pk}), {"markdown": markdown}
    )
    return response.status_code, response.json()


def test_the_preview_renders_markdown_through_the_sanitiser(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    status, body = preview(logged_in(alice), page, XSS_MARKDOWN)
    assert status == 200
    html = str(body["html"])
    assert "<h1>Title</h1>" in html
    assert "<script" not in html
    assert "<img" not in html
    # Raw HTML is shown as text, never passed through; unsafe links stay text, not links.
    assert "&lt;script&gt;" in html
    assert "&lt;img src=x onerror=" in html
    assert "[click me](javascript:alert(1))" in html
    assert '<a href="https://example.com/ok" rel="noopener noreferrer nofollow">fine</a>' in html
    links = [attrs.get("href") or "" for tag, attrs in tags_of(html) if tag == "a"]
    assert links == ["https://example.com/ok"]
    for tag, attrs in tags_of(html):
        assert tag not in {"script", "img", "iframe", "style"}
        assert not any(name.startswith("on") or name == "style" for name in attrs)
    page.refresh_from_db()
    assert page.markdown != XSS_MARKDOWN  # a preview changes nothing


def test_the_preview_follows_the_access_policy(alice: User, bob: User, charlie: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "view_only")
    page = pages_of(document)[0]
    url = reverse("reader-preview", kwargs={"pk": page.pk})
    assert Client().post(url, {"markdown": "# x"}).status_code == 302
    status, body = preview(logged_in(bob), page, "# x")
    assert status == 403
    assert body["error"]["code"] == "permission_denied"  # type: ignore[index]
    assert logged_in(charlie).post(url, {"markdown": "# x"}).status_code == 404
    assert logged_in(alice).get(url).status_code == 405
    DocumentShare.objects.filter(shared_with=bob).update(permission="collaborator")
    assert preview(logged_in(bob), page, "# x")[0] == 200


def test_the_preview_needs_the_csrf_token_and_refuses_oversized_text(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    url = reverse("reader-preview", kwargs={"pk": page.pk})
    strict = logged_in(alice, enforce_csrf=True)
    assert strict.post(url, {"markdown": "# x"}).status_code == 403
    strict.get(reverse("reader", kwargs={"pk": page.pk}))
    token = strict.cookies["csrftoken"].value
    ok = strict.post(url, {"markdown": "# x"}, HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200
    limit = 2 * django_settings.PAGE_MAX_CHARS
    status, body = preview(logged_in(alice), page, "a" * (limit + 1))
    assert status == 400
    assert body["error"]["code"] == "validation_error"  # type: ignore[index]


def test_collaborators_edit_the_page(alice: User, bob: User) -> None:
    document = document_with_pages(owner=alice, pages=2)
    share(document, bob, "collaborator")
    page = pages_of(document)[0]
    client = logged_in(bob)
    response = client.post(
        reverse("reader-edit", kwargs={"pk": page.pk}),
        {"markdown": "# New heading\n\nFresh words to read."},
    )
    assert response.status_code == 302
    assert response["Location"] == f"/pages/{page.pk}/"
    page.refresh_from_db()
    assert page.markdown == "# New heading\n\nFresh words to read."
    assert page.title == "New heading"
    assert "Fresh words to read." in page.text
    html = client.get(response["Location"]).content.decode()
    assert "The page was saved." in html
    assert "<h1>New heading</h1>" in html


def test_edits_that_are_not_allowed_or_not_valid_change_nothing(
    alice: User, bob: User, charlie: User
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "view_only")
    page = pages_of(document)[0]
    before = page.markdown
    url = reverse("reader-edit", kwargs={"pk": page.pk})
    assert logged_in(bob).post(url, {"markdown": "# Hijacked"}).status_code == 403
    assert logged_in(charlie).post(url, {"markdown": "# Hijacked"}).status_code == 404
    assert Client().post(url, {"markdown": "# Hijacked"}).status_code == 302
    assert logged_in(alice).get(url).status_code == 405
    empty = logged_in(alice).post(url, {"markdown": "   \n"})
    assert empty.status_code == 400
    html = empty.content.decode()
    assert "The page is empty." in html
    assert 'aria-invalid="true"' in html
    page.refresh_from_db()
    assert page.markdown == before


def test_the_edit_form_needs_the_csrf_token(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    before = page.markdown
    response = logged_in(alice, enforce_csrf=True).post(
        reverse("reader-edit", kwargs={"pk": page.pk}), {"markdown": "# Forged"}
    )
    assert response.status_code == 403
    page.refresh_from_db()
    assert page.markdown == before


# --- Helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "label"),
    [(None, ""), (0, "0:00"), (4.6, "0:05"), (75, "1:15"), (3600, "1:00:00"), (3725, "1:02:05")],
)
def test_duration_labels(seconds: float | None, label: str) -> None:
    assert duration_label(seconds) == label


# --- Reading along ----------------------------------------------------------------------------


def test_the_page_gives_its_script_the_plain_text_that_timings_index(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    Page.objects.filter(pk=page.pk).update(text="One. </script><b>Two</b>?")
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    config = reader_config(html)
    assert config["pageText"] == "One. </script><b>Two</b>?"
    assert config["timingsUrl"] == "/api/v1/audios/0/timings/"
    # The script reads along in the formatted page itself: there is no second copy of the text.
    formatted = next(attrs for _, attrs in tags_of(html) if attrs.get("id") == "reader-formatted")
    assert "hidden" not in formatted
    assert not has_id(html, "reader-follow")
    assert has_id(html, "reader-follow-toggle")
    # What a focused sentence says about the keys, for the script's marks to refer to; not shown.
    help_text = next(
        attrs for _, attrs in tags_of(html) if attrs.get("id") == "reader-sentence-help"
    )
    assert "hidden" in help_text
    assert "Press Enter to listen from this sentence." in html


def test_the_formatted_page_keeps_its_headings_lists_emphasis_and_links(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    markdown = "# Heading\n\n- One *item*.\n- Two [link](https://example.com/x).\n"
    Page.objects.filter(pk=page.pk).update(markdown=markdown)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    formatted = html.split('id="reader-formatted"', 1)[1].split("</div>", 1)[0]
    for element in ("<h1>Heading</h1>", "<em>item</em>", '<a href="https://example.com/x"'):
        assert element in formatted
    assert formatted.count("<li>") == 2


# --- Progress: resuming a document, and continuing from the library --------------------------


def test_a_document_opens_where_the_person_stopped_else_at_its_first_page(
    alice: User, bob: User, charlie: User
) -> None:
    document = document_with_pages(owner=alice, pages=3)
    first, second, _third = pages_of(document)
    entry = reverse("document-listen", kwargs={"pk": document.pk})
    assert logged_in(alice).get(entry)["Location"] == f"/pages/{first.pk}/"

    audio = AudioFactory.create(page=second, duration_seconds=60)
    ListeningProgress.objects.create(
        user=alice, document=document, page=second, audio=audio, position_seconds=12
    )
    assert logged_in(alice).get(entry)["Location"] == f"/pages/{second.pk}/?audio={audio.pk}"
    share(document, bob, "view_only")
    assert logged_in(bob).get(entry)["Location"] == f"/pages/{first.pk}/"  # bob's own place
    assert logged_in(charlie).get(entry).status_code == 404
    # The document page offers the way in (which also starts playing).
    html = logged_in(alice).get(reverse("document-page", kwargs={"pk": document.pk})).content
    assert f'href="{entry}?listen=1"'.encode() in html


def test_the_reader_saves_the_place_in_the_document(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=1)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": pages_of(document)[0].pk}))
    config = reader_config(html.content.decode())
    assert config["progressUrl"] == f"/api/v1/documents/{document.pk}/progress/"


def test_the_library_offers_the_latest_documents_to_continue(alice: User, bob: User) -> None:
    owned = [document_with_pages(owner=alice, pages=2, title=f"Book {n}") for n in range(4)]
    for document in owned:
        ListeningProgress.objects.create(
            user=alice, document=document, page=pages_of(document)[1], voice="fake:alpha"
        )
    html = logged_in(alice).get(reverse("library")).content.decode()
    section = html.split('class="continue-listening"', 1)[1].split("</section>", 1)[0]
    links = [attrs["href"] for tag, attrs in tags_of(section) if tag == "a"]
    assert len(links) == 3
    latest = owned[-1]
    assert links[0] == f"/pages/{pages_of(latest)[1].pk}/"
    assert "Book 3" in section
    assert "Page 2 of 2" in section
    assert "Alpha (English (US), Test tones)" in section  # the voice by its display name
    assert "fake:alpha" not in section
    # Someone who has listened to nothing is offered nothing.
    assert "continue-listening" not in logged_in(bob).get(reverse("library")).content.decode()


def test_continue_listening_shows_the_page_and_the_time_and_resumes_there(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=5, title="Long listen")
    third = pages_of(document)[2]
    audio = AudioFactory.create(page=third, voice="fake:alpha", duration_seconds=600)
    # Heard while it was made: no position of the audio's own, only the place in the document.
    ListeningProgress.objects.create(
        user=alice, document=document, page=third, audio=audio, voice="fake:alpha",
        position_seconds=135.4, device="d1",
    )  # fmt: skip
    html = logged_in(alice).get(reverse("library")).content.decode()
    section = html.split('class="continue-listening"', 1)[1].split("</section>", 1)[0]
    assert "Page 3 of 5 · " in section
    assert '<span class="continue-time">2:15</span>' in section
    item = next(attrs for tag, attrs in tags_of(section) if tag == "li")
    assert item["data-progress-url"] == f"/api/v1/documents/{document.pk}/progress/"
    link = next(attrs["href"] for tag, attrs in tags_of(section) if tag == "a")
    assert link == f"/pages/{third.pk}/?audio={audio.pk}"

    # The link opens the page with that audio, which starts from the place saved.
    page_html = logged_in(alice).get(link).content.decode()
    assert reader_config(page_html)["selectedAudioId"] == audio.pk
    row = next(a for t, a in tags_of(page_html) if a.get("data-audio-id") == str(audio.pk))
    assert row["data-position"] == "135.400"


def test_the_audio_own_position_wins_when_it_was_saved_after_the_place(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2)
    first = pages_of(document)[0]
    audio = AudioFactory.create(page=first, duration_seconds=600)
    ListeningProgress.objects.create(
        user=alice, document=document, page=first, audio=audio, position_seconds=50
    )
    PlaybackPosition.objects.create(user=alice, audio=audio, position_seconds=75)  # later
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": first.pk})).content.decode()
    row = next(a for t, a in tags_of(html) if a.get("data-audio-id") == str(audio.pk))
    assert row["data-position"] == "75.000"
    # A place on another page leaves this page's positions as they are.
    ListeningProgress.objects.filter(user=alice).update(
        page=pages_of(document)[1], audio=None, position_seconds=3
    )
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": first.pk})).content.decode()
    row = next(a for t, a in tags_of(html) if a.get("data-audio-id") == str(audio.pk))
    assert row["data-position"] == "75.000"


def test_the_library_keeps_continue_listening_in_a_region_its_script_renders_anew(
    alice: User,
) -> None:
    html = logged_in(alice).get(reverse("library")).content.decode()
    assert has_id(html, "continue-places")  # there even before anything was heard
    assert 'class="continue-listening"' not in html
    scripts = [attrs for tag, attrs in tags_of(html) if tag == "script"]
    assert {"type": "module", "src": "/static/js/continue.js"} in scripts


# --- The player bar and continuous play --------------------------------------------------------


def test_the_player_is_a_bar_of_its_own_with_its_options_in_a_menu(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    side = html[html.index('class="reader-side"') : html.index('id="reader-player"')]
    assert "reader-toggle" not in side  # no longer in the side column that scrolls away
    player = html[html.index('id="reader-player"') :]
    for control in ("reader-toggle", "reader-back", "reader-forward", "reader-seekbar"):
        assert f'id="{control}"' in player
    assert 'id="reader-speed"' in player
    menu = player[player.index('id="reader-more"') :]
    assert menu.index("<summary>") < menu.index('id="reader-follow-toggle"')
    assert 'id="reader-continue"' in menu
    # Continuous play needs the script: without it the button stays hidden (the page links stay).
    listen = next(attrs for _, attrs in tags_of(html) if attrs.get("id") == "reader-listen")
    assert "hidden" in listen


def test_the_page_gives_its_script_the_playlist_of_its_document(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2)
    first, second = pages_of(document)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": first.pk})).content.decode()
    config = reader_config(html)
    assert config["playlistUrl"] == f"/api/v1/documents/{document.pk}/playlist/"
    assert config["documentAudiosUrl"] == f"/api/v1/documents/{document.pk}/audios/"
    assert config["readerUrl"] == "/pages/0/"
    assert config["nextPageId"] == second.pk
    assert config["listenAhead"] == django_settings.LISTEN_AHEAD_PAGES
    assert config["voice"] == "fake:alpha"
    assert config["listen"] is False
    strings = config["strings"]
    assert isinstance(strings, dict)
    assert strings["listenNoText"] == "Page %(number)s has no text"
    listened = logged_in(alice).get(reverse("reader", kwargs={"pk": first.pk}), {"listen": "1"})
    assert reader_config(listened.content.decode())["listen"] is True


def test_listen_from_the_document_page_or_the_library_starts_playing(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2)
    first, second = pages_of(document)
    entry = reverse("document-listen", kwargs={"pk": document.pk})
    client = logged_in(alice)
    assert client.get(entry, {"listen": "1"})["Location"] == f"/pages/{first.pk}/?listen=1"
    audio = AudioFactory.create(page=second, duration_seconds=60)
    ListeningProgress.objects.create(
        user=alice, document=document, page=second, audio=audio, position_seconds=12
    )
    assert (
        client.get(entry, {"listen": "1"})["Location"]
        == f"/pages/{second.pk}/?audio={audio.pk}&listen=1"
    )
    assert client.get(entry)["Location"] == f"/pages/{second.pk}/?audio={audio.pk}"
    page_html = client.get(reverse("document-page", kwargs={"pk": document.pk})).content.decode()
    assert f'href="{entry}?listen=1"' in page_html
    library = client.get(reverse("library")).content.decode()
    assert f'href="{entry}?listen=1"' in library


# --- Audio made before the page was edited ------------------------------------------------------


def outdated_audio(page: Page, *, voice: str = "fake:alpha", created_by: User | None) -> Audio:
    """A made audio whose text is not the page's any more (the page was edited since)."""
    return AudioFactory.create(
        page=page, voice=voice, created_by=created_by, text_digest=text_digest("Older words.")
    )


def audio_rows(html: str) -> dict[str, dict[str, str | None]]:
    return {
        str(attrs["data-audio-id"]): attrs
        for tag, attrs in tags_of(html)
        if tag == "li" and attrs.get("data-audio-id")
    }


def row_html(html: str, audio: Audio) -> str:
    match = re.search(rf'<li class="reader-audio" data-audio-id="{audio.pk}".*?</li>', html, re.S)
    assert match, "the audio is listed"
    return match.group(0)


@pytest.mark.parametrize(
    ("permission", "regenerate"),
    [(None, True), ("collaborator", True), ("view_only", False)],
)
def test_an_outdated_audio_says_so_and_who_may_generate_is_offered_to_regenerate_it(
    alice: User, bob: User, permission: str | None, regenerate: bool
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    page = pages_of(document)[0]
    reader = alice
    if permission is not None:
        share(document, bob, permission)
        reader = bob
    old = outdated_audio(page, created_by=alice)
    fresh = AudioFactory.create(
        page=page, voice="fake:beta", created_by=alice, text_digest=text_digest(page.text)
    )
    html = logged_in(reader).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()

    rows = audio_rows(html)
    assert rows[str(old.pk)].get("data-outdated") == "1"
    assert "data-outdated" not in rows[str(fresh.pk)]
    old_row, fresh_row = row_html(html, old), row_html(html, fresh)
    # Said in words, with why, not by colour alone.
    assert "Outdated" in old_row
    assert "made before the page was edited" in old_row
    assert "Outdated" not in fresh_row
    assert "Regenerate" not in fresh_row
    assert ("Regenerate" in old_row) is regenerate
    if regenerate:
        action = reverse("reader-generate", kwargs={"pk": page.pk})
        assert f'action="{action}"' in old_row
        assert 'name="voice" value="fake:alpha"' in old_row
        assert "csrfmiddlewaretoken" in old_row


def test_an_outdated_audio_in_the_player_says_it_was_made_before_the_edit(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    old = outdated_audio(page, created_by=alice)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert reader_config(html)["selectedAudioId"] == old.pk
    now = re.search(r'<p id="reader-now" class="reader-now"[^>]*>(.*?)</p>', html, re.S)
    assert now
    assert "This audio was made before the page was edited." in now.group(1)
    strings = reader_config(html)["strings"]
    assert isinstance(strings, dict)
    assert "This audio was made before the page was edited." in strings["nowPlayingOutdated"]


def test_regenerate_without_javascript_replaces_the_audio_and_takes_no_further_slot(
    alice: User,
) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    for _ in range(3):
        AudioFactory.create(page=page, lifetime_status=Audio.Lifetime.DELETED)
    old = outdated_audio(page, created_by=alice)  # the fourth, last slot of the page
    client = logged_in(alice, enforce_csrf=True)
    html = client.get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token
    assert "0 of 4 audios left for this page." in html

    response = client.post(
        reverse("reader-generate", kwargs={"pk": page.pk}),
        {"voice": "fake:alpha", "csrfmiddlewaretoken": token.group(1)},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("reader", kwargs={"pk": page.pk})
    old.refresh_from_db()
    assert old.lifetime_status != Audio.Lifetime.ACTIVE
    new = Audio.objects.get(page=page, lifetime_status=Audio.Lifetime.ACTIVE)
    assert (new.voice, new.replaces_id, new.created_by_id) == ("fake:alpha", old.pk, alice.pk)
    after = client.get(response["Location"]).content.decode()
    assert "0 of 4 audios left for this page." in after
    assert "The audio in Alpha (English (US), Test tones) is being made." in after
    assert str(new.pk) in audio_rows(after)
    assert str(old.pk) not in audio_rows(after)


def test_regenerate_without_javascript_follows_the_access_policy(
    alice: User, bob: User, charlie: User
) -> None:
    document = document_with_pages(owner=alice, pages=1)
    share(document, bob, "view_only")
    page = pages_of(document)[0]
    old = outdated_audio(page, created_by=alice)
    url = reverse("reader-generate", kwargs={"pk": page.pk})
    assert logged_in(bob).post(url, {"voice": "fake:alpha"}).status_code == 403
    assert logged_in(charlie).post(url, {"voice": "fake:alpha"}).status_code == 404
    assert logged_in(alice).get(url).status_code == 405
    old.refresh_from_db()
    assert old.lifetime_status == Audio.Lifetime.ACTIVE
    assert Audio.objects.filter(page=page).count() == 1


def test_regenerating_an_up_to_date_voice_is_refused_with_a_message(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    AudioFactory.create(page=page, created_by=alice, text_digest=text_digest(page.text))
    client = logged_in(alice)
    response = client.post(
        reverse("reader-generate", kwargs={"pk": page.pk}), {"voice": "fake:alpha"}, follow=True
    )
    assert response.status_code == 200
    assert "Audio in this voice exists or is being made." in response.content.decode()
    assert Audio.objects.filter(page=page).count() == 1


# --- The page's language -----------------------------------------------------------------------


def text_containers(html: str) -> dict[str, dict[str, str | None]]:
    return {
        str(attrs["id"]): attrs
        for _, attrs in tags_of(html)
        if attrs.get("id") == "reader-formatted"
    }


@pytest.fixture
def english_voices_only(settings: Any) -> Iterator[None]:
    """Only the test engine's voices, which speak English (whatever else this machine has)."""
    settings.SPEECH_ENGINES = {"fake": {}}
    voice_catalogue.reset_caches()
    yield
    voice_catalogue.reset_caches()


def voice_note(html: str) -> dict[str, str | None] | None:
    return next(
        (attrs for _, attrs in tags_of(html) if attrs.get("id") == "reader-voice-language"), None
    )


def test_an_arabic_page_is_shown_right_to_left_in_arabic(alice: User) -> None:
    document = document_with_pages(owner=alice, pages=2, language="ar")
    arabic, english = pages_of(document)
    Page.objects.filter(pk=english.pk).update(language="en")
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": arabic.pk})).content.decode()
    containers = text_containers(html)
    assert set(containers) == {"reader-formatted"}
    for attrs in containers.values():
        assert (attrs["lang"], attrs["dir"]) == ("ar", "rtl")
    # A page in a language of its own is shown in it.
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": english.pk})).content.decode()
    for attrs in text_containers(html).values():
        assert (attrs["lang"], attrs["dir"]) == ("en", "ltr")


def test_a_page_of_no_known_language_takes_the_documents_else_the_sites(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1, language="he"))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    assert text_containers(html)["reader-formatted"]["dir"] == "rtl"
    unknown = pages_of(document_with_pages(owner=alice, pages=1))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": unknown.pk})).content.decode()
    assert "lang" not in text_containers(html)["reader-formatted"]
    assert voice_note(html) is None


@pytest.mark.usefixtures("english_voices_only")
def test_a_voice_that_does_not_speak_the_page_is_noted_beside_generate(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1, language="ar"))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    note = voice_note(html)
    assert note is not None
    assert "hidden" not in note
    assert "does not speak Arabic" in html
    form = re.search(r'<form id="reader-generate-form".*?</form>', html, re.S)
    assert form
    assert 'id="reader-voice-language"' in form.group(0)
    # Each voice says whether it speaks the page's language, for the script to follow.
    assert re.findall(r'data-speaks="(\d)"', form.group(0)) == ["0", "0"]
    # Generating stays possible.
    assert re.search(r'<button type="submit" id="reader-generate-button" class="primary">', html)


@pytest.mark.usefixtures("english_voices_only")
def test_no_note_when_the_voice_speaks_the_page(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1, language="en"))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    note = voice_note(html)
    assert note is not None
    assert "hidden" in note
    assert re.findall(r'data-speaks="(\d)"', html) == ["1", "1"]


# --- Without JavaScript --------------------------------------------------------------------------


def noscript_blocks(html: str) -> list[str]:
    return re.findall(r"<noscript>(.*?)</noscript>", html, re.S)


def test_without_javascript_the_browsers_own_player_plays_the_chosen_audio(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    older = AudioFactory.create(page=page, voice="fake:beta", duration_seconds=60)
    chosen = AudioFactory.create(page=page, voice="fake:alpha", duration_seconds=60)
    PlaybackPosition.objects.create(user=alice, audio=chosen, position_seconds=12.5)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    player = html[html.index('id="reader-player"') :]
    native = next(block for block in noscript_blocks(player) if "<audio" in block)
    audio = next(attrs for tag, attrs in tags_of(native) if tag == "audio")
    assert "controls" in audio
    assert audio["preload"] == "none"
    # The chosen audio's file, from where this person stopped.
    download = reverse("audio-download", kwargs={"pk": chosen.pk})
    assert audio["src"] == f"{download}#t=12.500"
    assert audio["aria-labelledby"] == "reader-native-now"
    assert "Now playing: Alpha (English (US), Test tones)" in native
    # Another made audio is chosen by a link (the page again, with that audio in the player).
    choose = [block for block in noscript_blocks(html) if "reader-audio-choose" in block]
    assert len(choose) == 1
    assert f'href="?audio={older.pk}#reader-player"' in choose[0]


def test_without_javascript_an_audio_heard_to_its_end_starts_again(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    audio = AudioFactory.create(page=page, duration_seconds=60)
    PlaybackPosition.objects.create(user=alice, audio=audio, position_seconds=59.5)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    download = reverse("audio-download", kwargs={"pk": audio.pk})
    assert f'src="{download}"' in "".join(noscript_blocks(html))


def test_without_javascript_a_page_without_audio_says_so(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    native = "".join(noscript_blocks(html))
    assert "No audio for this page yet." in native
    assert "<audio" not in native


def test_controls_that_need_the_script_are_marked_so(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    AudioFactory.create(page=page, duration_seconds=60)
    html = logged_in(alice).get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    script_only = [
        attrs.get("id") or attrs.get("class")
        for _, attrs in tags_of(html)
        if "js-only" in (attrs.get("class") or "").split()
    ]
    assert script_only == [
        "reader-voice-preview",
        "reader-audio-play js-only",
        "reader-audio-delete js-only",
        "reader-preview-button",
        "reader-bar js-only",
    ]
    # The custom player's buttons are all in the bar that is hidden without the script.
    bar = html[html.index('class="reader-bar js-only"') :]
    for control in ("reader-toggle", "reader-back", "reader-forward", "reader-seekbar"):
        assert f'id="{control}"' in bar
    # What works without the script stays: downloading, the page picker, saving an edit.
    assert classes(html, "reader-audio-download") == 2  # (and the list's template)
    assert has_id(html, "reader-goto")


def test_without_javascript_the_generate_form_is_posted_to_the_reader(alice: User) -> None:
    page = pages_of(document_with_pages(owner=alice, pages=1))[0]
    client = logged_in(alice, enforce_csrf=True)
    html = client.get(reverse("reader", kwargs={"pk": page.pk})).content.decode()
    form = re.search(r'<form id="reader-generate-form".*?</form>', html, re.S)
    assert form
    attrs = next(attrs for tag, attrs in tags_of(form.group(0)) if tag == "form")
    assert (attrs["method"], attrs["action"]) == (
        "post",
        reverse("reader-generate", kwargs={"pk": page.pk}),
    )
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0))
    assert token
    response = client.post(
        str(attrs["action"]),
        {"csrfmiddlewaretoken": token.group(1), "voice": "fake:alpha"},
        follow=True,
    )
    assert response.status_code == 200
    made = Audio.objects.get(page=page)
    assert made.voice == "fake:alpha"
    said = "The audio in Alpha (English (US), Test tones) is being made."
    assert said in response.content.decode()
