"""The scheduler's routes: pin and unpin a payload, the tiers' status, the moves they made.

A pin is kept on the record (``memories.pinned_at``) and applied to this process's tiers at once; every other
serving process applies it the first time it serves the payload (``memos.activation.generation``), so it holds
across processes and restarts. Tier state itself is per process: the status and the events are this
process's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from memcube.models import Memory
from memcube.repository import memories as memories_repo
from memos.activation.runtime import ActivationRuntime
from memos.cubes.service import load_cube
from memos.errors import Conflict, NotFound
from memos.scheduler import schemas
from memos.scheduler.tiers import TierEvent

PAYLOAD_KINDS = frozenset({"activation"})


def _payload(session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID) -> tuple[Memory, str]:
    """The memory, locked, and the blob its payload lives in (404 unless the tenant may change it; 409 for a
    kind with no payload, the record's state rather than a fault of the request, or a snapshot not built yet)."""
    head = memories_repo.get_memory(session, memory_id)
    if head is None or head.status == "deleted":
        raise NotFound("memory not found")
    load_cube(session, head.cube_id, tenant_id, need="write")
    if head.kind not in PAYLOAD_KINDS:
        raise Conflict(f"a {head.kind} memory has no payload to pin: pinning keeps an activation's KV snapshot"
                           " in memory (plaintext memories move through working / long-term / archived instead)")
    head = memories_repo.get_memory(session, memory_id, lock=True)
    if head is None:
        raise NotFound("memory not found")
    sha = (head.meta or {}).get("blob_sha256")
    if not sha:
        raise Conflict(f"the activation is {(head.meta or {}).get('state')}, not ready: nothing to pin yet",
                       detail={"state": (head.meta or {}).get("state")})
    return head, str(sha)


def pin(session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID, *, runtime: ActivationRuntime) -> Memory:
    """Keep the memory's payload in this process's memory tiers now and in every serving process from its next
    use (409 if pinned payloads would not fit the memory budgets together). The caller commits."""
    head, sha = _payload(session, memory_id, tenant_id)
    try:
        runtime.cache.manager.pin(sha)
    except ValueError as exc:
        raise Conflict(str(exc)) from None
    if head.pinned_at is None:
        head.pinned_at = datetime.now(UTC)
    return head


def unpin(session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID, *, runtime: ActivationRuntime) -> Memory:
    head, sha = _payload(session, memory_id, tenant_id)
    runtime.cache.manager.unpin(sha)
    head.pinned_at = None
    return head


def status(runtime: ActivationRuntime) -> schemas.SchedulerStatus:
    st = runtime.cache.manager.status()
    tiers = [schemas.TierStatus(**t) for t in st.pop("tiers")]
    return schemas.SchedulerStatus(tiers=tiers, **st)


def events(session: Session, runtime: ActivationRuntime, *, tenant_id: uuid.UUID | None,
           limit: int) -> list[schemas.TierMove]:
    """The latest moves, newest first. A tenant sees the moves of its own payloads (with their memory ids);
    the admin sees all of them (blob hashes only: no content)."""
    moves: list[TierEvent] = list(runtime.cache.manager.events)
    moves.reverse()
    owners: dict[str, list[uuid.UUID]] = {}
    shas = sorted({m.key for m in moves})
    if shas:
        rows = session.execute(
            select(Memory.id, Memory.meta["blob_sha256"].astext)
            .where(Memory.kind.in_(PAYLOAD_KINDS), Memory.meta["blob_sha256"].astext.in_(shas))
        ).all()  # row-level security: a tenant's session sees its own memories only
        for memory_id, sha in rows:
            owners.setdefault(sha, []).append(memory_id)
    out: list[schemas.TierMove] = []
    for m in moves:
        if tenant_id is not None and m.key not in owners:
            continue
        out.append(schemas.TierMove(
            at=datetime.fromtimestamp(m.at, UTC), payload=m.key, memory_ids=owners.get(m.key, []),
            source=m.source, target=m.target, bytes=m.nbytes, ms=round(m.seconds * 1000, 3), reason=m.reason))
        if len(out) >= limit:
            break
    return out


def describe(head: Memory, runtime: ActivationRuntime) -> dict[str, Any]:
    sha = str((head.meta or {}).get("blob_sha256") or "")
    return {"memory_id": head.id, "pinned": head.pinned_at is not None, "pinned_at": head.pinned_at,
            "payload": sha, "residency": runtime.cache.manager.residency(sha) if sha else "disk"}
