"""Queries of a session's working memory (memos.scheduler.working): its memories ranked for a query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from memcube.models import Memory
from memcube.repository.memories import MemoryFilter


def rank_among(
    session: Session, vector: Sequence[float], flt: MemoryFilter, *, ids: Sequence[uuid.UUID],
    changed_since: datetime, limit: int,
) -> list[tuple[Memory, float]]:
    """The memories of ``ids`` and those of the filter's cube changed since ``changed_since`` that pass the
    filter now (a memory deleted, quarantined or archived since it entered is gone), nearest to ``vector``
    first, with their cosine similarity. Both halves come from indexes (the primary key; ``(cube_id,
    updated_at)``), so the cost is that of the few rows named, whatever the cube's size."""
    distance = Memory.embedding.cosine_distance(list(vector)).label("distance")
    stmt = (
        select(Memory, distance)
        .options(defer(Memory.embedding), defer(Memory.tsv))
        .where(Memory.embedding.is_not(None), *flt.clauses(),
               or_(Memory.id.in_(list(ids)), Memory.updated_at > changed_since))
        .order_by(distance, Memory.id)
        .limit(limit)
    )
    return [(m, 1.0 - float(d)) for m, d in session.execute(stmt).all()]


def changed_count(session: Session, cube_id: uuid.UUID, since: datetime, *, cap: int) -> int:
    """How many of the cube's memories changed since ``since``, counted up to ``cap`` (the index stops there)."""
    inner = select(Memory.id).where(Memory.cube_id == cube_id, Memory.updated_at > since).limit(cap)
    return len(session.scalars(inner).all())
