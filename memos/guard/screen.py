"""Write-time screening: a risk score in ``[0, 1]`` with its reasons, for each new plaintext memory.

Signals, each a weight in ``[0, 1]``:

* **content cues** (:mod:`memos.guard.cues`): text written to steer the agent;
* **provenance**: a source the cube's owner lists as untrusted; a low trust (a tool's output, a web page);
* **lessons**: close to a record a reviewer rejected or the read-time check dropped in this cube;
* **burst**: one actor writing several variants of one record in a short time (an attacker planting
  variants so one of them is retrieved): close in meaning (cosine) *and* saying the same thing in words
  (:func:`memos.guard.bursts.copies`). Stored vectors carry the memory's speaker and session context, so one
  speaker's consecutive turns of a conversation are close whatever they say: by cosine alone, a bulk import
  left 1-2% of LoCoMo's turns out of every context.

They combine as independent evidence, ``1 - prod(1 - w)``. A source the owner lists as trusted has its
score halved. At or above the cube's ``quarantine_threshold`` the memory is written ``quarantined``: kept,
versioned, out of search and context until a reviewer approves it.

Runs inline in the write (no job): the cues are regular expressions (tens of microseconds), lessons and
bursts one indexed statement each per batch, compared in numpy. ``bench/guard.py`` measures what it adds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory
from memcube.repository import guard as repo
from memos.guard.bursts import copies
from memos.guard.cues import content_cues
from memos.guard.metrics import SCREENED

LOW_TRUST = 0.4  # provenance trust below this is a signal (a tool's output is written at 0.3 or less)
LOW_TRUST_WEIGHT = 0.2
UNTRUSTED_WEIGHT = 0.6
TRUSTED_FACTOR = 0.5
LESSON_SIMILAR, LESSON_CLOSE = 0.75, 0.85  # cosine to a lesson: similar / close
LESSON_WEIGHTS = (0.35, 0.7)
BURST_WINDOW = timedelta(minutes=10)
BURST_SIMILAR = 0.9  # cosine between two records that count as variants of one another
BURST_MIN = 3  # this many earlier variants from the same actor within the window is a burst
BURST_WEIGHT = 0.35


@dataclass
class Risk:
    score: float = 0.0
    reasons: dict[str, float] = field(default_factory=dict)

    def add(self, reason: str, weight: float) -> None:
        if weight > 0:
            self.reasons[reason] = round(max(weight, self.reasons.get(reason, 0.0)), 3)

    def finish(self, factor: float = 1.0) -> Risk:
        p = 1.0
        for w in self.reasons.values():
            p *= 1.0 - w
        self.score = round((1.0 - p) * factor, 4)
        return self

    def verdict(self, by: str = "screen", note: str | None = None) -> dict[str, Any]:
        return schemas.GuardVerdict(score=self.score, reasons=self.reasons, by=by, note=note).model_dump()


def cube_settings(cube: Cube) -> schemas.GuardSettings:
    return schemas.GuardSettings.model_validate(cube.guard or {})


def listed(provenance: dict[str, Any], names: Sequence[str]) -> bool:
    return bool(names) and (provenance.get("source") in names or provenance.get("actor") in names)


def screen_content(content: str, provenance: dict[str, Any], settings: schemas.GuardSettings) -> Risk:
    """What the record itself and its provenance show (no database)."""
    risk = Risk()
    trusted = listed(provenance, settings.trusted_sources)
    for name, weight in content_cues(content).items():
        risk.add(name, weight)
    if listed(provenance, settings.untrusted_sources):
        risk.add("untrusted_source", UNTRUSTED_WEIGHT)
    elif not trusted and float(provenance.get("trust", 0.5)) < LOW_TRUST:
        risk.add("low_trust", LOW_TRUST_WEIGHT)
    return risk


def _max_cosine(vectors: np.ndarray, against: np.ndarray) -> np.ndarray:
    if against.size == 0 or vectors.size == 0:
        return np.zeros(len(vectors), dtype=np.float32)
    return (vectors @ against.T).max(axis=1)


def screen_batch(session: Session, cube: Cube, contents: Sequence[str], provenances: Sequence[dict[str, Any]],
                 vectors: Any) -> list[Risk]:
    """Risk of each record of one write (its vectors are L2-normalised, so a dot product is a cosine)."""
    settings = cube_settings(cube)
    if not settings.enabled or not contents:
        return [Risk() for _ in contents]
    risks = [screen_content(c, p, settings) for c, p in zip(contents, provenances, strict=True)]
    vecs = np.asarray(vectors, dtype=np.float32).reshape(len(contents), -1)
    lessons = repo.lesson_vectors(session, cube.id)
    for risk, sim in zip(risks, _max_cosine(vecs, lessons), strict=True):
        if sim >= LESSON_CLOSE:
            risk.add("resembles_rejected", LESSON_WEIGHTS[1])
        elif sim >= LESSON_SIMILAR:
            risk.add("resembles_rejected", LESSON_WEIGHTS[0])
    _bursts(session, cube, contents, provenances, vecs, risks)
    done = [r.finish(TRUSTED_FACTOR if listed(p, settings.trusted_sources) else 1.0)
            for r, p in zip(risks, provenances, strict=True)]
    for r in done:
        SCREENED.labels("quarantined" if r.score >= settings.quarantine_threshold
                        else "flagged" if r.reasons else "clean").inc()
    return done


def _bursts(session: Session, cube: Cube, contents: Sequence[str], provenances: Sequence[dict[str, Any]],
            vecs: np.ndarray, risks: list[Risk]) -> None:
    """Variants from one actor: its earlier records of the window plus the batch's own earlier records, close
    to the record by cosine and copies of it by their words."""
    since = datetime.now(UTC) - BURST_WINDOW
    by_source: dict[tuple[str, str | None], list[int]] = {}
    for i, p in enumerate(provenances):
        if p.get("actor"):
            by_source.setdefault((str(p["actor"]), p.get("source")), []).append(i)
    for (actor, source), idx in by_source.items():
        stored = repo.burst_candidates(session, cube.id, actor, source, since, [vecs[i] for i in idx],
                                       max_distance=1.0 - BURST_SIMILAR)
        for n, i in enumerate(idx):
            close = stored[n] + [contents[j] for j in idx[:n] if float(vecs[j] @ vecs[i]) >= BURST_SIMILAR]
            if len(copies(contents[i], close)) >= BURST_MIN:
                risks[i].add("burst", BURST_WEIGHT)


def rescreen(session: Session, head: Memory, cube: Cube) -> bool:
    """Screen a memory whose content changed (a PATCH, a consolidation UPDATE) and quarantine it when it
    scores at or above the threshold. Returns whether it was quarantined now. (A quarantined memory stays so
    whatever its new score: only a review releases it.)"""
    settings = cube_settings(cube)
    if head.kind != "plaintext" or not settings.enabled:
        return False
    (risk,) = screen_batch(session, cube, [head.content], [head.provenance or {}], [head.embedding])
    head.risk = risk.score
    head.guard = risk.verdict() if risk.reasons else None
    if head.status == "active" and risk.score >= settings.quarantine_threshold:
        head.status = "quarantined"
        return True
    return False
