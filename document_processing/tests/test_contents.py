from __future__ import annotations

from types import SimpleNamespace

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from document_processing.contents import _LEADERS, _may_have_leaders, looks_like_contents, to_listen


@pytest.mark.parametrize(
    "markdown",
    [
        "# Contents\n\n1. Introduction\n2. The Beginning\n3. The End",
        "## Table of Contents\n\n- Preface\n- Chapter one",
        "# Inhaltsverzeichnis\n\n- Vorwort\n- Erstes Kapitel\n- Zweites Kapitel",
        "# 目次\n\n- 第一章\n- 第二章",
        "# CONTENTS.\n\nIntroduction 2\n\nOrigin of Arbor Day 2\n\nReadings 3",
        # A printed table of contents, as a PDF page gives it (lines joined into paragraphs).
        "Preface ........ 1 Chapter 1 ........ 5 Chapter 2 ........ 19 Chapter 3 ........ 33 "
        "Chapter 4 ........ 51 Index ........ 70",
        "\n".join(f"- [Part {i}](part-{i}.md)" for i in range(8)),
    ],
)
def test_tables_of_contents_are_recognised(markdown: str) -> None:
    assert looks_like_contents(markdown)


def test_a_page_titled_contents_elsewhere_is_recognised_by_that_title() -> None:
    assert looks_like_contents("- Preface\n- Chapter one\n- Chapter two", title="Contents")


@pytest.mark.parametrize(
    "markdown",
    [
        "",
        "# Contents\n\nThe contents of this chapter are explained in prose, at length.",
        "# Contents of the box\n\n- a hammer\n- nails",  # a heading that is not "Contents"
        "# Shopping\n\n- milk\n- bread\n- eggs\n- tea\n- jam\n- rice",  # a list, no links
        "# Reading list\n\nSee [one](a.md) and [two](b.md) in these notes, which explain more.",
        "Chapter 1 begins with a long paragraph about page 5 and other things.\n\nAnd more.",
    ],
)
def test_other_pages_are_not_contents(markdown: str) -> None:
    assert not looks_like_contents(markdown)


def test_listening_to_the_whole_passes_over_contents_unless_there_is_nothing_else() -> None:
    pages = [SimpleNamespace(n=n, is_contents=n in (1, 3)) for n in range(1, 5)]
    assert [page.n for page in to_listen(pages)] == [2, 4]
    only = [SimpleNamespace(n=n, is_contents=True) for n in (1, 2)]
    assert [page.n for page in to_listen(only)] == [1, 2]
    assert to_listen([(7, False), (8, True)], is_contents=lambda row: row[1]) == [(7, False)]
    assert to_listen([]) == []


@settings(database=None)
@given(st.text(alphabet=". \n\t\u2026_\u00b7a1", max_size=30))
@example(". . . .")
@example(".\n.\t.  .")
@example("\u2026\u2026")
@example("____")
@example("\u00b7 \u00b7 \u00b7 \u00b7")
def test_the_quick_check_for_leaders_misses_none(text: str) -> None:
    assert _may_have_leaders(text) or not _LEADERS.findall(text)


def test_prose_has_no_leaders_to_look_for() -> None:
    assert not _may_have_leaders("It ended. Then it began again, 3.5 miles on. And again.")
    assert _may_have_leaders("It ended. Then... it began again.")  # looked for, not found
