"""Read-along: sentence timings from engine marks, the timings endpoint and its WebVTT form."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import pytest
from rest_framework.test import APIClient

from document_processing.models import Page
from document_processing.services import update_page
from document_processing.tests.factories import document_with_pages
from sharing.models import DocumentShare
from speech_processing import services
from speech_processing.engines.base import AudioPiece, SpeechMark, Voice
from speech_processing.models import Audio
from speech_processing.synthesis import PauseOptions, synthesize_text
from speech_processing.tests.factories import AudioFactory
from speech_processing.timings import timestamp
from users.models import User

Capture = Callable[..., AbstractContextManager[Any]]

NO_PAUSES = PauseOptions(sentence=0, paragraph=0, clause=0)
RATE = 16000


class MarkingEngine:
    """Packs sentences (as Polly does) and reports marks where the test says; 1 s per call."""

    name: ClassVar[str] = "marking"
    max_chunk_chars = 500
    chunk_by_sentence = False

    def __init__(self, marks_for: dict[str, list[tuple[str, float]]]) -> None:
        # text of a call -> [(the text a mark points at, seconds)]
        self.marks_for = marks_for

    def voices(self) -> list[Voice]:
        return [Voice(id="marking:one", engine="marking", name="one", language="en", gender="")]

    def synthesize(self, text: str, *, voice: str) -> AudioPiece:
        marks = tuple(
            SpeechMark(char=text.index(anchor), seconds=seconds)
            for anchor, seconds in self.marks_for.get(text, [])
        )
        return AudioPiece(pcm=bytes(2 * RATE), sample_rate=RATE, marks=marks)


TEXT = "A short one. Then a much longer sentence follows here. End."


def starts(text: str, engine: MarkingEngine) -> list[float]:
    output = synthesize_text(text, engine=engine, voice="one", pauses=NO_PAUSES)
    assert output.duration_seconds == pytest.approx(1.0)
    return [timing.start for timing in output.sentences]


def test_without_marks_time_is_shared_by_characters() -> None:
    shares = starts(TEXT, MarkingEngine({}))
    assert shares[0] == 0.0
    assert shares[1] == pytest.approx(
        len("A short one.") / len(TEXT.replace(" ", "")) * 1, abs=0.05
    )


def test_marks_on_sentence_starts_give_exact_starts() -> None:
    engine = MarkingEngine({TEXT: [("A short", 0.0), ("Then", 0.6), ("End.", 0.85)]})
    assert starts(TEXT, engine) == [0.0, 0.6, 0.85]


def test_a_sentence_without_its_own_mark_is_placed_between_the_marks_around_it() -> None:
    # The engine saw one sentence where we see two: "Then ... here." has no mark of its own.
    engine = MarkingEngine({TEXT: [("A short", 0.0), ("End.", 0.8)]})
    first, second, third = starts(TEXT, engine)
    assert (first, third) == (0.0, 0.8)
    # "Then" starts 13 characters into the 55 before "End.": 13/55 of the way to 0.8 s.
    expected = 0.8 * TEXT.index("Then") / TEXT.index("End.")
    assert second == pytest.approx(expected, abs=0.001)


def test_marks_out_of_order_or_beyond_the_audio_are_ignored() -> None:
    engine = MarkingEngine({TEXT: [("Then", 0.7), ("End.", 0.5)]})  # "End." before "Then"
    _first, second, third = starts(TEXT, engine)
    assert second == pytest.approx(0.7)
    # "End." falls back to the share between the mark at "Then" and the end of the audio.
    between = TEXT.index("End.") - TEXT.index("Then")
    expected = 0.7 + 0.3 * between / (len(TEXT) - TEXT.index("Then"))
    assert third == pytest.approx(expected, abs=0.001)
    beyond = MarkingEngine({TEXT: [("Then", 5.0)]})
    assert starts(TEXT, beyond) == starts(TEXT, MarkingEngine({}))


# --------------------------------------------------------------------------- the endpoint

SPOKEN = "First sentence here. Second <one> & more follows!\n\nThird --> last?"


@pytest.fixture
def made(alice: User, django_capture_on_commit_callbacks: Capture) -> Audio:
    page = document_with_pages(owner=alice, pages=1).pages.get()
    Page.objects.filter(pk=page.pk).update(text=SPOKEN)
    with django_capture_on_commit_callbacks(execute=True):
        audio = services.create_audio_record(
            page=Page.objects.get(pk=page.pk), voice="fake:alpha", user=alice
        )
    audio.refresh_from_db()
    assert audio.status == Audio.Status.COMPLETED
    return audio


def test_timings_are_served_as_json_and_index_the_page_text(
    alice_client: APIClient, made: Audio
) -> None:
    response = alice_client.get(f"/api/v1/audios/{made.pk}/timings/")
    assert response.status_code == 200
    rows = response.json()
    assert [SPOKEN[row["char_start"] : row["char_end"]] for row in rows] == [
        "First sentence here.", "Second <one> & more follows!", "Third --> last?",
    ]  # fmt: skip
    assert rows[0]["start"] == 0.0
    assert rows[-1]["end"] == pytest.approx(made.duration_seconds, abs=0.01)
    assert all(set(row) == {"start", "end", "char_start", "char_end"} for row in rows)
    page = alice_client.get(f"/api/v1/pages/{made.page_id}/").json()
    assert page["text"] == SPOKEN  # the offsets index the `text` the page API returns


def test_timings_as_webvtt(alice_client: APIClient, made: Audio) -> None:
    response = alice_client.get(f"/api/v1/audios/{made.pk}/timings/?format=vtt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/vtt; charset=utf-8"
    body = response.content.decode()
    cues = body.split("\n\n")
    assert cues[0] == "WEBVTT"
    first = made.timings[1]
    assert (
        cues[1] == f"1\n00:00:00.000 --> {timestamp(made.timings[0]['end'])}\nFirst sentence here."
    )
    assert cues[2] == (
        f"2\n{timestamp(first['start'])} --> {timestamp(first['end'])}\n"
        "Second &lt;one&gt; &amp; more follows!"
    )
    assert cues[3].endswith("\nThird --&gt; last?\n")  # no stray "-->" inside a cue text
    assert body.count("-->") == 3
    # Asking by Accept header works too.
    assert (
        alice_client.get(f"/api/v1/audios/{made.pk}/timings/", HTTP_ACCEPT="text/vtt").content
        == response.content
    )


def test_timestamps() -> None:
    assert timestamp(0) == "00:00:00.000"
    assert timestamp(61.2345) == "00:01:01.234"
    assert timestamp(3723.5) == "01:02:03.500"
    assert timestamp(-1) == "00:00:00.000"


def test_errors_are_the_envelope_whatever_format_was_asked(
    alice_client: APIClient, charlie_client: APIClient, anon_client: APIClient, made: Audio
) -> None:
    for client, status in ((charlie_client, 404), (anon_client, 401)):
        response = client.get(f"/api/v1/audios/{made.pk}/timings/?format=vtt")
        assert response.status_code == status
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"]["code"]
    unknown = alice_client.get(f"/api/v1/audios/{made.pk}/timings/?format=srt")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"


def test_an_edited_page_has_no_timings_for_its_old_audio_and_no_error_either(
    alice: User, alice_client: APIClient, made: Audio
) -> None:
    assert alice_client.get(f"/api/v1/audios/{made.pk}/timings/").json() != []
    update_page(user=alice, page=made.page, markdown="Something else entirely.")
    # Every load of an outdated audio answers normally: it plays, without highlighting.
    for _load in range(2):
        response = alice_client.get(f"/api/v1/audios/{made.pk}/timings/")
        assert response.status_code == 200
        assert response.json() == []
    vtt = alice_client.get(f"/api/v1/audios/{made.pk}/timings/?format=vtt")
    assert vtt.status_code == 200
    assert vtt.content.decode().strip() == "WEBVTT"
    audio = alice_client.get(f"/api/v1/audios/{made.pk}/").json()
    assert audio["outdated"] is True


def test_deleted_and_failed_audio_have_no_timings(
    alice: User, alice_client: APIClient, made: Audio
) -> None:
    failed = AudioFactory.create(page=made.page, voice="fake:beta", status=Audio.Status.FAILED)
    assert alice_client.get(f"/api/v1/audios/{failed.pk}/timings/").status_code == 409
    services.delete_audio(user=alice, audio=made)
    assert alice_client.get(f"/api/v1/audios/{made.pk}/timings/").status_code == 404


def test_audio_being_made_serves_the_sentences_finished_so_far(
    alice_client: APIClient, made: Audio
) -> None:
    Audio.objects.filter(pk=made.pk).update(
        status=Audio.Status.GENERATING, timings=made.timings[:1]
    )
    rows = alice_client.get(f"/api/v1/audios/{made.pk}/timings/").json()
    assert rows == made.timings[:1]


def test_people_it_is_shared_with_read_along(
    alice: User, bob: User, bob_client: APIClient, made: Audio
) -> None:
    DocumentShare.objects.create(
        document=made.page.document, shared_with=bob, permission="view_only", shared_by=alice
    )
    assert bob_client.get(f"/api/v1/audios/{made.pk}/timings/").json() == made.timings
