"""Queries of the periodic sweeps (heat decay, TTL expiry, archiving). Bounded batches, skip-locked rows."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from memcube.models import Memory, MemoryAccess

# Below this, heat is noise: set it to 0 so the row drops out of later sweeps.
HEAT_EPSILON = 1e-3


def decay_heat(session: Session, *, now: datetime, half_life_s: float, min_age_s: float, limit: int) -> int:
    """Decay heat by the time since its last decay and fold in new hits, for up to ``limit`` memories.

    ``heat' = heat * 0.5 ** (elapsed / half_life) + (access_count - heat_hits)``, the count read from
    ``memory_access`` (the flush's, which never writes the memories rows themselves): new hits count at full
    weight at the sweep that sees them; a memory nobody reads cools down exponentially. Rows decayed less
    than ``min_age_s`` ago are left for a later sweep, so a fast schedule does not spin on the same rows.
    """
    result = session.execute(
        text(
            """
            WITH batch AS (
              SELECT m.id, coalesce(a.access_count, 0) AS hits
              FROM memories m LEFT JOIN memory_access a ON a.memory_id = m.id
              WHERE (m.heat > 0 OR a.access_count > m.heat_hits)
                AND (m.heat_at IS NULL
                     OR m.heat_at <= CAST(:now AS timestamptz) - make_interval(secs => :min_age))
              ORDER BY m.heat_at NULLS FIRST
              LIMIT :limit
              FOR UPDATE OF m SKIP LOCKED
            ), next AS (
              SELECT m.id, batch.hits,
                     m.heat * power(0.5, GREATEST(EXTRACT(EPOCH FROM (
                       CAST(:now AS timestamptz) - coalesce(m.heat_at, m.created_at))), 0) / :half_life)
                     + GREATEST(batch.hits - m.heat_hits, 0) AS heat
              FROM memories m JOIN batch USING (id)
            )
            UPDATE memories AS m
            SET heat = CASE WHEN next.heat < :eps THEN 0 ELSE next.heat END,
                heat_hits = next.hits,
                heat_at = CAST(:now AS timestamptz)
            FROM next WHERE m.id = next.id
            """
        ),
        {"now": now, "half_life": half_life_s, "min_age": min_age_s, "limit": limit, "eps": HEAT_EPSILON},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def expired(session: Session, *, now: datetime, limit: int) -> list[Memory]:
    """Live memories whose ``expires_at`` has passed, locked (skip-locked) for the TTL sweep."""
    stmt = (
        select(Memory)
        .where(Memory.expires_at.is_not(None), Memory.expires_at <= now, Memory.status != "deleted")
        .order_by(Memory.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def cold(session: Session, *, unused_since: datetime, heat_below: float, limit: int) -> list[Memory]:
    """Active plaintext memories nobody has used since ``unused_since`` (nor created after it), with heat under
    ``heat_below`` and no pin, locked (skip-locked) for the archive sweep."""
    stmt = (
        select(Memory)
        .outerjoin(MemoryAccess, MemoryAccess.memory_id == Memory.id)
        .where(Memory.kind == "plaintext", Memory.status == "active", Memory.tier != "archived",
               Memory.heat < heat_below, Memory.pinned_at.is_(None),
               func.coalesce(MemoryAccess.last_accessed_at, Memory.created_at) < unused_since)
        .limit(limit)
        .with_for_update(of=Memory, skip_locked=True)
    )
    return list(session.scalars(stmt))


def archived_by_scheduler(session: Session, ids: list[uuid.UUID]) -> list[Memory]:
    """Those of ``ids`` the archive sweep moved out (tier ``archived``), locked (skip-locked) to restore."""
    if not ids:
        return []
    stmt = (select(Memory).where(Memory.id.in_(ids), Memory.tier == "archived", Memory.status == "archived")
            .with_for_update(skip_locked=True))
    return list(session.scalars(stmt))
