"""The re-link sweep (run by beat): memories whose neighbours changed since they were linked, or that were
never linked, are linked again, in bounded batches. No evolution here, so a sweep never cascades."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from memcube.repository import links as repo
from memos.linking.service import link_memories

# A memory younger than this is left to its own linking job.
GRACE = timedelta(minutes=10)


def relink_stale(session: Session, *, limit: int) -> int:
    """Re-link up to ``limit`` stale memories in the session's context (the system context sees all
    tenants); returns how many were re-linked. The caller commits."""
    stale = repo.stale_memories(session, limit=limit, unlinked_before=datetime.now(UTC) - GRACE)
    if not stale:
        return 0
    link_memories(session, [m.id for m in stale], evolve=False)
    return len(stale)
