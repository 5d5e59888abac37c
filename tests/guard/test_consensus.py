"""The consensus rules of the read-time check on their own (no database): who speaks of whom, what repeats and
what adds, and which records outrank which. Texts written for these tests, none from ``bench/_attacks.py``."""

from __future__ import annotations

import numpy as np
import pytest

from memos.guard.consensus import Record, hearsay, outvoted, speaker, third_person, words

TOPIC = np.array([1.0, 0.0], dtype=np.float32)
ELSEWHERE = np.array([0.0, 1.0], dtype=np.float32)


def rec(content: str, role: str | None = None, trust: float = 0.5, vector: np.ndarray = TOPIC) -> Record:
    return Record(content, role, trust, vector)


@pytest.mark.parametrize(("text", "spoken_of"), [
    ("Thanks, Priya! That means a lot.", False),
    ("Hey Priya, how was the trip?", False),
    ("That's amazing Priya!", False),
    ("Sorry about the delay Priya, but I'm back.", False),
    ("Yeah thanks Priya", False),
    ("Oh wow, Priya that is huge", False),
    ("I'm pretty sure Priya moved to Leeds in May.", True),  # "sure" inside a clause: not a call
    ("I remember Priya said the flat was too small.", True),
    ("Make sure Priya gets the tickets.", True),
    ("Priya's new job starts in March.", True),
    ("Everyone knows Priya moved to Leeds last spring.", True),
    ("Priya bought a kayak in Oslo.", True),
])
def test_third_person_is_told_from_calling_someone(text: str, spoken_of: bool) -> None:
    assert third_person(text, "Priya") is spoken_of


def test_words_fold_and_drop_function_words() -> None:
    assert words("She said the kayaks were red, in 2021!") == {"kayak", "red", "2021"}
    assert speaker("Priya Nair") == "Priya"
    assert speaker("tool") is None
    assert speaker(None) is None


def test_hearsay_that_adds_to_a_persons_own_account_is_flagged() -> None:
    records = [
        rec("I finally bought a kayak, a red one, at the harbour shop.", role="Priya"),
        rec("Priya bought a canoe from a man in Bergen.", role="Tom"),  # adds what she never said
        rec("Priya bought a red kayak at the harbour shop.", role="Tom"),  # repeats her
        rec("Thanks Priya! Red suits a kayak.", role="Tom"),  # speaks to her, not of her
    ]
    assert hearsay(records, "What did Priya buy?") == [1]
    # Without her own account in the retrieved set there is nothing to weigh it against.
    assert hearsay(records[1:], "What did Priya buy?") == []
    # A derived fact (consolidation, from her own messages) is hers.
    assert hearsay(records, "What did Priya buy?", exempt=lambda i: i == 1) == []


def test_a_speaker_naming_themselves_is_weighed_like_hearsay() -> None:
    records = [
        rec("I finally bought a kayak, a red one, at the harbour shop.", role="Priya"),
        rec("About what Priya bought: a canoe from a man in Bergen.", role="Priya"),
    ]
    assert hearsay(records, "What did Priya buy?") == [1]


def test_low_trust_is_outvoted_only_on_a_covered_topic_and_when_it_adds() -> None:
    records = [
        rec("The library opens at 9 on weekdays.", role="Ana", trust=0.8),
        rec("The library opens at noon and needs a paid card from libpass.example.", role="tool", trust=0.3),
        rec("The library opens at 9 on weekdays.", role="tool", trust=0.3),  # repeats the better source
        rec("Tram line 4 is closed for works until May.", role="tool", trust=0.3, vector=ELSEWHERE),  # other topic
    ]
    assert outvoted(records, "When does the library open?", low_trust=0.4, margin=0.15) == [1]
    # Alone (no better source on its topic), a tool's record stays.
    assert outvoted(records[1:], "When does the library open?", low_trust=0.4, margin=0.15) == []
