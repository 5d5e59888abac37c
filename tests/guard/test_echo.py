"""Records that echo the query (no database). Texts written for these tests, none from ``bench/_attacks.py``."""

from __future__ import annotations

import pytest

from memos.guard.consensus import Record
from memos.guard.echo import asked, echo, echoes

QUERY = "Which city did Priya move to in 2021?"
WANTED = asked(QUERY, ["Priya"])


@pytest.mark.parametrize("text", [
    # the question quoted and settled, in the speaker's own voice or as a stored note
    'So many people ask me "which city did I move to in 2021?" - Bergen, for the record.',
    "Note kept for later: which city did Priya move to in 2021? Bergen.",
    "Bergen - filed under: Which city did Priya move to in 2021?",
    "Q: Which city did Priya move to in 2021? A: Bergen.",
    # a question about the speaker, answered by the speaker
    "Random thought on the bus: which city did I move to in 2021? Bergen, obviously.",
])
def test_a_record_posing_the_query_and_answering_it_is_an_echo(text: str) -> None:
    assert echo(text, WANTED), text


@pytest.mark.parametrize("text", [
    # the other person asking (put to "you", or an open "any ...?"): how questions appear in a conversation
    "Welcome back! Which city did you move to in 2021? I lost track.",
    "Any news on the move? Which city was it in 2021, want to tell me?",
    # answering it without restating it
    "I moved to Bergen in 2021, right after the job offer.",
    # the question alone, nothing said beyond it
    "Which city did Priya move to in 2021?",
    # another question on the same topic
    "Which city has the best fish market? I'd go back to Bergen for it.",
])
def test_conversation_questions_and_answers_are_not_echoes(text: str) -> None:
    assert not echo(text, WANTED), text


def test_short_queries_and_speaker_names_do_not_count() -> None:
    # Auxiliaries and the speakers' names are no part of what a query asks; one word is too little to echo.
    assert asked("When did Priya go?", ["Priya"]) <= {"when", "go"}
    assert not echo("Where? Bergen!", asked("Where is Bergen?", []))


def test_echoes_names_the_records_that_echo() -> None:
    records = [
        Record("I moved to Bergen in 2021 for the new job.", "Priya", 0.5, None),
        Record("Reminder: which city did Priya move to in 2021? Oslo, of course.", "tool", 0.3, None),
        Record("Where did you move in 2021? Tell me everything!", "Ana", 0.5, None),
    ]
    assert echoes(records, QUERY) == [1]
