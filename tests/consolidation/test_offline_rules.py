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
        (["Alice works at Acme.", "Alice lives in Paris."], "I no longer work at Acme.", Action.DELETE,
         "Alice works at Acme."),
        (["Alice likes tea."], "I don't like tea anymore.", Action.DELETE, "Alice likes tea."),
        (["Alice works at Google."], "I quit my job at Google.", Action.DELETE, "Alice works at Google."),
        (["Alice lives in Paris."], "I have a dog named Rex.", Action.ADD, None),
        (["Alice likes tea."], "I love jazz.", Action.ADD, None),  # liking is not single-valued
        (["Bob lives in Denver."], "I live in Berlin.", Action.ADD, None),  # another subject
        # Events keep their dates: the same run said again is NOOP, another Sunday's run is a new one.
        (["Alice ran a half marathon on 7 May 2023."], "I ran a half marathon yesterday.", Action.NOOP,
         "Alice ran a half marathon on 7 May 2023."),
        (["Alice ran a half marathon on 19 March 2023."], "I ran a half marathon last Sunday.", Action.ADD, None),
        (["Alice works at Soylent."], "I'm not working at Soylent anymore.", Action.DELETE, "Alice works at Soylent."),
        (["Alice works at Acme."], "I got laid off from Acme.", Action.DELETE, "Alice works at Acme."),
        (["Alice lives in Paris."], "Home for me is Berlin now.", Action.UPDATE, "Alice lives in Paris."),
        (["Alice lives in Paris."], "I'm in Berlin now.", Action.UPDATE, "Alice lives in Paris."),
        (["Alice's favourite food is sushi."], "Ramen is my new favourite food.", Action.UPDATE,
         "Alice's favourite food is sushi."),
        (["Alice likes jazz."], "I'm in a band.", Action.ADD, None),  # "is in" + no place: not a residence
    ],
)
def test_decisions(embedder: Embedder, existing: list[str], said: str, expected: Action,
                   target: str | None) -> None:
    assert decide(embedder, existing, said) == (expected, target)


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
