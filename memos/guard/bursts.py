"""Repeated claims: one source writing the same claim again and again, in a burst (the issue's "a burst of
similar records from one source").

An attacker who can write a few records plants variants of one claim, so that one of them is retrieved and
the copies back one another. People rarely restate one claim three times in a row; when they repeat
themselves across a conversation it is in thanks and greetings ("Thanks, Evan! Your support means a lot"),
spread over weeks, and with no claim in them. So a record is part of a **claim burst** when, among the
last ``SOURCE_RECENT`` records the same source (the actor, the provenance ``source`` and the speaker) wrote
into the cube in the ``WINDOW`` before it, at least ``COPIES_MIN`` are copies of it: cosine
``COPY_SIMILAR`` or more, and sharing ``CLAIM_WORDS_MIN`` or more claim words (content words that are not
a speaker's name nor the vocabulary of thanks, greetings and encouragement). Every record of the burst is
flagged, the earlier ones included: the one that completes it shows what they are.

Measured on LoCoMo's 5,882 turns written in order (one source per speaker, so every turn of a conversation
falls in the window, as in a bulk import): without the claim-word condition one turn (a thanks) has two
copies among its speaker's last five; the three records of a false-fact attack are at cosine 0.79-0.85 or
more to one another in nine of ten attacks (10th percentile of the smallest pairwise cosine, per split).

Runs in the linking job (after the write returns): one indexed statement per new memory (the speaker's
latest records, ``ix_memories_cube_role``), compared in numpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

import numpy as np

from memos.guard.consensus import speaker, words

WINDOW = timedelta(minutes=10)
SOURCE_RECENT = 5  # the source's latest records a new one is compared with
COPY_SIMILAR = 0.8  # cosine of two records that say the same thing
COPIES_MIN = 2  # earlier copies among those that make a burst (three records with the new one)
CLAIM_WORDS_MIN = 2  # claim words a copy shares with the new record
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


def copies(content: str, vector: np.ndarray, recent: Sequence[tuple[str, np.ndarray]],
           names: Iterable[str] = ()) -> list[int]:
    """Which of ``recent`` (the source's latest records before this one: content, unit vector) are copies of
    it: close in meaning and sharing claim words."""
    mine = claim_words(content, names)
    if len(mine) < CLAIM_WORDS_MIN or not recent:
        return []
    sims = np.asarray([v for _, v in recent], dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
    return [i for i, ((text, _), sim) in enumerate(zip(recent, sims, strict=True))
            if float(sim) >= COPY_SIMILAR and len(mine & claim_words(text, names)) >= CLAIM_WORDS_MIN]


def burst(content: str, vector: np.ndarray, recent: Sequence[tuple[str, np.ndarray]],
          role: str | None = None) -> list[int]:
    """The copies of the record among ``recent`` when they make a burst with it, else ``[]``."""
    names = [n for n in (speaker(role),) if n]
    found = copies(content, vector, recent, names)
    return found if len(found) >= COPIES_MIN else []
