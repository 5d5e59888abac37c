"""Consensus of a retrieved set: which records make a claim the better-placed records around them do not back.

A planted false fact or bridging record looks harmless alone; it shows only beside the records that speak on
the same topic with more authority (A-MemGuard, arXiv 2510.02373: consensus across retrieved memories; the
authority rule of the consolidation step: a person's own account outranks what others say about them). Two
kinds of better-placed record, each with the records it outranks:

* **a more trusted source** outranks a low-trust one (a tool's output, a web page) on the same topic;
* **a person's own account** (records whose ``role`` is that person) outranks a record that speaks of them in
  the third person: people say "I", so a record naming a speaker by name (not calling them: "Thanks, Mel!")
  is a claim about them made by someone else, or a record written to look like theirs.

The outranked record is *uncorroborated* when no single record that outranks it contains all its content
words beyond the query's: no better-placed account says the same, so it adds a competing one. Such a record
is left out of the context; one that only repeats what the better records say, or that speaks on a topic no
better record covers, stays. Word overlap, not meaning: it only has to tell "repeats" from "adds"; the words
are folded by a crude suffix stripper so "went"/"goes" differ but "groups"/"group" do not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+")
# Reporting and hedging words: a record that says "X said ..." repeats X, it does not add to it.
REPORTING = frozenset({"said", "says", "say", "told", "tell", "tells", "mentioned", "mention", "according",
                       "just", "really", "actually", "also", "like", "think", "thought", "know", "knows"})
STOP = ENGLISH_STOP_WORDS | REPORTING
NOT_SPEAKERS = frozenset({"user", "assistant", "system", "tool", "agent", "bot", "ai", "model"})
MIN_NOVEL = 1  # content words a record must add to count as a competing account
SAME_TOPIC = 0.3  # cosine between two retrieved records that speak on one topic (both matched the query)


def _stem(word: str) -> str:
    for suffix in ("'s", "ies", "es", "s", "ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def words(text: str) -> set[str]:
    """Content words (no stop words, no reporting verbs), lower-cased and folded; numbers kept."""
    out = set()
    for w in WORD.findall(text):
        w = _stem(w.lower().strip("'-"))
        if w.isdigit() or (len(w) >= 3 and w not in STOP and "'" not in w):
            out.add(w)
    return out


def speaker(role: str | None) -> str | None:
    """The name a speaker is called by (a role's first word), or None for a role that is not a person."""
    name = (role or "").strip().split(" ")[0]
    if len(name) < 2 or not name[:1].isupper() or name.lower() in NOT_SPEAKERS:
        return None
    return name


# An interjection or greeting before a name, or the name closing a clause: the speaker is being called. The
# interjections open their clause ("Sure, Mel", "Yeah thanks Mel"): inside one the same words are not a call
# ("pretty sure Mel went", "I remember Mel said", "make sure Mel gets it" speak of Mel).
_INTERJECTION = (r"(?:hey|hi|hello|thanks|thank\s+you|yeah|yes|wow|oh|dear|bye|"
                 r"see\s+(?:ya|you)(?:\s+later)?|congrats|sorry|sure(?:\s+thing)?|go|way\s+to\s+go|"
                 r"remember|c'mon|whoa|woah|dang|ha+|aw+)")
_CALL_BEFORE = re.compile(r"(?:^|[.!?;:,(\"\u201c\-\u2013\u2014]\s*)(?:\b" + _INTERJECTION + r"\b\s*,?\s*)+$",
                          re.IGNORECASE)
_OBJECT_OF = re.compile(r"\b(?:about|for|with|to|from|of|by|on|at|than|like|and|asked|ask)\s+$", re.IGNORECASE)
_CALL_AFTER = re.compile(r"^\s*(?:[,.!?;:)\-]|$)")


def third_person(text: str, name: str) -> bool:
    """Whether ``text`` speaks *of* ``name`` (a possessive, the object of a preposition, or the name in a
    clause), not *to* them."""
    for m in re.finditer(rf"\b{re.escape(name)}\b('s|’s)?", text):
        if m.group(1) or _OBJECT_OF.search(text[: m.start()]):
            return True
        if not (_CALL_BEFORE.search(text[: m.start()]) or _CALL_AFTER.match(text[m.end():])):
            return True
    return False


@dataclass(frozen=True)
class Record:
    """What the consensus check needs of a retrieved memory."""

    content: str
    role: str | None
    trust: float
    vector: np.ndarray | None


def _uncorroborated(record: Record, better: Sequence[Record], asked: set[str]) -> bool:
    """No single better record says what it says. (One record, not their union: a planted value is often a
    word some other record uses in another sense; backing means one account that says the same.)"""
    claim = words(record.content) - asked
    return all(len(claim - words(b.content)) >= MIN_NOVEL for b in better)


def _on_topic(record: Record, others: Iterable[Record]) -> list[Record]:
    if record.vector is None:
        return []
    return [o for o in others if o.vector is not None and float(np.dot(record.vector, o.vector)) >= SAME_TOPIC]


def outvoted(records: Sequence[Record], query: str, *, low_trust: float, margin: float) -> list[int]:
    """Low-trust records on a topic that better-trusted retrieved records cover, adding what they do not say."""
    asked = words(query)
    out = []
    for i, r in enumerate(records):
        if r.trust >= low_trust:
            continue
        better = _on_topic(r, (o for j, o in enumerate(records) if j != i and o.trust >= r.trust + margin))
        if better and _uncorroborated(r, better, asked):
            out.append(i)
    return out


def hearsay(records: Sequence[Record], query: str, *, exempt: Callable[[int], bool] = lambda i: False) -> list[int]:
    """Records that speak of a person in the third person whose own retrieved records do not back them."""
    asked = words(query)
    names = {n for n in (speaker(r.role) for r in records) if n}
    return [i for i, r in enumerate(records)
            if not exempt(i) and _unbacked_hearsay(r, [o for j, o in enumerate(records) if j != i], names, asked)]


def _unbacked_hearsay(record: Record, others: Sequence[Record], names: Iterable[str], asked: set[str]) -> bool:
    """It speaks of one of ``names`` in the third person, and that person's own records among ``others`` are
    there and do not back it."""
    for name in names:
        if not third_person(record.content, name):
            continue
        own = [o for o in others if speaker(o.role) == name and not third_person(o.content, name)]
        if own and _uncorroborated(record, own, asked | {_stem(name.lower())}):
            return True
    return False


def against_neighbours(record: Record, neighbours: Sequence[tuple[Record, float]], *, low_trust: float,
                       margin: float, exempt: bool = False) -> list[str]:
    """The write-time form of the two tests: a new record against the established records nearest to it
    (each with its cosine to the record), with no query. ``outvoted``: it is low-trust and better-trusted
    neighbours on its topic do not back it; ``hearsay``: it speaks of a person in the third person and that
    person's own neighbouring records do not back it (``exempt``: the record is that person's own, e.g.
    derived from their messages)."""
    out = []
    if record.trust < low_trust:
        better = [n for n, sim in neighbours if sim >= SAME_TOPIC and n.trust >= record.trust + margin]
        if better and _uncorroborated(record, better, set()):
            out.append("outvoted")
    others = [o for o, _ in neighbours]
    if not exempt and _unbacked_hearsay(record, others, {n for n in (speaker(o.role) for o in others) if n}, set()):
        out.append("hearsay")
    return out
