"""The read-time check: look at what a query retrieved together, and leave out what should not steer the agent.

Write-time screening sees one record; an attack built from harmless-looking records (a false fact, a bridge
to a planted source) shows only beside the others (A-MemGuard, arXiv 2510.02373: consensus across retrieved
memories). Before a context is assembled, each retrieved memory is dropped when

* **suspect**: its write-time score is at least the cube's ``read_threshold`` (below the quarantine line,
  but not to be obeyed);
* **disputed**: it contradicts (a ``contradicts`` link, made by consolidation or linking) an active memory
  written with more trust;
* **outvoted**: it was written with low trust (a tool's output, a web page), retrieved records on the same
  topic were written with clearly more trust, and none of them says all it says beyond the query: a
  competing account from a weaker source is not put in front of the model
  (:func:`memos.guard.consensus.outvoted`);
* **echoes the query**: it poses the very question asked (not to its listener) and answers it: written to be
  found by that question (:mod:`memos.guard.echo`);
* **hearsay**: it speaks of a person of the conversation in the third person, that person's own retrieved
  records are there, and none of them says all it says (:func:`memos.guard.consensus.hearsay`; a fact
  consolidation derived from the person's messages is theirs, not hearsay);
* **judged**: with ``MEMOS_GUARD_MODEL`` set, a chat model shown the query and the records the rules above
  kept names it as an instruction to the agent or a claim apart from the others' consensus
  (:mod:`memos.guard.judge`; on any failure of the model the rules' result stands).

A record that one better-placed record repeats, or a claim on a topic nobody better placed speaks to,
stays.

The response names every dropped memory with its reasons; each drop leaves a lesson for later screening.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory
from memcube.repository import guard as repo
from memos.guard import consensus, echo
from memos.guard.judge import JUDGE_WEIGHT, LLMJudge
from memos.guard.metrics import READ_DROPPED
from memos.guard.screen import LOW_TRUST

TRUST_MARGIN = 0.15  # "clearly more trust"
SUSPECT_WEIGHT = 1.0
DISPUTED_WEIGHT = 0.8
OUTVOTED_WEIGHT = 0.7
HEARSAY_WEIGHT = 0.6
ECHO_WEIGHT = 0.6


@dataclass
class ReadCheck:
    kept: list[Memory] = field(default_factory=list)
    dropped: list[tuple[Memory, dict[str, float]]] = field(default_factory=list)
    notes: dict[uuid.UUID, str] = field(default_factory=dict)  # the judge's words, by dropped memory


def check(session: Session, cube: Cube, memories: list[Memory], settings: schemas.GuardSettings,
          query: str = "", judge: LLMJudge | None = None) -> ReadCheck:
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
    vectors = repo.vectors_of(session, [m.id for m in memories])
    records = [consensus.Record(m.content, m.role, float(m.trust or 0.0), vectors.get(m.id)) for m in memories]
    for i in consensus.outvoted(records, query, low_trust=LOW_TRUST, margin=TRUST_MARGIN):
        reasons[i]["outvoted"] = OUTVOTED_WEIGHT
    for i in echo.echoes(records, query):
        reasons[i]["echoes_query"] = ECHO_WEIGHT
    derived = [(m.provenance or {}).get("source") == schemas.SourceType.consolidation for m in memories]
    for i in consensus.hearsay(records, query, exempt=derived.__getitem__):
        reasons[i]["hearsay"] = HEARSAY_WEIGHT
    if judge is not None:
        remaining = [i for i in range(len(memories)) if not reasons[i]]
        for j, note in judge.judge(query, [memories[i] for i in remaining]).items():
            reasons[remaining[j]]["judged"] = JUDGE_WEIGHT
            out.notes[memories[remaining[j]].id] = note
    for i, m in enumerate(memories):
        if reasons[i]:
            out.dropped.append((m, reasons[i]))
            for reason in reasons[i]:
                READ_DROPPED.labels(reason).inc()
        else:
            out.kept.append(m)
    return out


def learn_from(session: Session, cube: Cube, dropped: list[tuple[Memory, dict[str, float]]], *, query: str,
               actor: str, notes: dict[uuid.UUID, str] | None = None) -> int:
    """A lesson per dropped memory that has none yet (in a savepoint: a failure here never fails the read)."""
    from memos.guard.review import learn

    if not dropped:
        return 0
    with session.begin_nested():
        for m, why in dropped:
            note = (notes or {}).get(m.id)
            learn(session, cube, m, decided_by=f"read:{actor}",
                  reason="dropped at read: " + ", ".join(sorted(why)) + (f" (judge: {note})" if note else ""),
                  trigger=query[:2000])
    return len(dropped)
