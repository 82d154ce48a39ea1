"""The synthesis pipeline with the fake engine, and once end to end with Piper."""

from __future__ import annotations

import itertools
from typing import ClassVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from speech_processing.engines.base import (
    AudioPiece,
    PermanentEngineError,
    TransientEngineError,
    Voice,
)
from speech_processing.engines.fake import PERMANENT_MARKER, FakeEngine
from speech_processing.engines.piper import PiperEngine
from speech_processing.synthesis import (
    NoSpeakableText,
    PauseOptions,
    SynthesisOutput,
    check_speech,
    iter_synthesis,
    synthesize_text,
)
from speech_processing.text import (
    normalize_for_speech,
    normalize_for_speech_mapped,
    split_sentences,
)

TEXT = (
    "Dr. Smith measured 3.14 units, e.g. twice. Was it enough... or not?\n\n"
    '"Really?" she asked. See https://example.com/x for more & better results!\n\n'
    "The end."
)
NO_PAUSES = PauseOptions(sentence=0, paragraph=0, clause=0)


def assert_timings_tile(output: SynthesisOutput) -> None:
    timings = output.sentences
    assert timings
    assert timings[0].start == 0.0
    assert timings[-1].end == pytest.approx(output.duration_seconds)
    for before, after in itertools.pairwise(timings):
        assert before.end == after.start
        assert before.char_end <= after.char_start
    assert all(t.start <= t.end for t in timings)


def assert_ranges_index_the_original(output: SynthesisOutput, original: str) -> None:
    """The contract for sentence offsets: they index the text passed in, not the spoken one.

    One range per spoken sentence, in order, never overlapping, inside the original, trimmed
    of whitespace, and covering every character of the sentence kept from the original.
    """
    sentences = split_sentences(output.text)
    assert len(output.sentences) == len(sentences)
    normalised, index = normalize_for_speech_mapped(original)
    assert normalised == output.text
    position = 0
    for timing, sentence in zip(output.sentences, sentences, strict=True):
        start, end = timing.char_start, timing.char_end
        assert position <= start <= end <= len(original)
        highlighted = original[start:end]
        assert highlighted == highlighted.strip()
        for i in range(sentence.char_start, sentence.char_end):
            char = normalised[i]
            if char.isalnum() and original[index[i]] == char:
                assert start <= index[i] < end
        position = end


def highlighted(output: SynthesisOutput, original: str) -> list[str]:
    return [original[t.char_start : t.char_end] for t in output.sentences]


def spoken(output: SynthesisOutput) -> list[str]:
    return [s.text for s in split_sentences(output.text)]


def test_sentence_by_sentence_timings_are_exact() -> None:
    engine = FakeEngine(ms_per_char=10, min_ms=0)
    output = synthesize_text(TEXT, engine=engine, voice="alpha", pauses=NO_PAUSES)
    assert output.text == normalize_for_speech(TEXT)
    assert_timings_tile(output)
    assert_ranges_index_the_original(output, TEXT)
    assert highlighted(output, TEXT) == [
        "Dr. Smith measured 3.14 units, e.g. twice.",
        "Was it enough... or not?",
        '"Really?" she asked.',
        "See https://example.com/x for more & better results!",  # spoken: "a link to ..."
        "The end.",
    ]
    # One call per sentence, and each sentence lasts exactly what the engine returned for it,
    # which is proportional to the spoken (normalised) text.
    assert [text for _, text in engine.calls] == spoken(output)
    for timing, text in zip(output.sentences, spoken(output), strict=True):
        assert timing.end - timing.start == pytest.approx(len(text) * 0.010)
    assert output.sample_rate == 16000
    assert output.num_samples == round(output.duration_seconds * 16000)
    assert output.mp3[:2] == b"\xff\xf3"


def test_pauses_are_added_between_sentences_and_paragraphs() -> None:
    engine = FakeEngine(ms_per_char=10, min_ms=0)
    plain = synthesize_text(TEXT, engine=engine, voice="alpha", pauses=NO_PAUSES)
    paused = synthesize_text(
        TEXT, engine=engine, voice="alpha", pauses=PauseOptions(sentence=0.25, paragraph=1.0)
    )
    # 5 sentences in 3 paragraphs: 2 sentence gaps, 2 paragraph gaps, nothing after the last.
    assert len(paused.sentences) == 5
    assert paused.duration_seconds == pytest.approx(plain.duration_seconds + 2 * 0.25 + 2 * 1.0)
    assert_timings_tile(paused)
    assert_ranges_index_the_original(paused, TEXT)


def test_packed_chunks_share_time_by_characters() -> None:
    engine = FakeEngine(ms_per_char=10, min_ms=0, chunk_by_sentence=False, max_chunk_chars=80)
    output = synthesize_text(TEXT, engine=engine, voice="alpha", pauses=NO_PAUSES)
    assert len(engine.calls) < len(output.sentences)
    assert any(". " in text for _, text in engine.calls)  # several sentences in one call
    assert_timings_tile(output)
    assert_ranges_index_the_original(output, TEXT)
    # The fake's audio is proportional to characters, so the shares come out nearly exact
    # (the joining spaces in a chunk are the only difference).
    for timing, text in zip(output.sentences, spoken(output), strict=True):
        assert timing.end - timing.start == pytest.approx(len(text) * 0.010, abs=0.03)


def test_overlong_sentence_is_split_but_timed_as_one() -> None:
    sentence = "This sentence is long, and it goes on, and on, and on, until it stops."
    engine = FakeEngine(ms_per_char=10, min_ms=0, max_chunk_chars=20)
    text = f"Short one. {sentence}"
    output = synthesize_text(text, engine=engine, voice="alpha")
    assert len(engine.calls) > 2
    assert all(len(text) <= 20 for _, text in engine.calls)
    assert highlighted(output, text) == ["Short one.", sentence]
    assert_timings_tile(output)


def test_streaming_yields_audio_after_the_first_chunk() -> None:
    engine = FakeEngine()
    parts = iter_synthesis(TEXT, engine=engine, voice="alpha")
    assert engine.calls == []  # nothing is synthesised until asked
    first = next(parts)
    assert len(engine.calls) == 1
    assert first.mp3[:2] == b"\xff\xf3"
    assert [first.sentences[0].char_start, first.sentences[0].char_end] == [0, 42]
    rest = list(parts)
    assert rest[-1].sentences == ()  # the encoder's flush
    streamed = first.mp3 + b"".join(part.mp3 for part in rest)
    assert streamed == synthesize_text(TEXT, engine=FakeEngine(), voice="alpha").mp3


@pytest.mark.parametrize("text", ["", "   ", "😀 🎉", "<speak><break time='3s'/></speak>", "..."])
def test_no_speakable_text_is_raised_before_any_call(text: str) -> None:
    engine = FakeEngine()
    with pytest.raises(NoSpeakableText):
        iter_synthesis(text, engine=engine, voice="alpha")
    with pytest.raises(NoSpeakableText):
        synthesize_text(text, engine=engine, voice="alpha")
    assert engine.calls == []


def test_engine_errors_pass_through() -> None:
    with pytest.raises(TransientEngineError):
        synthesize_text(TEXT, engine=FakeEngine(fail_transient_times=1), voice="alpha")
    with pytest.raises(PermanentEngineError):
        synthesize_text(f"Fine. {PERMANENT_MARKER} here.", engine=FakeEngine(), voice="alpha")


class OddEngine:
    """Returns audio at a rate that changes between calls, or no audio at all."""

    name: ClassVar[str] = "odd"
    max_chunk_chars = 100
    chunk_by_sentence = True

    def __init__(self, rates: list[int], samples: int = 1600) -> None:
        self.rates = rates
        self.samples = samples

    def voices(self) -> list[Voice]:
        return []

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        return AudioPiece(pcm=bytes(2 * self.samples), sample_rate=self.rates.pop(0))


def test_a_changing_sample_rate_is_refused() -> None:
    with pytest.raises(PermanentEngineError):
        synthesize_text("One. Two.", engine=OddEngine([16000, 22050]), voice="x")


def test_no_audio_at_all_is_an_engine_failure() -> None:
    with pytest.raises(PermanentEngineError):
        synthesize_text("One. Two.", engine=OddEngine([16000, 16000], samples=0), voice="x")


NO_SPEECH = "The speech service returned no speech."


def test_a_sentence_answered_with_a_blip_holds_no_speech() -> None:
    text = "This sentence has far more than twenty letters in it."
    with pytest.raises(PermanentEngineError) as caught:
        synthesize_text(text, engine=OddEngine([16000], samples=16), voice="x")  # 1 ms
    assert caught.value.user_message == NO_SPEECH
    assert caught.value.code == "no_speech"
    assert caught.value.error_id


class QuietEngine(FakeEngine):
    """Speaks like the fake engine, but answers a sentence holding "quiet" with a blip."""

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        if "quiet" in text:
            self.calls.append((voice, text))
            return AudioPiece(pcm=bytes(2 * 16), sample_rate=self.sample_rate)
        return super().synthesize(text, voice=voice)


def test_one_silent_sentence_among_spoken_ones_stops_the_page() -> None:
    engine = QuietEngine()
    text = "The first sentence is read aloud. The quiet one comes back as a blip. Never asked."
    with pytest.raises(PermanentEngineError) as caught:
        synthesize_text(text, engine=engine, voice="alpha")
    assert caught.value.user_message == NO_SPEECH
    assert len(engine.calls) == 2


@pytest.mark.parametrize(
    ("text", "seconds", "speech"),
    [
        ("Hi.", 0.0, True),  # too short to judge
        ("Nineteen letters ok!", 0.0, True),  # 17 letters and digits
        ("Alpha bravo delta tango.", 0.081, True),  # 20 letters: a tenth of 0.8 s will do
        ("Alpha bravo delta tango.", 0.079, False),
        ("二十个字的中文句子在这里需要被朗读出来才算完成了这个测试", 0.01, False),
    ],
)
def test_what_counts_as_no_speech(text: str, seconds: float, speech: bool) -> None:
    piece = AudioPiece(pcm=bytes(2 * round(seconds * 16000)), sample_rate=16000)
    if speech:
        check_speech(text, piece, engine="odd", voice="x")
    else:
        with pytest.raises(PermanentEngineError):
            check_speech(text, piece, engine="odd", voice="x")


def test_a_short_text_with_short_audio_is_spoken() -> None:
    output = synthesize_text("Hi.", engine=OddEngine([16000], samples=16), voice="x")
    assert output.num_samples == 16


def test_timings_as_dicts() -> None:
    output = synthesize_text("One. Two.", engine=FakeEngine(), voice="alpha")
    assert output.timings() == [
        {"start": 0.0, "end": 0.34, "char_start": 0, "char_end": 4},
        {"start": 0.34, "end": 0.58, "char_start": 5, "char_end": 9},
    ]


_words = st.sampled_from(["Dr.", "word", "3.14", "e.g.", "Yes!", "no?", "...", "—", "\n\n", "x"])


@settings(max_examples=60, deadline=None, database=None)
@given(
    words=st.lists(_words, min_size=1, max_size=60),
    by_sentence=st.booleans(),
    max_chars=st.integers(5, 80),
)
def test_timings_always_tile_and_map_to_sentences(
    words: list[str], by_sentence: bool, max_chars: int
) -> None:
    text = " ".join(words)
    engine = FakeEngine(
        ms_per_char=5, min_ms=0, chunk_by_sentence=by_sentence, max_chunk_chars=max_chars
    )
    try:
        output = synthesize_text(text, engine=engine, voice="beta")
    except NoSpeakableText:
        assert not split_sentences(normalize_for_speech(text))
        return
    assert_timings_tile(output)
    assert_ranges_index_the_original(output, text)


def test_piper_end_to_end() -> None:
    text = "Hello there. This is Pagecast, reading a page aloud."
    output = synthesize_text(
        text,
        engine=PiperEngine(threads=2),
        voice="en_US-joe-medium",
        language="en-US",
    )
    assert output.sample_rate == 22050
    assert 1.5 < output.duration_seconds < 8
    assert len(output.sentences) == 2
    assert_timings_tile(output)
    assert_ranges_index_the_original(output, text)
    assert highlighted(output, text) == spoken(output)  # plain prose: the same characters
    assert output.mp3[:2] in (b"\xff\xf3", b"\xff\xf2")


# --------------------------------------------------------------------------- offsets

LONG_HASH = "3f2a9c" * 11


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Read https://www.example.com/a/b?c=1&d=2, then stop. Next.",
            ["Read https://www.example.com/a/b?c=1&d=2, then stop.", "Next."],
        ),
        ("See https://example.com/x", ["See https://example.com/x"]),
        ("I love it 😀. Next one 👍🏽!", ["I love it 😀.", "Next one 👍🏽!"]),
        ("Done.😀 Next.", ["Done.", "Next."]),
        ("Salt & pepper. More.", ["Salt & pepper.", "More."]),
        ("Fish &amp; chips. Yes.", ["Fish &amp; chips.", "Yes."]),
        ("It rose 50%. Then fell.", ["It rose 50%.", "Then fell."]),
        ("It is 20°C. Warm.", ["It is 20°C.", "Warm."]),
        ("<p>Hello there.</p>\n<p>Next one.</p>", ["Hello there.", "Next one."]),
        ("A [link](http://x.com). Next [12].", ["A [link](http://x.com).", "Next [12]."]),
        (
            "one\x00\x07 two.\tthree\r\nfour\u200b five.",
            ["one\x00\x07 two.", "three\r\nfour\u200b five."],
        ),
        (
            "  \r\n Leading and trailing.  Second.\r\n\r\n  ",
            ["Leading and trailing.", "Second."],
        ),
        ("First.\r\n\r\nSecond line\r\ngoes on.\r\n", ["First.", "Second line\r\ngoes on."]),
        (
            "See /usr/local/lib/python3.11/site-packages/piper/voice.py now. Bye.",
            ["See /usr/local/lib/python3.11/site-packages/piper/voice.py now.", "Bye."],
        ),
        (f"Hash {LONG_HASH} here. Done.", [f"Hash {LONG_HASH} here.", "Done."]),
        ("Title\u2026 And more\u2026 \ufb01ne.", ["Title\u2026", "And more\u2026 \ufb01ne."]),
    ],
    ids=[
        "url",
        "url-at-end",
        "emoji",
        "emoji-between",
        "ampersand",
        "entity",
        "percent",
        "degrees",
        "markup",
        "markdown",
        "control",
        "whitespace",
        "crlf",
        "path",
        "hash",
        "nfkc",
    ],
)
def test_offsets_index_the_original_text(text: str, expected: list[str]) -> None:
    output = synthesize_text(text, engine=FakeEngine(), voice="alpha")
    assert highlighted(output, text) == expected
    assert_ranges_index_the_original(output, text)
    assert_timings_tile(output)


def test_streamed_offsets_index_the_original_text_too() -> None:
    streamed = [
        timing
        for part in iter_synthesis(TEXT, engine=FakeEngine(), voice="alpha")
        for timing in part.sentences
    ]
    assert streamed == synthesize_text(TEXT, engine=FakeEngine(), voice="alpha").sentences
    assert TEXT[streamed[3].char_start : streamed[3].char_end].startswith("See https://")


_prose_words = st.sampled_from(
    [
        *["The", "cat", "sat", "on", "a", "mat"],
        *["down.", "Dr.", "Smith", "e.g.", "3.14", "U.S.", "it's", '"Really?"', "well,"],
        *["Yes!", "no?", "Wait...", "(aside)", "naïve", "café", "über", "end."],
    ]
)
_prose_gaps = st.sampled_from([" ", " ", " ", "\n", "\n\n"])
_edges = st.sampled_from(["", " ", "\n", "\n\n  "])


@settings(max_examples=80, deadline=None, database=None)
@given(
    words=st.lists(st.tuples(_prose_words, _prose_gaps), min_size=1, max_size=40),
    lead=_edges,
    trail=_edges,
    by_sentence=st.booleans(),
)
def test_plain_prose_ranges_are_the_sentences(
    words: list[tuple[str, str]], lead: str, trail: str, by_sentence: bool
) -> None:
    text = lead + "".join(word + gap for word, gap in words) + trail
    assert normalize_for_speech(text) == text.strip()  # nothing to replace: plain prose
    engine = FakeEngine(ms_per_char=5, min_ms=0, chunk_by_sentence=by_sentence)
    output = synthesize_text(text, engine=engine, voice="alpha")
    assert highlighted(output, text) == spoken(output)
    assert_ranges_index_the_original(output, text)


_junk = st.sampled_from(
    [
        *" .,;:!?\n<>/&%°@'\"…—-|#*_~[](){}",
        *[
            "\n\n",
            "\r\n",
            "\t",
            "Dr.",
            "e.g.",
            "3.14",
            "...",
            "Word",
            "next",
            "x",
            "Yes! ",
            "Stop. ",
            "Why? ",
        ],
        *["<speak>", "</p>", "<br>", "&amp;", "&lt;", "https://example.com/a?b=1", "www.x.org."],
        *[
            "😀",
            "👍🏽",
            "👨\u200d👩\u200d👧",
            "\u200b",
            "\x00",
            "\x1b[31m",
            "\ud83d\ude00",
            "\ud800",
        ],
        *[
            "™",
            "\ufb01",
            "\uff21",
            "e\u0301",
            "²",
            "→",
            "•",
            "- ",
            "# ",
            "=====",
            "--",
            "[12]",
            "x < 5",
        ],
        *["[link](http://x.com)", "a" * 45, LONG_HASH, "/usr/local/lib/python3.11/x.py"],
    ]
)


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    parts=st.lists(st.one_of(_junk, _junk, st.characters(codec="utf-8")), max_size=60),
    by_sentence=st.booleans(),
)
# A link run into the next word: its spoken form once split into two sentences.
@example(parts=["www.x.org.Wordwww.x.org./"], by_sentence=False)
def test_ranges_stay_ordered_inside_the_original(parts: list[str], by_sentence: bool) -> None:
    text = "".join(parts)
    engine = FakeEngine(ms_per_char=5, min_ms=0, chunk_by_sentence=by_sentence, max_chunk_chars=50)
    try:
        output = synthesize_text(text, engine=engine, voice="alpha")
    except NoSpeakableText:
        return
    assert_ranges_index_the_original(output, text)
    assert_timings_tile(output)


_urls = st.sampled_from(
    [
        "https://example.com/x",
        "http://www.test.org/a?b=1&c=2",
        "www.example.co.uk/path",
        "https://sub.example.com",
    ]
)


@settings(max_examples=60, deadline=None, database=None)
@given(
    words=st.lists(_prose_words, min_size=1, max_size=20),
    at=st.integers(0, 20),
    url=_urls,
    after=st.sampled_from(["", ".", ",", "!", ")"]),
)
def test_the_range_of_a_sentence_covers_its_url(
    words: list[str], at: int, url: str, after: str
) -> None:
    at = min(at, len(words))
    text = " ".join([*words[:at], url + after, *words[at:]])
    url_start = text.index(url)
    output = synthesize_text(text, engine=FakeEngine(ms_per_char=5, min_ms=0), voice="alpha")
    containing = [t for t in output.sentences if t.char_start <= url_start < t.char_end]
    assert len(containing) == 1
    assert containing[0].char_end >= url_start + len(url)
    assert_ranges_index_the_original(output, text)
