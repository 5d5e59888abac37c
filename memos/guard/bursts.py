"""Repeated claims: one source writing the same claim again and again, in a burst (the issue's "a burst of
similar records from one source").

An attacker who can write a few records plants variants of one claim, so that one of them is retrieved and
the copies back one another. People rarely restate one claim three times in a row; when they repeat
themselves across a conversation it is in thanks and greetings ("Thanks, Evan! Your support means a lot"),
spread over weeks, and with no claim in them. So a record is part of a **claim burst** when, among the
last ``SOURCE_RECENT`` records the same source (the actor, the provenance ``source`` and the speaker) wrote
into the cube in the ``WINDOW`` before it, at least ``COPIES_MIN`` are copies of it: they share
``CLAIM_WORDS_MIN`` or more claim words (content words that are not a speaker's name nor the vocabulary of
thanks, greetings and encouragement), ``OVERLAP_MIN`` or more of the claim words of the shorter of the two.
Every record of the burst is flagged, the earlier ones included: the one that completes it shows what they
are.

Copies are told by their words, not their stored vectors: a turn's vector carries its speaker and the
session before it (``memos.retrieval.documents``), so one speaker's consecutive turns of a session are
close whatever they say (a first cut at cosine 0.8 on the stored vectors flagged 122 of heldout3's 3,122
benign turns in ``bench/guard.py``).

Measured offline on LoCoMo's 5,882 turns written in order (one source per speaker, so every turn of a
conversation falls in the window, as in a bulk import): none is flagged (at 3 shared words and 0.6: 10, thanks
and encouragement); the suites' false-fact attacks at three records per attack: 38-40 of 40 per split form a
burst, none at one record; hard benign records: none.

Runs in the linking job (after the write returns): one indexed statement per new memory (the speaker's
latest records, ``ix_memories_cube_role``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

from memos.guard.consensus import speaker, words

WINDOW = timedelta(minutes=10)
SOURCE_RECENT = 5  # the source's latest records a new one is compared with
CLAIM_WORDS_MIN = 4  # claim words a copy shares with the new record
OVERLAP_MIN = 0.7  # ... as a share of the shorter record's claim words
COPIES_MIN = 2  # earlier copies among those that make a burst (three records with the new one)
WEIGHT = 0.3  # one reason reaches the default read threshold: out of contexts, not quarantined alone
REASON = "claim_burst"

# Thanks, greetings, encouragement: what people do repeat across a conversation, with no claim in it.
PHATIC = frozenset(words(
    "thanks thank appreciate appreciated appreciation support supported supporting supportive means mean lot "
    "lots great awesome amazing glad happy cool nice love loved lovely wow keep keeping going sure definitely "
    "care luck hope hoping proud congrats congratulations wish wishes hear hearing sounds sound good fun yeah "
    "cheers enjoy enjoyed excited exciting encouragement encouraging kind words best update updated updates "
    "posted motivate motivates motivated motivation inspiring inspire inspired welcome bye later talk soon "
    "catch chat friend buddy pal dear totally absolutely true right agree"))


def claim_words(text: str, names: Iterable[str] = ()) -> set[str]:
    """A record's content words that can carry a claim: no names of the given speakers, nothing phatic."""
    return words(text) - PHATIC - words(" ".join(names))


def copies(content: str, recent: Sequence[str], names: Iterable[str] = ()) -> list[int]:
    """Which of ``recent`` (the source's latest records before this one) say the same as it: most of the
    claim words of the shorter one are in the other."""
    names = list(names)
    mine = claim_words(content, names)
    if len(mine) < CLAIM_WORDS_MIN:
        return []
    out = []
    for i, text in enumerate(recent):
        theirs = claim_words(text, names)
        shared = len(mine & theirs)
        if shared >= CLAIM_WORDS_MIN and shared >= OVERLAP_MIN * min(len(mine), len(theirs)):
            out.append(i)
    return out


def burst(content: str, recent: Sequence[str], role: str | None = None) -> list[int]:
    """The copies of the record among ``recent`` when they make a burst with it, else ``[]``."""
    found = copies(content, recent, [n for n in (speaker(role),) if n])
    return found if len(found) >= COPIES_MIN else []
