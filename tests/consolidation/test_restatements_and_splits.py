"""A restatement with chat around it, a correction cue, and an update said beside another fact: the offline
consolidator with the packaged embedder (no database), then ``plan_memories``. The sentences are chat turns
of the development update set (``bench/data/updates_dev.jsonl``), written without reading these rules, and
sentences written for these tests."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memos.consolidation.extract import implicit_subject, resolve_speaker
from memos.consolidation.offline import OfflineConsolidator
from memos.consolidation.plan import plan_memories
from memos.consolidation.types import Action, Turn
from memos.embedding import Embedder
from tests.consolidation.helpers import one_turn

TS = datetime(2023, 5, 8, 14, tzinfo=UTC)


def planned(embedder: Embedder, existing: list[str], said: str, speaker: str
            ) -> list[tuple[Action, str | None, str]]:
    """(action, target text, text written) per planned memory of the turn ``said``."""
    c, facts, candidates = one_turn(embedder, existing, said, speaker)
    facts, decisions = plan_memories(facts, c.decide(facts, candidates))
    return [(d.action, d.target.text if d.target else None, facts[d.fact_index].text) for d in decisions]


@pytest.mark.parametrize(("existing", "said", "speaker"), [
    # A known fact, most of its words said again inside an occasion of it: nothing new to store.
    # Written for this test.
    (["Noor plays in the Leeds Youth Orchestra."],
     "Rehearsal with the Leeds Youth Orchestra ran late again tonight, my fingers hurt", "Noor"),
])
def test_a_restatement_with_chat_around_it_is_a_noop(embedder: Embedder, existing: list[str], said: str,
                                                     speaker: str) -> None:
    assert planned(embedder, existing, said, speaker) == [(Action.NOOP, existing[0], planned(
        embedder, existing, said, speaker)[0][2])]


@pytest.mark.parametrize(("existing", "said", "speaker"), [
    # Its name alone said again (it may be the one spoken to, LoCoMo: "Hey Evan, ..."), or half its words:
    # kept beside it.
    (["Kenji has a cat named Sora."], "Sora knocked my coffee off the table again", "Kenji"),
    (["Amara lives in Toronto."], "Toronto winters are no joke, I'm still not used to it", "Amara"),
])
def test_a_fact_half_said_again_with_more_is_kept_beside_it(embedder: Embedder, existing: list[str], said: str,
                                                            speaker: str) -> None:
    got = planned(embedder, existing, said, speaker)
    assert [a for a, _, _ in got] == [Action.ADD]


def test_a_restatement_that_names_someone_new_adds_it(embedder: Embedder) -> None:
    # Written for this test: the stored fact is said again, and a new person comes with it.
    got = planned(embedder, ["Tariq supports Brentford."],
                  "I support Brentford, my nephew Idris comes to every home game with his dad", "Tariq")
    assert [a for a, _, _ in got] == [Action.ADD]


def test_a_correction_cue_with_more_words_supersedes(embedder: Embedder) -> None:
    got = planned(embedder, ["Henrik's son is studying medicine."],
                  "Sorry, should clarify, my son studies veterinary medicine, not human.", "Henrik")
    assert got[0][:2] == (Action.UPDATE, "Henrik's son is studying medicine.")


@pytest.mark.parametrize(("existing", "said", "speaker", "change", "rest"), [
    (["Esi has a roommate named Abena."], "Abena moved out last month so I live alone now.", "Esi",
     "Abena moved out in April 2023.", "Esi lives alone now."),
    (["Hana is vegetarian."], "confession: I'm not vegetarian anymore, I started eating meat again when I got anemic",
     "Hana", "Confession, Hana is not vegetarian anymore.", "Hana started eating meat again when Hana got anemic."),
    # Written for this test.
    (["Ola works at Statoil."], "I left Statoil in March, now I teach maths at a school in Bergen", "Ola",
     "Ola left Statoil in March 2023.", "Now Ola teaches maths at a school in Bergen."),
])
def test_an_update_said_beside_another_fact_is_written_as_two(embedder: Embedder, existing: list[str], said: str,
                                                              speaker: str, change: str, rest: str) -> None:
    got = planned(embedder, existing, said, speaker)
    assert got == [(Action.UPDATE, existing[0], change), (Action.ADD, None, rest)]


@pytest.mark.parametrize(("existing", "said", "speaker"), [
    # What is said beside the change is chat, not a fact of anyone: the successor is the whole sentence.
    (["Ethan has a Netflix subscription."], "cancelled netflix, nothing good on and the price keeps going up",
     "Ethan"),
    (["Connor's brother is named Sean."], "lol no my brother's Shane not Sean, autocorrect strikes again", "Connor"),
    (["Pavel has 2 cats."], "we took in another stray so it's 3 cats now, my wife says that's the limit", "Pavel"),
])
def test_an_update_with_chat_beside_it_stays_one_fact(embedder: Embedder, existing: list[str], said: str,
                                                      speaker: str) -> None:
    got = planned(embedder, existing, said, speaker)
    assert [(a, t) for a, t, _ in got] == [(Action.UPDATE, existing[0])]


def test_a_follow_up_that_names_the_new_value_continues_the_update(embedder: Embedder) -> None:
    got = planned(embedder, ["Fatima drives a Toyota Corolla."], "sold the corolla finally. got a tesla model 3",
                  "Fatima")
    assert [(a, t) for a, t, _ in got] == [(Action.UPDATE, "Fatima drives a Toyota Corolla.")]
    assert "tesla" in got[0][2]


def test_a_follow_up_with_another_fact_is_its_own(embedder: Embedder) -> None:
    got = planned(embedder, ["Ayumi takes piano lessons.", "Ayumi is a nurse."],
                  "no more piano lessons for me, teacher retired. I still play at home tho!", "Ayumi")
    assert [(a, t) for a, t, _ in got] == [(Action.UPDATE, "Ayumi takes piano lessons."), (Action.ADD, None)]
    assert got[1][2] == "Ayumi still plays at home tho!"


def test_words_ending_in_ing_that_are_no_verbs_get_no_subject() -> None:
    assert implicit_subject("Nothing good on tonight.", "Ethan") == "Nothing good on tonight."
    assert implicit_subject("Training for the marathon.", "Sven") == "Sven training for the marathon."


def test_adverbs_and_past_forms_keep_their_verb() -> None:
    assert resolve_speaker("I barely game anymore", "Abdullah") == "Abdullah barely games anymore"
    assert resolve_speaker("I said MTN but I meant Airtel", "Musa") == "Musa said MTN but Musa meant Airtel"


def test_what_a_restatement_says_around_it_is_part_of_it(embedder: Embedder) -> None:
    got = planned(embedder, ["Pavel has 3 cats."], "my three cats woke me up at 5am demanding food. as usual", "Pavel")
    assert [(a, t) for a, t, _ in got] == [(Action.NOOP, "Pavel has 3 cats."), (Action.NOOP, "Pavel has 3 cats.")]


def test_a_detail_says_again_a_fact_of_an_earlier_turn_of_its_batch(embedder: Embedder) -> None:
    # A backlog run as one batch: what was stored before the turn is a fact of the batch, not a memory.
    c = OfflineConsolidator(embedder)
    facts = c.extract([Turn("user", "I work day shifts at the factory.", "Hiroshi", TS),
                       Turn("user", "day shift at the factory again, then home for dinner.", "Hiroshi", TS)])
    assert [f.standalone for f in facts] == [True, False]
    for f, v in zip(facts, embedder.embed([f.text for f in facts]), strict=True):
        f.vector = v
    decisions = c.decide(facts, [[], []])
    assert [d.action for d in decisions] == [Action.ADD, Action.NOOP]
    assert decisions[1].target is not None
    assert decisions[1].target.fact_index == 0


def test_what_follows_a_restatement_in_its_turn_is_about_it(embedder: Embedder) -> None:
    got = planned(embedder, ["Dana lives in Denver.", "Dana works as a nurse."],
                  "yeah like I said, I live in Denver now. loving the mountains", "Dana")
    assert [(a, t) for a, t, _ in got] == [(Action.NOOP, "Dana lives in Denver.")] * 2


@pytest.mark.parametrize(("turn", "kept"), [
    ("thanks so much, that's really kind of you!", []),
    ("that's so sweet of you, have a great time!", []),
    # What it says of the listener, at length, is a fact about them.
    ("You really care about being real and helping others.",
     ["You really care about being real and helping others."]),
    ("lol fair enough", []),
    ("brb, someone's at the door", []),
    # Written for this test: the listener and the speaker, or someone named, are facts.
    ("You were right, I finally called the dentist.", ["You were right, Ines finally called the dentist."]),
    ("no wait, Tom's an orthodontist, he gets very touchy if you call him a dentist",
     ["No wait, Tom's an orthodontist, he gets very touchy if you call him a dentist."]),
])
def test_a_turn_that_only_speaks_to_the_listener_stores_nothing(turn: str, kept: list[str]) -> None:
    got = OfflineConsolidator().extract([Turn("user", turn, "Ines", TS)])
    assert [f.text for f in got] == kept


def test_a_correction_cue_finds_what_it_corrects_at_a_low_cosine(embedder: Embedder) -> None:
    # The sentence does not say its subject again ("it's an XC40"): its cosine to the fact is low (~0.3).
    got = planned(embedder, ["Erik drives a Volvo XC60.", "Erik lives in Malmö."],
                  "correction: it's an XC40, the smaller one.", "Erik")
    assert [(a, t) for a, t, _ in got] == [(Action.UPDATE, "Erik drives a Volvo XC60.")]


def test_a_restatement_of_a_longer_memory_with_more_is_kept(embedder: Embedder) -> None:
    # A memory of several sentences is an account, not one fact: saying its names again with more is news.
    memory = "Caroline went to the LGBTQ support group. It was powerful. Caroline felt accepted there."
    got = planned(embedder, [memory], "I went to the LGBTQ support group again, we talked about coming out stories",
                  "Caroline")
    assert [a for a, _, _ in got] == [Action.ADD]


@pytest.mark.parametrize(("existing", "said", "speaker"), [
    # A common word said again in another sense is no restatement ("support" here, LoCoMo conversation 0).
    (["Caroline was so happy and thankful for all the support."],
     "I'm keen on counseling or working in mental health, I'd love to support those with similar issues",
     "Caroline"),
    # As a pharmacist ... : the job said again, with advice around it (kept: a common word, not a name).
    (["Aisha works as a pharmacist."], "As a pharmacist I can tell you, please don't mix those two meds", "Aisha"),
])
def test_a_common_word_said_again_with_more_is_kept(embedder: Embedder, existing: list[str], said: str,
                                                    speaker: str) -> None:
    assert [a for a, _, _ in planned(embedder, existing, said, speaker)] == [Action.ADD]


def test_a_plan_is_no_change(embedder: Embedder) -> None:
    got = planned(embedder, ["Lucía booked a trip to Tokyo for April 10th."],
                  "if I have enough days left I'd like to add Seoul to the trip, not booked yet", "Lucía")
    assert [(a, t) for a, t, _ in got] == [(Action.ADD, None)]


def test_now_replaces_a_name_only_with_a_name(embedder: Embedder) -> None:
    got = planned(embedder, ["Precious lives in Bulawayo."],
                  "I'm the treasurer of our church youth group now, lots of spreadsheets haha", "Precious")
    assert [(a, t) for a, t, _ in got] == [(Action.ADD, None)]
    got = planned(embedder, ["Nour's favorite TV show is Breaking Bad."],
                  "Succession is now my all time favorite show, sorry walter white", "Nour")
    assert [(a, t) for a, t, _ in got][0] == (Action.UPDATE, "Nour's favorite TV show is Breaking Bad.")


def test_a_change_outranks_a_fact_said_again(embedder: Embedder) -> None:
    got = planned(embedder, ["Jamal coaches his son's basketball team.", "Jamal's son is named Malik."],
                  "Malik aged out of the youth league so I'm coaching his little sister's soccer team now", "Jamal")
    assert [(a, t) for a, t, _ in got][0] == (Action.UPDATE, "Jamal coaches his son's basketball team.")
