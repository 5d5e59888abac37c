"""The read-time check: look at what a query retrieved together, and leave out what should not steer the agent.

Write-time screening sees one record; an attack built from harmless-looking records (a false fact, a bridge
to a planted source) shows only beside the others (A-MemGuard, arXiv 2510.02373: consensus across retrieved
memories). Before a context is assembled, each retrieved memory is dropped when

* **suspect**: its write-time score is at least the cube's ``read_threshold`` (below the quarantine line,
  but not to be obeyed);
* **disputed**: it contradicts (a ``contradicts`` link, made by consolidation or linking) an active memory
  written with more trust;
* **outvoted**: it was written with low trust (a tool's output, a web page), another retrieved memory on the
  same topic (cosine at least ``SAME_TOPIC``) was written with clearly more trust, and it brings values
  (numbers, dates, names) that none of those better-sourced memories nor the query has: a competing account
  from a weaker source is not put in front of the model. A low-trust record that only repeats what the
  better sources say stays.

The response names every dropped memory with its reasons; each drop leaves a lesson for later screening.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory
from memcube.repository import guard as repo
from memos.guard.screen import LOW_TRUST

SAME_TOPIC = 0.5
NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
SENTENCE = re.compile(r"(?<=[.!?:;\n])\s+")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
STOP = frozenset({"i", "i'm", "i've", "i'd", "i'll"})
TRUST_MARGIN = 0.15  # "clearly more trust"
SUSPECT_WEIGHT = 1.0
DISPUTED_WEIGHT = 0.8
OUTVOTED_WEIGHT = 0.7


@dataclass
class ReadCheck:
    kept: list[Memory] = field(default_factory=list)
    dropped: list[tuple[Memory, dict[str, float]]] = field(default_factory=list)


def values(text: str) -> set[str]:
    """The checkable values a text states: numbers, and capitalised words past a sentence's first word
    (names, places, months), lower-cased. Crude on purpose: it only has to tell "repeats" from "adds"."""
    out = {n for n in NUMBER.findall(text)}
    for sentence in SENTENCE.split(text):
        words = WORD.findall(sentence)
        out |= {w.lower() for w in words[1:] if w[:1].isupper() and w.lower() not in STOP}
    return out


def check(session: Session, cube: Cube, memories: list[Memory], settings: schemas.GuardSettings,
          query: str = "") -> ReadCheck:
    out = ReadCheck()
    if not settings.enabled or not settings.read_check or not memories:
        out.kept = list(memories)
        return out
    reasons: dict[int, dict[str, float]] = {i: {} for i in range(len(memories))}
    for i, m in enumerate(memories):
        if (m.risk or 0.0) >= settings.read_threshold:
            reasons[i]["suspect"] = round(float(m.risk), 3)
    index = {m.id: i for i, m in enumerate(memories)}
    for mid, other_trust in repo.disputes(session, list(index)):
        m = memories[index[mid]]
        if other_trust >= (m.trust or 0.0) + TRUST_MARGIN:
            reasons[index[mid]]["disputed"] = DISPUTED_WEIGHT
    low = [i for i, m in enumerate(memories) if (m.trust or 0.0) < LOW_TRUST]
    if low:
        vectors = repo.vectors_of(session, [m.id for m in memories])
        asked = values(query)
        for i in low:
            v = vectors.get(memories[i].id)
            if v is None:
                continue
            better = [other for j, other in enumerate(memories)
                      if j != i and other.id in vectors
                      and (other.trust or 0.0) >= (memories[i].trust or 0.0) + TRUST_MARGIN
                      and float(np.dot(v, vectors[other.id])) >= SAME_TOPIC]
            if better and values(memories[i].content) - asked - set().union(*(values(o.content) for o in better)):
                reasons[i]["outvoted"] = OUTVOTED_WEIGHT
    for i, m in enumerate(memories):
        if reasons[i]:
            out.dropped.append((m, reasons[i]))
        else:
            out.kept.append(m)
    return out


def learn_from(session: Session, cube: Cube, dropped: list[tuple[Memory, dict[str, float]]], *, query: str,
               actor: str) -> int:
    """A lesson per dropped memory that has none yet (in a savepoint: a failure here never fails the read)."""
    from memos.guard.review import learn

    if not dropped:
        return 0
    with session.begin_nested():
        for m, why in dropped:
            learn(session, cube, m, decided_by=f"read:{actor}", reason="dropped at read: " + ", ".join(sorted(why)),
                  trigger=query[:2000])
    return len(dropped)
