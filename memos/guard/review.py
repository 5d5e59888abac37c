"""Quarantine and review: the owner's queue of quarantined memories, and approve / reject as new versions.

Approving releases a memory (``active``, its score kept, the verdict naming the reviewer). Rejecting retracts
it (``deleted``) and leaves a lesson: later records that resemble it are screened harder
(:mod:`memos.guard.screen`). Both are versions by the reviewer's key, so the history shows who decided what.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory
from memcube.repository import guard as repo
from memcube.repository import memories as memories_repo
from memos.cubes.service import load_cube
from memos.errors import Conflict, InvalidInput
from memos.guard.metrics import REVIEWS
from memos.guard.screen import cube_settings
from memos.memories.service import get_memory
from memos.memories.versions import append_version
from memos.tenants.service import Principal


def get_settings(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID) -> schemas.GuardSettings:
    cube, _ = load_cube(session, cube_id, tenant_id)
    return cube_settings(cube)


def put_settings(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID,
                 settings: schemas.GuardSettings) -> schemas.GuardSettings:
    cube, _ = load_cube(session, cube_id, tenant_id, need="owner")
    cube.guard = settings.model_dump(mode="json")
    return settings


CURSOR_PATTERN = r"^[01]\.[0-9]{17}_[0-9a-f]{32}$"  # every string it matches is a cursor this route accepts


def _cursor(m: Memory) -> str:
    # 17 decimals: a score in [0, 1] round-trips exactly (the keyset compares it for equality).
    return f"{float(m.risk):.17f}_{m.id.hex}"


def _after(cursor: str | None) -> tuple[float, uuid.UUID] | None:
    if cursor is None:
        return None
    risk, _, mid = cursor.partition("_")
    try:
        return float(risk), uuid.UUID(hex=mid)
    except ValueError as exc:
        raise InvalidInput("not a cursor this endpoint returned") from exc


def quarantine(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, limit: int,
               cursor: str | None) -> tuple[list[Memory], str | None]:
    """The cube's quarantined memories, riskiest first; the owner's to review."""
    cube, _ = load_cube(session, cube_id, tenant_id, need="owner")
    rows = repo.quarantined(session, cube.id, limit=limit + 1, after=_after(cursor))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, _cursor(rows[-1]) if more and rows else None


def review(session: Session, memory_id: uuid.UUID, principal: Principal, body: schemas.ReviewRequest) -> Memory:
    assert principal.tenant_id is not None
    head, cube = get_memory(session, memory_id, principal.tenant_id, need="owner")
    head = memories_repo.get_memory(session, memory_id, lock=True) or head
    if head.status != "quarantined":
        raise Conflict(f"the memory is {head.status}, not quarantined: there is nothing to review")
    verdict: dict[str, Any] = dict(head.guard or {"score": head.risk, "reasons": {}})
    note = body.note
    if body.decision is schemas.ReviewDecision.approve:
        head.status = "active"
        reason = "approved by review"
    else:
        head.status = "deleted"
        reason = "rejected by review"
        learn(session, cube, head, decided_by=principal.actor, reason=note or reason)
    REVIEWS.labels(body.decision.value).inc()
    head.guard = {**verdict, "by": "review", "note": note}
    return append_version(session, head, actor=principal.actor,
                          reason=f"{reason}: {note}" if note else reason, cause=principal.cause)


def learn(session: Session, cube: Cube, memory: Memory, *, decided_by: str, reason: str,
          trigger: str | None = None) -> None:
    """A lesson from a rejected or dropped record (once per memory)."""
    if repo.has_lesson_for(session, memory.id):
        return
    provenance = memory.provenance or {}
    repo.add_lesson(session, {
        "id": uuid.uuid4(), "tenant_id": cube.tenant_id, "cube_id": cube.id, "memory_id": memory.id,
        "content": memory.content, "embedding": memory.embedding,
        "cues": dict((memory.guard or {}).get("reasons", {})), "source": provenance.get("source"),
        "actor": provenance.get("actor"), "trigger": trigger, "decided_by": decided_by, "reason": reason,
    })

