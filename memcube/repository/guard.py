"""The guard's reads and writes: lessons, a source's recent records (bursts), the quarantine queue."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select, text, union_all
from sqlalchemy.orm import Session, defer

from memcube.models import GuardLesson, Memory, MemoryLink
from memcube.repository.retrieval import vector_literal

LESSONS_CONSULTED = 500  # the latest lessons of a cube a screening compares with
BURST_LOOKBACK = 200  # the latest records of one source a screening compares with


def lesson_vectors(session: Session, cube_id: uuid.UUID) -> np.ndarray:
    """The cube's latest lessons' vectors, ``(n, dim)`` float32 (no rows: shape ``(0, 0)``)."""
    rows = session.scalars(select(GuardLesson.embedding).where(GuardLesson.cube_id == cube_id,
                                                               GuardLesson.embedding.is_not(None))
                           .order_by(GuardLesson.created_at.desc()).limit(LESSONS_CONSULTED)).all()
    return np.asarray([np.asarray(v, dtype=np.float32) for v in rows], dtype=np.float32) if rows \
        else np.zeros((0, 0), dtype=np.float32)


def burst_candidates(session: Session, cube_id: uuid.UUID, actor: str, source: str | None, since: datetime,
                     vectors: Sequence[Any], *, max_distance: float) -> list[list[str]]:
    """For each vector, the contents of the records the actor wrote into the cube from this source since
    ``since`` (its latest ``BURST_LOOKBACK``) that lie within ``max_distance`` (cosine distance). Compared in
    the database, the vectors parsed once as a ``vector[]``: no stored vector leaves it."""
    if not vectors:
        return []
    rows = session.execute(text(
        """
        SELECT q.i, r.content
        FROM unnest(CAST(:vecs AS vector[])) WITH ORDINALITY AS q(v, i)
        CROSS JOIN LATERAL (
          SELECT embedding, content FROM memories
          WHERE cube_id = :cube AND created_at >= :since AND embedding IS NOT NULL
            AND provenance->>'actor' = :actor AND (CAST(:source AS text) IS NULL OR provenance->>'source' = :source)
          ORDER BY created_at DESC LIMIT :lookback
        ) AS r
        WHERE (r.embedding <=> q.v) <= :d
        """),
        {"vecs": [vector_literal(v) for v in vectors], "d": max_distance, "cube": cube_id, "since": since,
         "actor": actor, "source": source, "lookback": BURST_LOOKBACK}).all()
    out: list[list[str]] = [[] for _ in vectors]
    for i, content in rows:
        out[int(i) - 1].append(content)
    return out


def source_recent(session: Session, head: Memory, since: datetime, limit: int) -> list[Memory]:
    """The latest ``limit`` plaintext memories (not deleted) written into ``head``'s cube before it (a batch's
    records have distinct, ordered ``created_at``) and since ``since`` by the same source: the same provenance
    actor and ``source``, and the same speaker (``role``). Without their vectors."""
    prov = head.provenance or {}
    clauses = [Memory.cube_id == head.cube_id, Memory.created_at < head.created_at, Memory.created_at >= since,
               Memory.kind == "plaintext", Memory.status != "deleted",
               Memory.role.is_(None) if head.role is None else Memory.role == head.role]
    for key in ("actor", "source"):
        value = prov.get(key)
        field = Memory.provenance[key].astext
        clauses.append(field.is_(None) if value is None else field == str(value))
    return list(session.scalars(select(Memory).options(defer(Memory.embedding)).where(*clauses)
                                .order_by(Memory.created_at.desc()).limit(limit)))


def add_lesson(session: Session, row: dict[str, Any]) -> None:
    session.add(GuardLesson(**row))


def has_lesson_for(session: Session, memory_id: uuid.UUID) -> bool:
    return session.scalar(select(GuardLesson.id).where(GuardLesson.memory_id == memory_id).limit(1)) is not None


def quarantined(session: Session, cube_id: uuid.UUID, *, limit: int,
                after: tuple[float, uuid.UUID] | None) -> list[Memory]:
    """The cube's quarantined memories, riskiest first (keyset on ``(risk, id)``)."""
    stmt = select(Memory).where(Memory.cube_id == cube_id, Memory.status == "quarantined")
    if after is not None:
        risk, mid = after
        stmt = stmt.where((Memory.risk < risk) | ((Memory.risk == risk) & (Memory.id > mid)))
    return list(session.scalars(stmt.order_by(Memory.risk.desc(), Memory.id).limit(limit)))


def disputes(session: Session, memory_ids: list[uuid.UUID]) -> list[tuple[uuid.UUID, float]]:
    """``(memory id, trust of an active memory it contradicts or is contradicted by)`` for the given ids, both
    directions of ``contradicts`` links in one statement."""
    if not memory_ids:
        return []
    other = Memory.__table__.alias("other")
    sides = [select(mine.label("mine"), other.c.trust).join(other, other.c.id == theirs)
             .where(MemoryLink.type == "contradicts", mine.in_(memory_ids), other.c.status == "active")
             for mine, theirs in ((MemoryLink.source_id, MemoryLink.target_id),
                                  (MemoryLink.target_id, MemoryLink.source_id))]
    return [(r[0], float(r[1])) for r in session.execute(union_all(*sides))]


def vectors_of(session: Session, memory_ids: list[uuid.UUID]) -> dict[uuid.UUID, np.ndarray]:
    if not memory_ids:
        return {}
    rows = session.execute(select(Memory.id, Memory.embedding).where(Memory.id.in_(memory_ids)))
    return {r[0]: np.asarray(r[1], dtype=np.float32) for r in rows if r[1] is not None}
