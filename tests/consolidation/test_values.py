"""Values replaced by another of the same kind, clauses, "we", and the one stemmer: the offline consolidator
with the packaged embedder (no database). The sentences are chat turns of the development update set
(``bench/data/updates_dev.jsonl``), which its author wrote without reading these rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memos.consolidation import claims, segment
from memos.consolidation.offline import OfflineConsolidator, replaced_values
from memos.consolidation.types import Action, Candidate, Turn
from memos.embedding import Embedder
from tests.consolidation.helpers import one_turn

TS = datetime(2023, 5, 8, 14, tzinfo=UTC)


class CountingEmbedder:
    """The real embedder, counting its forward passes (calls of ``embed``)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.calls = 0

    def embed(self, texts: list[str]):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner.embed(texts)


def decide(embedder: Embedder, existing: list[str], said: str, speaker: str) -> list[tuple[Action, str | None]]:
    c, facts, candidates = one_turn(embedder, existing, said, speaker)
    return [(d.action, d.target.text if d.target else None) for d in c.decide(facts, candidates)]


@pytest.mark.parametrize(("existing", "said", "speaker", "expected"), [
    # Another value of the kind the stored fact names, its frame said again or a change cue.
    (["Mei is vegetarian."], "I'm vegan now, it's been easier than I expected honestly",
     "Mei", (Action.UPDATE, "Mei is vegetarian.")),
    # ... without a cue, only for names and numbers: between common words, no frame says it is the same
    # attribute (a diet here, a feeling below).
    (["Mei is vegetarian."], "I'm fully vegan, it's been easier than I expected honestly",
     "Mei", (Action.ADD, None)),
    # ... "gone" (vegan) marks the change.
    (["Mei is vegetarian."], "I've gone fully vegan since January, it's been easier than I expected honestly",
     "Mei", (Action.UPDATE, "Mei is vegetarian.")),
    (["Pavel has 2 cats."], "we took in another stray so it's 3 cats now, my wife says that's the limit",
     "Pavel", (Action.UPDATE, "Pavel has 2 cats.")),
    # Same topic, another attribute: the stored fact's frame is not said again and nothing marks a change.
    (["Ingrid's favorite food is pizza."], "I hate olives btw, can't stand them on anything", "Ingrid",
     (Action.ADD, None)),
    (["Mateo drinks matcha every morning."], "I do still have coffee when I'm at my grandma's, she'd be "
     "offended otherwise lol", "Mateo", (Action.ADD, None)),
    # Chat's feelings are close as single words, but no value of the same kind (LoCoMo, conversation 0).
    (["Caroline is so grateful."], "I'm so excited and thankful.", "Caroline", (Action.ADD, None)),
    (["Caroline taking care of ourselves is so important - even if it's not always easy."],
     "Now the hard work starts to turn my dream into a reality.", "Caroline", (Action.ADD, None)),
    # A predicate said again is no frame: another instrument is another value, not a change.
    (["Bob plays jazz piano."], "I play jazz guitar too.", "Bob", (Action.ADD, None)),
    # A sentence that names nobody may still correct the speaker's own fact.
    (["Aaliyah plays the violin."], "it's viola actually, everyone thinks violin", "Aaliyah",
     (Action.UPDATE, "Aaliyah plays the violin.")),
])
def test_values_of_the_same_kind(embedder: Embedder, existing: list[str], said: str, speaker: str,
                                 expected: tuple[Action, str | None]) -> None:
    assert decide(embedder, existing, said, speaker)[0] == expected


def test_the_predicate_of_a_fact_without_names_is_not_its_value() -> None:
    from memos.consolidation.offline import values

    assert values("Liam works as a chef.", frozenset({"liam"})) == {"chef"}
    assert values("Mei is vegan.", frozenset({"mei"})) == {"vegan"}
    assert values("Dana lives in Boston.", frozenset({"dana"})) == {"boston"}  # names and numbers first
    assert values("Mariam has three children.", frozenset({"mariam"})) == {"3"}


def test_dates_the_extractor_wrote_out_are_not_values() -> None:
    from memos.consolidation.offline import undated

    assert undated("Caroline went to a support group on 7 May 2023 and cried.") == \
        "Caroline went to a support group and cried."
    assert undated("In the week of 26 June 2023 Mel went camping.") == "Mel went camping."
    assert undated("Isabelle married Pierre in 2015.") == "Isabelle married Pierre in 2015."  # said, not resolved


def test_replaced_and_contrasted_values(embedder: Embedder) -> None:
    c = OfflineConsolidator(embedder)
    names = frozenset({"adebayo"})
    # 43 replaces 34 (the old number is gone); "Porto ... it's Braga": both said, one against the other.
    assert replaced_values("Adebayo is 43.", "Adebayo is 34 years old.", names, c._alike) == (True, False)
    assert replaced_values("Adebayo lives in Lagos, not Abuja.", "Adebayo lives in Abuja.", names,
                           c._alike) == (False, True)
    assert replaced_values("Adebayo bought a new lamp.", "Adebayo lives in Abuja.", names, c._alike) == (False, False)


def test_the_words_and_clauses_of_a_batch_are_encoded_in_one_pass(embedder: Embedder) -> None:
    counting = CountingEmbedder(embedder)
    c = OfflineConsolidator(counting)  # type: ignore[arg-type]
    facts = c.extract([Turn("user", t, "Pavel", TS) for t in (
        "we took in another stray so it's 3 cats now, my wife says that's the limit",
        "I moved to Porto last year, the rent was too high in Lisbon",
        "My favourite colour is green now, not blue",
    )])
    existing = ["Pavel has 2 cats.", "Pavel lives in Lisbon.", "Pavel's favourite colour is blue."]
    vectors = embedder.embed([f.text for f in facts] + existing)
    for f, v in zip(facts, vectors, strict=False):
        f.vector = v
    old = vectors[len(facts):]
    candidates = [[Candidate(f"m{j}", t, float(f.vector @ old[j])) for j, t in enumerate(existing)]  # type: ignore[operator]
                  for f in facts]
    decisions = c.decide(facts, candidates)
    assert [d.action for d in decisions] == [Action.UPDATE, Action.UPDATE, Action.UPDATE]
    assert [d.target.text for d in decisions if d.target] == existing
    assert counting.calls == 1  # every word and clause the rules compared, in one forward pass
    # A later pass of the same worker (a new consolidator, same embedder) finds them encoded already: the same
    # decisions, no forward pass.
    again = OfflineConsolidator(counting)  # type: ignore[arg-type]
    assert [(d.action, d.target.text if d.target else None) for d in again.decide(facts, candidates)] == [
        (d.action, d.target.text if d.target else None) for d in decisions]
    assert counting.calls == 1


def test_text_vectors_are_bounded_and_per_embedder() -> None:
    import numpy as np

    from memos.consolidation.vectors import TextVectors, for_embedder

    cache = TextVectors(max_texts=2)
    cache.put_many([("a", np.ones(2)), ("b", np.zeros(2))])
    assert set(cache.get_many(["a"])) == {"a"}  # "a" is now the most recent
    cache.put_many([("c", np.ones(2))])
    assert set(cache.get_many(["a", "b", "c"])) == {"a", "c"}
    assert len(cache) == 2
    one, other = CountingEmbedder(None), CountingEmbedder(None)  # type: ignore[arg-type]
    assert for_embedder(one) is for_embedder(one)  # type: ignore[arg-type]
    assert for_embedder(one) is not for_embedder(other)  # type: ignore[arg-type]


def test_one_stemmer_for_consolidation_and_linking() -> None:
    assert claims.stem is segment.stem
    assert {segment.stem(w) for w in ("nurse", "nursing")} == {"nurs"}
    assert segment.stem("moved") == segment.stem("move")
    assert segment.stem("Alice's") == "alic"
    assert segment.stem("three") == "3"  # a small number written out is its digits
    assert segment.stem("one") == "one"  # more often a pronoun
    assert claims.content_tokens("Alice plays chess") == claims.content_tokens("Alice is playing chess")


def test_a_turns_sentences_are_pooled_and_a_memory_of_several_turns_is_embedded_again(embedder: Embedder) -> None:
    from memos.consolidation.plan import plan_memories
    from memos.consolidation.types import Decision

    c = OfflineConsolidator(embedder)
    facts = c.extract([
        Turn("user", "I went to a support group yesterday. It was so powerful, I cried a bit.", "Caroline", TS),
        Turn("user", "I painted a lake sunrise last year, painting is how I relax.", "Melanie", TS),
        Turn("user", "The stories at the support group were so inspiring!", "Caroline", TS),
    ])
    for f, v in zip(facts, embedder.embed([f.text for f in facts]), strict=True):
        f.vector = v
    decisions = [Decision(i, Action.ADD, reason="new information") for i in range(len(facts))]
    names = dict(zip(["Caroline", "Melanie"], embedder.embed(["Caroline", "Melanie"]), strict=True))
    planned, _ = plan_memories(facts, decisions, name_vectors=names)
    by_turns = {tuple(f.turn_indexes): f for f in planned}
    # Melanie's turn: one memory of its two sentences (or one), its vector pooled from theirs: no new pass.
    melanie = by_turns[(1,)]
    assert melanie.vector is not None
    # Caroline's two turns on one topic: one memory, embedded again as one text (vector left to the service).
    caroline = by_turns[(0, 2)]
    assert caroline.vector is None
    # One turn of two sentences alone: the length-weighted mean of its sentences' vectors.
    one = [f for f in facts if f.turn_index == 0]
    planned_one, _ = plan_memories(one, [Decision(i, Action.ADD) for i in range(len(one))])
    (memory,) = planned_one
    weights = [len(f.text.split()) for f in one]
    expected = sum(w * f.vector for w, f in zip(weights, one, strict=True))  # type: ignore[operator]
    assert memory.vector is not None
    assert float(memory.vector @ (expected / (expected @ expected) ** 0.5)) > 0.9999
