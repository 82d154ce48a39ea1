"""The page's language in a real browser (Debian's Chromium, headless): right-to-left text, and
the note beside "Generate audio" following the voice a person chooses.

Screenshots are written under e2e-artifacts/ (git-ignored).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from core.tests.browser import E2E_MARKS
from document_processing.extraction import page_from_markdown
from document_processing.models import Page
from document_processing.tests.factories import document_with_pages
from speech_processing import voices
from users.tests.factories import UserFactory
from web.tests.test_e2e_reader import ARTIFACTS, sessions  # noqa: F401 (fixtures)

pytestmark = E2E_MARKS

ARABIC = (
    "# المادة الأولى\n\nيولد جميع الناس أحرارًا متساوين في الكرامة والحقوق. وقد وهبوا عقلاً "
    "وضميرًا وعليهم أن يعامل بعضهم بعضًا بروح الإخاء."
)


@pytest.fixture
def arabic_and_english_voices(settings: Any) -> Iterator[None]:
    """The test engine's English voices and, from espeak-ng's list, an Arabic one."""
    settings.SPEECH_ENGINE_CLASSES = {"listed": "speech_processing.tests.test_voices.ListedEngine"}
    settings.SPEECH_ENGINES = {"fake": {}, "listed": {}}
    voices.reset_caches()
    yield
    voices.reset_caches()


@pytest.mark.usefixtures("arabic_and_english_voices")
def test_an_arabic_page_reads_right_to_left_and_an_english_voice_is_noted(
    sessions: Any,  # noqa: F811
) -> None:
    from playwright.sync_api import expect

    owner = UserFactory.create(email="language-owner@example.com")
    document = document_with_pages(owner=owner, pages=1, title="الإعلان", language="ar")
    page = document.pages.get()
    data = page_from_markdown(ARABIC, number=1)
    Page.objects.filter(pk=page.pk).update(
        markdown=data.markdown, text=data.text, char_count=data.char_count, title=data.title,
        language="ar",
    )  # fmt: skip
    session = sessions(owner)
    tab = session.tab
    session.open(reverse("reader", kwargs={"pk": page.pk}))
    text = tab.locator("#reader-formatted")
    expect(text).to_have_attribute("dir", "rtl")
    # The browser lays the text out from the right: a paragraph's text starts at its right edge.
    assert (
        tab.evaluate(
            "() => getComputedStyle(document.querySelector('#reader-formatted p')).direction"
        )
        == "rtl"
    )
    note = tab.locator("#reader-voice-language")
    # The document's default voice speaks Arabic: nothing to say.
    expect(tab.locator("#reader-voice")).to_have_value("listed:ar")
    expect(note).to_be_hidden()
    tab.select_option("#reader-voice", "fake:alpha")
    expect(note).to_be_visible()
    expect(note).to_contain_text("Arabic")
    expect(tab.locator("#reader-generate-button")).to_be_enabled()
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "reader-language-note.png"), full_page=True)
    tab.select_option("#reader-voice", "listed:ar")
    expect(note).to_be_hidden()
