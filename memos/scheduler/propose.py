"""Transformations, plaintext -> parametric: stable, heavily used knowledge is proposed for a LoRA adapter.

A sweep (``sweeps.propose``, every ``MEMOS_SWEEP_PROPOSE_EVERY_S``) looks per cube for the active plaintext
memories that contexts and searches return often (``access_count`` at least ``MEMOS_PROPOSE_MIN_USES``) and that
nobody has changed for ``MEMOS_PROPOSE_STABLE_DAYS``. A cube with at least ``MEMOS_PROPOSE_MIN_MEMORIES`` of them
(and no proposal of its own still open, nor one made within ``MEMOS_PROPOSE_STABLE_DAYS``) gets a parametric
memory in state ``proposed``: written by ``system:scheduler``, its provenance the memories (and versions) it
would learn, its reason the figures. Nothing is trained until the cube's owner approves it
(``POST /v1/adapters/{id}/approve``): then it is the same ``parametric.train`` job a client would start, the
approval a version by the approver. A rejection is a version too (state ``rejected``), and keeps the cube from a
new proposal for the same period. Off unless ``MEMOS_PROPOSE_MODEL`` names a model.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from memcube import schemas
from memcube.db import SYSTEM, tenant_session
from memcube.models import Cube, Memory, MemoryAccess
from memcube.repository import jobs as jobs_repo
from memcube.repository import memories as memories_repo
from memos.activation.service import live_sources
from memos.config import Settings
from memos.cubes.service import load_cube
from memos.errors import Conflict, InvalidInput
from memos.memories.versions import append_version, version_row
from memos.parametric import service as adapters
from memos.parametric.errors import AdapterNotFound
from memos.scheduler.transform import ACTOR, configured_model
from memos.tenants.service import Principal

log = logging.getLogger(__name__)
PROPOSED = schemas.AdapterState.proposed.value
REJECTED = schemas.AdapterState.rejected.value
SOURCE = "proposal"


def propose_adapters(sessions: sessionmaker[Session], settings: Settings, *, max_cubes: int = 20) -> int:
    """Write a proposal for each cube with enough stable, heavily used memories; how many were written."""
    if not configured_model(settings, settings.propose_model, "MEMOS_PROPOSE_MODEL"):
        return 0
    now = datetime.now(UTC)
    stable_before = now - timedelta(days=settings.propose_stable_days)
    written = 0
    with tenant_session(sessions, SYSTEM) as session:
        for tenant_id, cube_id in _ripe_cubes(session, settings, stable_before, limit=max_cubes):
            memories = _stable_memories(session, cube_id, settings, stable_before)
            _write_proposal(session, tenant_id, cube_id, memories, settings, now)
            written += 1
    if written:
        log.info("proposals: %d cubes proposed for a LoRA adapter", written)
    return written


_USED = (MemoryAccess, MemoryAccess.memory_id == Memory.id)  # a memory never found has no row: not used


def _stable(settings: Settings, stable_before: datetime) -> list[Any]:
    """Conditions on memories joined with their ``MemoryAccess`` row (``_USED``)."""
    return [Memory.kind == "plaintext", Memory.status == "active",
            MemoryAccess.access_count >= settings.propose_min_uses, Memory.updated_at <= stable_before]


def _ripe_cubes(session: Session, settings: Settings, stable_before: datetime, *,
                limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """Cubes with enough stable, heavily used memories and no proposal open or made within the period."""
    recent = (select(Memory.cube_id).where(
        Memory.kind == adapters.KIND, Memory.meta["proposal"].astext == "true",
        (Memory.meta["state"].astext == PROPOSED) | (Memory.created_at > stable_before)))
    rows = session.execute(
        select(Memory.tenant_id, Memory.cube_id)
        .join(*_USED)
        .where(*_stable(settings, stable_before), Memory.cube_id.not_in(recent))
        .group_by(Memory.tenant_id, Memory.cube_id)
        .having(func.count() >= settings.propose_min_memories)
        .order_by(func.count().desc())
        .limit(limit)
    ).all()
    return [(t, c) for t, c in rows]


def _stable_memories(session: Session, cube_id: uuid.UUID, settings: Settings, stable_before: datetime) -> list[Memory]:
    return list(session.scalars(
        select(Memory).join(*_USED).where(Memory.cube_id == cube_id, *_stable(settings, stable_before))
        .order_by(MemoryAccess.access_count.desc(), Memory.id).limit(settings.propose_max_memories)))


def _write_proposal(session: Session, tenant_id: uuid.UUID, cube_id: uuid.UUID, memories: list[Memory],
                    settings: Settings, now: datetime) -> Memory:
    uses = min(m.access_count for m in memories)
    reason = (f"proposed: {len(memories)} memories used at least {uses} times each and unchanged for "
              f"{settings.propose_stable_days:g} days")
    # ``proposal`` stays when training replaces ``source``: the cube's last proposal is known whatever came of it.
    meta = {"state": PROPOSED, "model": settings.propose_model, "source": SOURCE, "proposal": True,
            "name": f"proposed from {len(memories)} stable memories"}
    prov = schemas.Provenance(source=schemas.SourceType.system, actor=ACTOR, memory_ids=[m.id for m in memories],
                              memory_versions=[m.version for m in memories], trust=0.5,
                              note=reason).model_dump(mode="json")
    row = {"id": uuid.uuid4(), "tenant_id": tenant_id, "cube_id": cube_id, "kind": adapters.KIND,
           "status": "active", "tier": "long_term",
           "content": f"Proposed LoRA adapter for model {settings.propose_model} on {len(memories)} stable, heavily "
           "used memories (awaiting approval)", "meta": meta, "tags": [], "keywords": [], "provenance": prov,
           "trust": 0.5, "embedding": None, "version": 1, "created_at": now, "updated_at": now}
    (head,) = memories_repo.insert_memories(session, [row])
    memories_repo.insert_versions(session, [version_row(head, actor=ACTOR, reason=reason, at=now)])
    return head


def _proposal(session: Session, adapter_id: uuid.UUID, tenant_id: uuid.UUID) -> tuple[Memory, Cube]:
    """The proposal, locked, and its cube: 404 unless the tenant owns the cube; 409 unless it is still open."""
    head = memories_repo.get_memory(session, adapter_id)
    if head is None or head.kind != adapters.KIND or head.status == "deleted":
        raise AdapterNotFound("adapter not found")
    cube, _ = load_cube(session, head.cube_id, tenant_id, need="owner")
    head = memories_repo.get_memory(session, adapter_id, lock=True)
    assert head is not None
    state = (head.meta or {}).get("state")
    if state != PROPOSED:
        raise Conflict(f"the adapter is {state}, not a proposal awaiting a decision", detail={"state": state})
    return head, cube


def approve(session: Session, adapter_id: uuid.UUID, *, principal: Principal, note: str | None,
            steps: int, rank: int, learning_rate: float, max_steps: int) -> tuple[Memory, uuid.UUID]:
    """Start the proposal's training job on those of its memories still live; a version by the approver. The
    caller commits."""
    assert principal.tenant_id is not None
    head, cube = _proposal(session, adapter_id, principal.tenant_id)
    if steps > max_steps:
        raise InvalidInput(f"steps {steps} is over the limit {max_steps} (MEMOS_ADAPTER_TRAIN_MAX_STEPS)")
    proposed = [uuid.UUID(str(m)) for m in (head.provenance or {}).get("memory_ids", [])]
    live = [m.id for m in memories_repo.get_memories(session, proposed, with_embedding=False)
            if m.status == "active" and m.kind == "plaintext" and m.cube_id == cube.id]
    if not live:
        raise Conflict("none of the proposed memories is live any more: reject the proposal")
    sources = live_sources(session, cube, live)
    meta = head.meta or {}
    job, _ = jobs_repo.enqueue(
        session, tenant_id=principal.tenant_id, cube_id=cube.id, type=adapters.JOB_TYPE, key_id=principal.key_id,
        payload={"adapter_id": str(head.id), "memory_ids": [str(m.id) for m in sources], "steps": steps,
                 "rank": rank, "learning_rate": learning_rate, "model": meta.get("model")})
    head.meta = {**meta, "state": adapters.TRAINING, "job_id": str(job.id)}
    append_version(session, head, actor=principal.actor, cause=principal.cause,
                   reason=f"proposal approved ({len(sources)} of {len(proposed)} memories still live)"
                   + (f": {note}" if note else ""))
    return head, job.id


def reject(session: Session, adapter_id: uuid.UUID, *, principal: Principal, note: str | None) -> Memory:
    """Close the proposal without training; a version by the reviewer. The caller commits."""
    assert principal.tenant_id is not None
    head, _ = _proposal(session, adapter_id, principal.tenant_id)
    head.meta = {**(head.meta or {}), "state": REJECTED}
    append_version(session, head, actor=principal.actor, cause=principal.cause,
                   reason="proposal rejected" + (f": {note}" if note else ""))
    return head
