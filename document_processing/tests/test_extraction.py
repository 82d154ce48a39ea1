from __future__ import annotations

from document_processing.extraction import finish, page_from_markdown
from document_processing.extractors.base import ExtractedPage, ExtractionLimits, ExtractionResult
from speech_processing.text import normalize_for_speech_with_sources, split_sentences

LIMITS = ExtractionLimits()


def _finished(*pages: ExtractedPage) -> list[tuple[str, bool]]:
    document = finish(ExtractionResult(pages=list(pages)), limits=LIMITS)
    return [(page.title, page.contents) for page in document.pages]


def test_every_page_has_a_name_a_person_can_tell_apart() -> None:
    pages = _finished(
        ExtractedPage("Some text before.\n\n## The Heading\n\nMore."),  # its first heading
        ExtractedPage("The keeper climbed the stairs of the lighthouse as the storm rose."),
        ExtractedPage("The keeper climbed down again, slowly, one step at a time."),
        ExtractedPage("# Ignored\n\nText.", title="Named by the extractor"),
        ExtractedPage("Setext heading\n==============\n\nText."),
    )

    assert [title for title, _ in pages] == [
        "The Heading",
        "The keeper climbed the stairs of the lighthouse as the\u2026",  # 60 at most
        "The keeper climbed down again, slowly, one step at a time.",
        "Named by the extractor",
        "Setext heading",
    ]


def test_a_heading_in_a_code_block_does_not_name_the_page() -> None:
    pages = _finished(ExtractedPage("```bash\n# a comment\n```\n\nThe text of the page."))

    # Named by its first words, code included, not by the comment as a heading.
    assert pages == [("# a comment The text of the page.", False)]


def test_tables_of_contents_are_marked_by_the_extractor_or_by_their_look() -> None:
    pages = _finished(
        ExtractedPage("Links, as the book's navigation says.", contents=True),
        ExtractedPage("# Contents\n\n- One\n- Two\n- Three"),
        ExtractedPage("# One\n\nThe first chapter."),
    )

    assert [contents for _, contents in pages] == [True, True, False]


def test_a_page_written_by_a_person_is_named_the_same_way() -> None:
    assert page_from_markdown("# Mine\n\nText.", number=1).title == "Mine"
    assert page_from_markdown("Just a few words.", number=1).title == "Just a few words."


def test_read_along_highlights_the_words_of_a_table_as_the_page_shows_them() -> None:
    page = page_from_markdown(
        "# Drums\n\n| Name | Origin |\n|---|---|\n| Tabla | India |\n| Djembe | West Africa |",
        number=1,
    )
    assert page.text == (
        "Drums\n\nName: Tabla, Origin: India.\n\nName: Djembe, Origin: West Africa."
    )

    mapped = normalize_for_speech_with_sources(page.text)
    sentences = split_sentences(mapped.text)
    spans = mapped.source_spans((s.char_start, s.char_end) for s in sentences)

    # Each sentence spoken is highlighted over the very words of the page's text.
    assert [page.text[start:end] for start, end in spans] == [
        "Drums",
        "Name: Tabla, Origin: India.",
        "Name: Djembe, Origin: West Africa.",
    ]


def test_read_along_skips_what_is_not_spoken_and_keeps_the_rest_in_place() -> None:
    page = page_from_markdown(
        "A claim.[^1] See the [docs][d] {: .note }\n\n[d]: https://example.com\n\n"
        "[^1]: The source.",
        number=1,
    )
    assert page.text == "A claim. See the docs\n\nThe source."

    mapped = normalize_for_speech_with_sources(page.text)
    sentences = split_sentences(mapped.text)
    spans = mapped.source_spans((s.char_start, s.char_end) for s in sentences)

    assert [page.text[start:end] for start, end in spans] == [
        "A claim.",
        "See the docs",
        "The source.",
    ]
