"""Queries of a session's working memory (memos.scheduler.working): its memories ranked for a query."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Boolean, func, select, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session, defer

from memcube.models import Memory
from memcube.repository.memories import MemoryFilter


def rank_among(
    session: Session, vector: Sequence[float], flt: MemoryFilter, *, ids: Sequence[uuid.UUID],
    changed_since: datetime, limit: int,
) -> list[tuple[Memory, float, bool]]:
    """Memories that pass the filter now (one deleted, quarantined or archived since is gone), nearest to
    ``vector`` first, with their cosine similarity and whether they were predicted rather than named: those of
    ``ids``, those of the filter's cube changed since ``changed_since``, and what ``ids`` predict (each one's
    previous and next memory of its session, and the memories linked to it). The few rows named come from
    indexes and are materialised first: ordered by distance alone, the planner could walk the vector index
    through the whole cube instead."""
    named = text(
        """
        SELECT id, false AS predicted FROM memories WHERE id = ANY(:ids)
        UNION ALL
        SELECT id, false FROM memories WHERE cube_id = ANY(:cubes) AND updated_at > :since
        UNION ALL
        SELECT CASE WHEN l.source_id = m.id THEN l.target_id ELSE l.source_id END, true
        FROM memories m JOIN memory_links l ON l.source_id = m.id OR l.target_id = m.id
        WHERE m.id = ANY(:ids)
        UNION ALL
        SELECT nb.id, true FROM memories m CROSS JOIN LATERAL (
          (SELECT p.id FROM memories p WHERE p.cube_id = m.cube_id AND p.session_id = m.session_id
             AND p.created_at < m.created_at ORDER BY p.created_at DESC LIMIT 1)
          UNION ALL
          (SELECT n.id FROM memories n WHERE n.cube_id = m.cube_id AND n.session_id = m.session_id
             AND n.created_at > m.created_at ORDER BY n.created_at LIMIT 1)) nb
        WHERE m.id = ANY(:ids) AND m.session_id IS NOT NULL
        """
    ).bindparams(ids=list(ids), cubes=list(flt.cube_ids), since=changed_since) \
        .columns(id=UUID(as_uuid=True), predicted=Boolean).cte("named").prefix_with("MATERIALIZED")
    picked = select(named.c.id, func.bool_and(named.c.predicted).label("predicted")).group_by(named.c.id) \
        .subquery("picked")
    distance = Memory.embedding.cosine_distance(list(vector)).label("distance")
    stmt = (
        select(Memory, distance, picked.c.predicted)
        .join(picked, picked.c.id == Memory.id)
        .options(defer(Memory.embedding), defer(Memory.tsv))
        .where(Memory.embedding.is_not(None), *flt.clauses())
        .order_by(distance, Memory.id)
        .limit(limit)
    )
    return [(m, 1.0 - float(d), bool(p)) for m, d, p in session.execute(stmt).all()]


def changed_count(session: Session, cube_id: uuid.UUID, since: datetime, *, cap: int) -> int:
    """How many of the cube's memories changed since ``since``, counted up to ``cap`` (the index stops there)."""
    inner = select(Memory.id).where(Memory.cube_id == cube_id, Memory.updated_at > since).limit(cap)
    return len(session.scalars(inner).all())
