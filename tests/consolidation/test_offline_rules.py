"""The offline consolidator's decisions, each type, on real embeddings (no database)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memos.consolidation.offline import OfflineConsolidator
from memos.consolidation.types import Action, Candidate, Fact, Turn
from memos.embedding import Embedder

TS = datetime(2023, 5, 8, 14, tzinfo=UTC)


def decide(embedder: Embedder, existing: list[str], said: str, speaker: str = "Alice") -> tuple[Action, str | None]:
    c = OfflineConsolidator()
    (fact,) = c.extract([Turn("user", said, speaker, TS)])
    vectors = embedder.embed([fact.text, *existing])
    fact.vector = vectors[0]
    candidates = [Candidate(f"m{i}", text, float(vectors[0] @ vectors[i + 1])) for i, text in enumerate(existing)]
    (decision,) = c.decide([fact], [candidates])
    return decision.action, decision.target.text if decision.target else None


@pytest.mark.parametrize(
    ("existing", "said", "expected", "target"),
    [
        (["Alice lives in Paris."], "I'm based in Paris these days.", Action.NOOP, "Alice lives in Paris."),
        (["Alice works at Acme."], "As I said, I work at Acme.", Action.NOOP, "Alice works at Acme."),
        (["Alice lives in Paris."], "I live in Berlin now.", Action.UPDATE, "Alice lives in Paris."),
        (["Alice's favourite color is blue."], "My favourite color is now green.", Action.UPDATE,
         "Alice's favourite color is blue."),
        # Retractions supersede too (the retraction is the fact valid now).
        (["Alice works at Acme.", "Alice lives in Paris."], "I no longer work at Acme.", Action.UPDATE,
         "Alice works at Acme."),
        (["Alice likes tea."], "I don't like tea anymore.", Action.UPDATE, "Alice likes tea."),
        (["Alice works at Google."], "I quit my job at Google.", Action.UPDATE, "Alice works at Google."),
        (["Alice works at Soylent."], "I'm not working at Soylent anymore.", Action.UPDATE, "Alice works at Soylent."),
        # Corrections: "X, not Y".
        (["Alice teaches math at Lincoln High."], "I teach physics, not math!", Action.UPDATE,
         "Alice teaches math at Lincoln High."),
        (["Alice lives in Paris."], "I have a dog named Rex.", Action.ADD, None),
        (["Alice likes tea."], "I love jazz.", Action.ADD, None),
        (["Bob lives in Denver."], "I live in Berlin.", Action.ADD, None),  # another subject
        # A relative of the speaker is not the speaker.
        (["Alice works as a nurse."], "My sister just became a nurse too!", Action.ADD, None),
        (["Alice lives in Osaka."], "My best friend Taro just moved to Tokyo.", Action.ADD, None),
        # A negation that is not about the stored fact: it says it again, with more (kept beside it).
        (["Alice lives in Toronto."], "Toronto winters are no joke, I'm still not used to it.", Action.ADD, None),
        (["Alice lives in Toronto."], "Yes, I still live in Toronto.", Action.NOOP, "Alice lives in Toronto."),
    ],
)
def test_decisions(embedder: Embedder, existing: list[str], said: str, expected: Action,
                   target: str | None) -> None:
    assert decide(embedder, existing, said) == (expected, target)


def test_a_close_fact_without_a_change_cue_is_added_and_may_update(embedder: Embedder) -> None:
    # An update that needs world knowledge (getting the puppy ends wanting a dog): close, a changed value,
    # no cue, no value of the same kind in its place.
    c = OfflineConsolidator(embedder)
    (fact,) = c.extract([Turn("user", "we got the puppy!!! a corgi named Biscuit, I'm obsessed", "Emma", TS)])
    fact.vector, old = embedder.embed([fact.text, "Emma wants a dog."])
    (d,) = c.decide([fact], [[Candidate("m1", "Emma wants a dog.", float(fact.vector @ old))]])
    assert (d.action, d.target) == (Action.ADD, None)
    assert d.may_update is not None
    assert d.may_update.text == "Emma wants a dog."


def test_a_batch_corrects_itself(embedder: Embedder) -> None:
    c = OfflineConsolidator()
    facts = c.extract([Turn("user", "I live in Paris.", "Alice", TS), Turn("user", "I live in Paris.", "Alice", TS),
                       Turn("user", "Actually I moved to Rome.", "Alice", TS)])
    for f, v in zip(facts, embedder.embed([f.text for f in facts]), strict=True):
        f.vector = v
    decisions = c.decide(facts, [[], [], []])
    assert [d.action for d in decisions] == [Action.ADD, Action.NOOP, Action.UPDATE]
    assert decisions[2].target is not None
    assert decisions[2].target.fact_index == 0


def test_extraction_resolves_speaker_and_dates() -> None:
    facts = OfflineConsolidator().extract([
        Turn("user", "Hey! I started a new job at Initech last week. Do you like it? Thanks", "Bea", TS),
        Turn("assistant", "Congratulations, that is great news.", None, TS),
    ])
    assert [f.text for f in facts] == ["Bea started a new job at Initech in the week of 1 May 2023."]
    assert facts[0].dates == [{"text": "last week", "date": "2023-05-01", "granularity": "week"}]
    assert isinstance(facts[0], Fact)


@pytest.mark.parametrize(("turn", "facts"), [
    ("Hi, I am Dana. I work as a nurse in Denver", ["Dana works as a nurse in Denver."]),
    ("Hey Mel! Good to see you! How have you been?", []),  # greetings and a question: content-free
    ("Thanks, Melanie! That's really sweet. Is this your own painting?", []),
    ("sold the corolla finally. got a tesla model 3!", ["Dana sold the corolla finally.", "Dana got a tesla model 3!"]),
    # After an adverb, and beside a possessive of the speaker ("my parents'"), the subject still comes back.
    ("finally moved out of my parents' place!!", ["Dana finally moved out of Dana's parents' place!!"]),
])
def test_extraction_segments_resolves_and_drops_content_free_turns(turn: str, facts: list[str]) -> None:
    got = OfflineConsolidator().extract([Turn("user", turn, "Dana", TS)])
    assert [f.text for f in got] == facts
