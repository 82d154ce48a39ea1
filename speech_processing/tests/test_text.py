"""Text preparation: normalisation, sentence splitting and chunk packing."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speech_processing.text import (
    Sentence,
    normalize_for_speech,
    normalize_for_speech_mapped,
    normalize_for_speech_with_sources,
    pack_chunks,
    split_long_text,
    split_sentences,
)


def sentences_of(text: str, language: str = "en") -> list[str]:
    normalised = normalize_for_speech(text, language=language)
    return [sentence.text for sentence in split_sentences(normalised, language=language)]


# --------------------------------------------------------------------------- sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith arrived. He sat down.", ["Dr. Smith arrived.", "He sat down."]),
        (
            "Bring fruit, e.g. apples and pears. Then go.",
            ["Bring fruit, e.g. apples and pears.", "Then go."],
        ),
        ("Pi is about 3.14 in value. Good.", ["Pi is about 3.14 in value.", "Good."]),
        ("It costs $4.50 today. Buy it.", ["It costs $4.50 today.", "Buy it."]),
        ("Version 2.0.1 was released. Update now.", ["Version 2.0.1 was released.", "Update now."]),
        ("Wait... what? Yes.", ["Wait... what?", "Yes."]),
        ("I wonder... Then he left.", ["I wonder...", "Then he left."]),
        ('"Really?" she asked. Then she left.', ['"Really?" she asked.', "Then she left."]),
        ('He said "Go home." Then he left.', ['He said "Go home."', "Then he left."]),
        (
            "Mr. and Mrs. Jones live on Baker St. in London. They are nice.",
            ["Mr. and Mrs. Jones live on Baker St. in London.", "They are nice."],
        ),
        ("The U.S. economy grew. Markets rose.", ["The U.S. economy grew.", "Markets rose."]),
        ("At 5 p.m. we met. It rained.", ["At 5 p.m. we met.", "It rained."]),
        ("What?! Really. Yes!", ["What?!", "Really.", "Yes!"]),
    ],
)
def test_hard_sentence_cases(text: str, expected: list[str]) -> None:
    assert sentences_of(text) == expected


def test_paragraph_break_always_ends_a_sentence() -> None:
    text = "A heading without a stop\n\nThe body starts here. It goes on"
    sentences = split_sentences(normalize_for_speech(text))
    assert [s.text for s in sentences] == [
        "A heading without a stop",
        "The body starts here.",
        "It goes on",
    ]
    assert [s.ends_paragraph for s in sentences] == [True, False, True]


def test_sentence_offsets_index_the_normalised_text() -> None:
    text = normalize_for_speech("  First one.   Second one!\n\n\n  Third?  ")
    for sentence in split_sentences(text):
        assert text[sentence.char_start : sentence.char_end] == sentence.text


@pytest.mark.parametrize(
    "text", ["", "   \n\t ", "... !!! ???", "😀 👍 🎉", "— * # ---", "\x00\x01"]
)
def test_nothing_speakable_gives_no_sentences(text: str) -> None:
    normalised = normalize_for_speech(text)
    assert normalised == ""
    assert split_sentences(normalised) == []


def test_other_languages_use_their_rules() -> None:
    assert sentences_of("Das ist gut. Wir gehen jetzt.", language="de-DE") == [
        "Das ist gut.",
        "Wir gehen jetzt.",
    ]
    assert len(sentences_of("今日は晴れです。明日は雨です。", language="ja")) == 2


# --------------------------------------------------------------------------- normalisation


def test_urls_become_a_spoken_domain() -> None:
    text = normalize_for_speech("Read https://www.example.com/a/b?c=1&d=2, then stop.")
    assert text == "Read a link to example.com, then stop."
    assert normalize_for_speech("Go to www.test.org.") == "Go to a link to test.org."
    # user:password@ in a URL is never read out
    assert "secret" not in normalize_for_speech("See https://bob:secret@host.example/x")


def test_a_link_is_read_in_lower_case_and_within_one_sentence() -> None:
    # Host names are case-blind; read as written, "x.org.Word…" ended a sentence in the link.
    spoken = normalize_for_speech("www.x.org.Wordwww.x.org./")
    assert spoken == "a link to x.org.wordwww.x.org"
    assert [sentence.text for sentence in split_sentences(spoken)] == [spoken]
    assert normalize_for_speech("See HTTPS://Docs.Example.COM/Guide.") == (
        "See a link to docs.example.com."
    )


def test_urls_in_other_languages_are_just_the_domain() -> None:
    assert normalize_for_speech("Siehe https://beispiel.de/x.", language="de") == (
        "Siehe beispiel.de."
    )


def test_control_characters_are_dropped_but_newlines_kept() -> None:
    text = normalize_for_speech(
        "one\x00\x07 two\tthree\r\nfour\u200b five\ufeff \x1b[31msix\x1b[0m"
    )
    assert text == "one two three\nfour five six"


def test_emoji_and_pictographs_are_dropped() -> None:
    text = normalize_for_speech("I love it 😀👍🏽 👨‍👩‍👧 ✅ done 🇬🇧. ★ Great ☺")
    assert text == "I love it done. Great"


def test_zero_width_joiner_inside_words_survives() -> None:
    # ZWNJ is part of Persian spelling; only orphaned joiners (from emoji) go.
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "I want"
    assert normalize_for_speech(persian, language="fa") == persian


def test_lone_surrogates_are_removed_and_pairs_joined() -> None:
    assert normalize_for_speech("lone \ud800 here \udfff too") == "lone here too"
    # A pair split into code points is joined (and, being an emoji, dropped).
    assert normalize_for_speech("smile \ud83d\ude00 now") == "smile now"
    normalize_for_speech("x\ud800").encode("utf-8")  # must not raise


def test_overlong_words_are_dropped_or_broken() -> None:
    text = normalize_for_speech("start " + "a" * 500 + " middle " + "3f2a9c" * 11 + " end")
    assert text == "start middle end"
    path = normalize_for_speech("see /usr/local/lib/python3.11/site-packages/piper/voice.py now")
    assert path.startswith("see usr local lib")
    assert max(len(word) for word in path.split()) <= 40
    # Long German compounds are words, not junk.
    compound = "Rindfleischetikettierungsüberwachungsaufgabenübertragungsgesetz"
    assert compound in normalize_for_speech(f"Das {compound} gilt.", language="de")


def test_long_runs_of_unspaced_scripts_are_kept() -> None:
    chinese = "这是一个很长的中文句子没有空格但是我们需要保留它因为这是真正的文本而不是垃圾。"
    assert normalize_for_speech(chinese, language="zh") == chinese


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<speak><break time='10s'/></speak>", ""),
        ("<prosody rate='x-fast'>Hello there</prosody>", "Hello there"),
        ('<speak>Hi <amazon:effect name="whispered">you</amazon:effect></speak>', "Hi you"),
        ("&lt;speak&gt;Hi&lt;/speak&gt;", "Hi"),
        ("&amp;lt;break time=&amp;quot;5s&amp;quot;/&amp;gt;Go", "Go"),
        ("<<b>speak>Hi</speak>", "Hi"),
        ("one<br>two<br/>three", "one two three"),
        ("＜speak＞Hi＜/speak＞", "Hi"),  # noqa: RUF001 - fullwidth on purpose
        ("<!-- hidden --> shown <![CDATA[data]]>", "shown data"),
        ("<?xml version='1.0'?><speak>x</speak>", "x"),
    ],
)
def test_markup_never_survives(text: str, expected: str) -> None:
    result = normalize_for_speech(text)
    assert result == expected
    assert "<" not in result
    assert ">" not in result


def test_symbols_are_expanded_in_english() -> None:
    text = normalize_for_speech("50% of A & B @ 3×4 → done at 20°C ± 2")  # noqa: RUF001
    assert text == (
        "50 percent of A and B at 3 times 4 to done at 20 degrees Celsius plus or minus 2"
    )
    assert normalize_for_speech("x < 5 and y>3") == "x less than 5 and y greater than 3"


def test_symbols_are_left_to_the_engine_in_other_languages() -> None:
    assert normalize_for_speech("50 % & mehr", language="de") == "50 % & mehr"


def test_lists_headings_and_decoration() -> None:
    text = normalize_for_speech(
        "# Title\n\n- one\n- two\n\n=====\n\nA • B [12] and [link](http://x.com) -- ok!!!"
    )
    assert text == "Title\n\none\ntwo\n\nA, B and link — ok!"


def test_whitespace_is_collapsed_and_paragraphs_kept() -> None:
    assert normalize_for_speech("  a \t b\n\n\n\n c  \n d ") == "a b\n\nc\nd"


def test_trademark_signs_are_not_spelled_out() -> None:
    assert normalize_for_speech("Pagecast™ and Foo® rock") == "Pagecast and Foo rock"


# --------------------------------------------------------------------------- chunks


def test_short_sentences_are_packed_up_to_the_limit() -> None:
    text = normalize_for_speech("One two. Three four. Five six. Seven eight.")
    sentences = split_sentences(text)
    chunks = pack_chunks(sentences, max_chars=20)
    assert [c.text for c in chunks] == ["One two. Three four.", "Five six.", "Seven eight."]
    assert [c.sentence_indices for c in chunks] == [(0, 1), (2,), (3,)]


def test_one_sentence_per_chunk() -> None:
    sentences = split_sentences("One two. Three four.")
    chunks = pack_chunks(sentences, max_chars=100, one_sentence_per_chunk=True)
    assert [c.sentence_indices for c in chunks] == [(0,), (1,)]


def test_first_chunk_can_be_kept_short() -> None:
    sentences = split_sentences("One two. Three four. Five six.")
    chunks = pack_chunks(sentences, max_chars=100, first_chunk_max_chars=10)
    assert [c.sentence_indices for c in chunks] == [(0,), (1, 2)]


def test_chunks_end_at_paragraphs() -> None:
    sentences = split_sentences("One.\n\nTwo. Three.")
    assert [c.sentence_indices for c in pack_chunks(sentences, max_chars=100)] == [(0,), (1, 2)]
    joined = pack_chunks(sentences, max_chars=100, break_at_paragraphs=False)
    assert [c.sentence_indices for c in joined] == [(0, 1, 2)]


def test_long_sentence_is_split_at_clauses_then_spaces_then_hard() -> None:
    clause = "first part of it, second part of it, third part of it"
    assert [clause[s:e] for s, e in split_long_text(clause, max_chars=20)] == [
        "first part of it,",
        "second part of it,",
        "third part of it",
    ]
    words = "alpha beta gamma delta epsilon"
    assert [words[s:e] for s, e in split_long_text(words, max_chars=12)] == [
        "alpha beta",
        "gamma delta",
        "epsilon",
    ]
    assert [("x" * 25)[s:e] for s, e in split_long_text("x" * 25, max_chars=10)] == [
        "x" * 10,
        "x" * 10,
        "x" * 5,
    ]


def test_long_sentence_pieces_keep_offsets() -> None:
    text = "Intro. " + ", ".join(["word " * 10] * 30) + " end."
    sentences = split_sentences(text)
    chunks = pack_chunks(sentences, max_chars=100)
    for chunk in chunks:
        assert len(chunk.text) <= 100
        if len(chunk.sentence_indices) == 1:
            assert text[chunk.char_start : chunk.char_end] == chunk.text
    assert {i for c in chunks for i in c.sentence_indices} == {0, 1}


def test_twenty_thousand_characters_pack_within_limits() -> None:
    paragraph = (
        'Dr. Watson measured 3.14 units, e.g. twice... Then he wrote: "It works!" '
        "See https://example.com/report for details & more. "
    )
    raw = "\n\n".join([paragraph * 5] * 40)
    assert len(raw) >= 20_000
    text = normalize_for_speech(raw)
    sentences = split_sentences(text)
    chunks = pack_chunks(sentences, max_chars=2900)
    assert all(len(chunk.text) <= 2900 for chunk in chunks)
    assert_chunks_cover(sentences, chunks, text)


def assert_chunks_cover(sentences: list[Sentence], chunks: list, text: str) -> None:
    covered = [index for chunk in chunks for index in chunk.sentence_indices]
    # Every sentence, in order; a split sentence repeats its index over consecutive chunks.
    assert sorted(set(covered)) == list(range(len(sentences)))
    assert covered == sorted(covered)
    for sentence in sentences:
        assert text[sentence.char_start : sentence.char_end] == sentence.text
        assert sentence.text == sentence.text.strip()
    for chunk in chunks:
        parts = [sentences[i] for i in chunk.sentence_indices]
        if len(parts) > 1:
            assert chunk.text == " ".join(s.text for s in parts)
        else:
            assert text[chunk.char_start : chunk.char_end] == chunk.text


# --------------------------------------------------------------------------- properties

_text_alphabet = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from([*" .,;:!?\n<>/&'\"…—-", "\n\n", "Dr.", "e.g.", "3.14", "...", "<speak>"]),
)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(raw=st.lists(_text_alphabet, max_size=200).map("".join), max_chars=st.integers(1, 120))
def test_chunks_cover_every_sentence_in_order(raw: str, max_chars: int) -> None:
    text = normalize_for_speech(raw)
    assert "<" not in text
    assert ">" not in text
    sentences = split_sentences(text)
    chunks = pack_chunks(sentences, max_chars=max_chars)
    assert all(0 < len(chunk.text) <= max_chars for chunk in chunks)
    assert_chunks_cover(sentences, chunks, text)


@settings(max_examples=200, deadline=None, database=None)
@given(raw=st.text(max_size=300))
def test_normalisation_is_stable_and_encodable(raw: str) -> None:
    text = normalize_for_speech(raw)
    text.encode("utf-8")  # no lone surrogates left
    assert normalize_for_speech(text) == text


# --------------------------------------------------------------------------- source offsets


def test_text_that_needs_no_change_maps_to_itself() -> None:
    text = "Plain words, nothing else. Then more!\n\nA new paragraph."
    assert normalize_for_speech_mapped(text) == (text, list(range(len(text) + 1)))


def test_kept_characters_map_to_themselves_around_removals() -> None:
    raw = "  one\x00 two\r\n\r\n\r\nthree\u200b four  "
    text, index = normalize_for_speech_mapped(raw)
    assert text == "one two\n\nthree four"
    for position, char in enumerate(text):
        if not char.isspace():
            assert raw[index[position]] == char
    assert index[-1] == len(raw)


def test_inserted_words_map_to_the_start_of_what_they_replace() -> None:
    raw = "A & B"
    text, index = normalize_for_speech_mapped(raw)
    assert text == "A and B"
    assert index == [0, 1, 2, 2, 2, 2, 4, 5]
    mapped = normalize_for_speech_with_sources(raw)
    assert mapped.starts == index
    assert (mapped.starts[3], mapped.ends[3]) == (2, 3)  # "a" of "and" stands for "&"


def test_a_replaced_url_stands_for_the_whole_url() -> None:
    raw = "Go to https://www.example.com/a?b=1 now."
    mapped = normalize_for_speech_with_sources(raw)
    assert mapped.text == "Go to a link to example.com now."
    url_start, url_end = raw.index("https"), raw.index(" now")
    link = mapped.text.index("a link")
    assert mapped.starts[link] == url_start
    assert mapped.ends[mapped.text.index(" now") - 1] == url_end
    assert mapped.source_spans([(link, link + len("a link to example.com"))]) == [
        (url_start, url_end)
    ]
    assert mapped.source_spans([(0, len(mapped.text))]) == [(0, len(raw))]


def test_compatibility_characters_map_to_what_they_came_from() -> None:
    raw = "\ufb01ne e\u0301t\u00e9 x\u00b2"  # ligature fi, e + combining acute, é, superscript 2
    mapped = normalize_for_speech_with_sources(raw)
    assert mapped.text == "fine \u00e9t\u00e9 x2"
    assert mapped.starts == [0, 0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    assert mapped.ends[:2] == [1, 1]  # "f" and "i" both stand for the ligature
    assert mapped.ends[5] == 6  # "\u00e9" stands for "e" + accent


def test_joined_surrogate_halves_map_as_one_character() -> None:
    text, index = normalize_for_speech_mapped("a \ud83d\ude00 b \ud800c")
    assert text == "a b c"
    assert index == [0, 1, 5, 6, 8, 9]


def test_source_spans_are_trimmed_ordered_and_never_overlap() -> None:
    raw = "<b>One.</b>   Two 😀!\n\n  Three"
    mapped = normalize_for_speech_with_sources(raw)
    sentences = split_sentences(mapped.text)
    spans = mapped.source_spans((s.char_start, s.char_end) for s in sentences)
    assert [raw[start:end] for start, end in spans] == ["One.", "Two 😀!", "Three"]
    # Two ranges that share one replaced span ("&" → " and ") still do not overlap.
    shared = normalize_for_speech_with_sources("x & y")
    assert shared.text == "x and y"
    assert shared.source_spans([(0, 3), (3, 7)]) == [(0, 3), (4, 5)]  # "x &", "y"


_messy_alphabet = st.one_of(
    st.characters(),  # lone surrogates too
    _text_alphabet,
    st.sampled_from(
        [
            *["\r\n", "\r", "\t", "\x00", "\x1b[31m", "\u200b", "\u200d", "\ufeff", "\u2029"],
            *["https://www.example.com/a?b=1&c=2", "www.test.org.", "ftp://a.b/c)", "&amp;"],
            *["&lt;", "&#x3c;", "&foo;", "😀", "👍🏽", "\ud83d", "\ude00", "\u2122", "\ufb01"],
            *["\uff21", "e\u0301", "\u0301", "\u1100\u1161", "\u00b2", "%", "\u00b0C", "\u2192"],
            *["\u2022", "- ", "# ", "=====", "--", "[12]", "[a](http://x.com)", "x < 5", "|"],
            *["a" * 45, "3f2a9c" * 8, "/usr/local/lib/python3.11/site-packages/x.py", "!!"],
        ]
    ),
)


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    raw=st.lists(_messy_alphabet, max_size=80).map("".join),
    language=st.sampled_from(["en", "de", "en-US"]),
)
def test_mapped_normalisation_gives_the_same_text_and_a_monotonic_map(
    raw: str, language: str
) -> None:
    text, index = normalize_for_speech_mapped(raw, language=language)
    assert text == normalize_for_speech(raw, language=language)
    assert len(index) == len(text) + 1
    assert index[-1] == len(raw)
    assert all(0 <= before <= after for before, after in itertools.pairwise(index))
    mapped = normalize_for_speech_with_sources(raw, language=language)
    assert mapped.starts == index
    assert len(mapped.ends) == len(index)
    assert all(start <= end <= len(raw) for start, end in zip(index, mapped.ends, strict=True))
    assert all(before <= after for before, after in itertools.pairwise(mapped.ends))


@settings(max_examples=200, deadline=None, database=None)
@given(raw=st.text(max_size=300))
def test_mapped_normalisation_of_any_text_is_the_plain_one(raw: str) -> None:
    assert normalize_for_speech_mapped(raw)[0] == normalize_for_speech(raw)
