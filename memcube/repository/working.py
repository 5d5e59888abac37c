"""Queries of a session's working memory (memos.scheduler.working): its memories ranked for a query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, union
from sqlalchemy.orm import Session, defer

from memcube.models import Memory
from memcube.repository.memories import MemoryFilter


def rank_among(
    session: Session, vector: Sequence[float], flt: MemoryFilter, *, ids: Sequence[uuid.UUID],
    changed_since: datetime, limit: int,
) -> list[tuple[Memory, float]]:
    """The memories of ``ids`` and those of the filter's cube changed since ``changed_since`` that pass the
    filter now (a memory deleted, quarantined or archived since it entered is gone), nearest to ``vector``
    first, with their cosine similarity. The few rows named come from the primary key and the ``(cube_id,
    updated_at)`` index, materialised first: ordered by distance alone, the planner could walk the vector
    index through the whole cube instead."""
    named = union(
        select(Memory.id).where(Memory.id.in_(list(ids))),
        select(Memory.id).where(Memory.cube_id.in_(list(flt.cube_ids)), Memory.updated_at > changed_since),
    ).cte("named").prefix_with("MATERIALIZED")
    distance = Memory.embedding.cosine_distance(list(vector)).label("distance")
    stmt = (
        select(Memory, distance)
        .join(named, named.c.id == Memory.id)
        .options(defer(Memory.embedding), defer(Memory.tsv))
        .where(Memory.embedding.is_not(None), *flt.clauses())
        .order_by(distance, Memory.id)
        .limit(limit)
    )
    return [(m, 1.0 - float(d)) for m, d in session.execute(stmt).all()]


def changed_count(session: Session, cube_id: uuid.UUID, since: datetime, *, cap: int) -> int:
    """How many of the cube's memories changed since ``since``, counted up to ``cap`` (the index stops there)."""
    inner = select(Memory.id).where(Memory.cube_id == cube_id, Memory.updated_at > since).limit(cap)
    return len(session.scalars(inner).all())
