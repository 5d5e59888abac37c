"""The scheduler's routes: pin and unpin a payload, the tiers' status, the moves they made.

The payloads are activations' KV snapshots (key: the blob's sha256) and parametric memories' LoRA adapters (key:
``lora/<model>/<sha256>``, ``memos.parametric.pool``), on one tier manager per process. A pin is kept on the
record (``memories.pinned_at``) and applied to this process's tiers at once (an adapter's only if its model is
loaded here: loading a model is not done inside a request's transaction); every other serving process applies it
the first time it serves the payload (``memos.activation.generation``, ``memos.parametric.serving``), so it holds
across processes and restarts. Tier state itself is per process: the status and the events are this process's.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from memcube.models import Memory
from memcube.repository import memories as memories_repo
from memos.activation.errors import FingerprintMismatch
from memos.activation.runtime import ActivationRuntime
from memos.cubes.service import load_cube
from memos.errors import Conflict, NotFound
from memos.parametric.pool import ADAPTER_PREFIX, adapter_key, split_key
from memos.scheduler import schemas
from memos.scheduler.tiers import TierEvent
from memos.scheduler.working import WorkingMemory

if TYPE_CHECKING:
    from memos.parametric.runtime import ParametricRuntime

ACTIVATION, PARAMETRIC = "activation", "parametric"
PAYLOAD_KINDS = frozenset({ACTIVATION, PARAMETRIC})


def _payload(session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID) -> tuple[Memory, str]:
    """The memory, locked, and its payload's key in the tiers (404 unless the tenant may change it; 409 for a
    kind with no payload, the record's state rather than a fault of the request, or a payload not made yet)."""
    head = memories_repo.get_memory(session, memory_id)
    if head is None or head.status == "deleted":
        raise NotFound("memory not found")
    load_cube(session, head.cube_id, tenant_id, need="write")
    if head.kind not in PAYLOAD_KINDS:
        raise Conflict(f"a {head.kind} memory has no payload to pin: pinning keeps an activation's KV snapshot"
                       " or a parametric memory's adapter in memory (plaintext memories move through working /"
                       " long-term / archived instead)")
    head = memories_repo.get_memory(session, memory_id, lock=True)
    if head is None:
        raise NotFound("memory not found")
    meta = head.meta or {}
    sha = meta.get("blob_sha256")
    if not sha:
        raise Conflict(f"the {head.kind} memory is {meta.get('state')}, not ready: nothing to pin yet",
                       detail={"state": meta.get("state")})
    if head.kind == PARAMETRIC:
        return head, adapter_key(str(meta["model"]), str(sha))
    return head, str(sha)


def pin(session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID, *, runtime: ParametricRuntime) -> Memory:
    """Keep the memory's payload in this process's memory tiers now and in every serving process from its next
    use (409 if pinned payloads would not fit the memory budgets together). The caller commits."""
    head, key = _payload(session, memory_id, tenant_id)
    try:
        if head.kind == PARAMETRIC:
            _pin_adapter(head, runtime)
        else:
            runtime.activation.cache.manager.pin(key)
    except ValueError as exc:
        raise Conflict(str(exc)) from None
    if head.pinned_at is None:
        head.pinned_at = datetime.now(UTC)
    return head


def _pin_adapter(head: Memory, runtime: ParametricRuntime) -> None:
    """Into the tiers now if its model is loaded in this process (else at its first use here, as in any other
    process: a model is not loaded inside a request's transaction)."""
    meta = head.meta or {}
    registry = runtime.activation.registry
    if meta["model"] not in registry.loaded():
        return
    lm = registry.load(str(meta["model"]))
    if lm.fingerprint != meta.get("fingerprint"):
        raise FingerprintMismatch(f"adapter {head.id} was registered for model {meta['model']!r} with other weights"
                                  ", config or tokenizer than it has now: it cannot be applied",
                                  detail={"adapter_fingerprint": meta.get("fingerprint"),
                                          "model_fingerprint": lm.fingerprint})
    runtime.pool.pin(lm, str(meta["blob_sha256"]), dict(meta["lora_config"]))


def unpin(session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID, *, runtime: ParametricRuntime) -> Memory:
    head, key = _payload(session, memory_id, tenant_id)
    runtime.activation.cache.manager.unpin(key)
    head.pinned_at = None
    return head


def status(runtime: ActivationRuntime) -> schemas.SchedulerStatus:
    manager = runtime.cache.manager
    st = manager.status()
    adapters: dict[str, int] = {}
    for key, (tier, _) in manager.resident().items():
        if key.startswith(ADAPTER_PREFIX):
            adapters[tier] = adapters.get(tier, 0) + 1
    tiers = [schemas.TierStatus(**t, adapters=adapters.get(t["name"], 0)) for t in st.pop("tiers")]
    return schemas.SchedulerStatus(tiers=tiers, **st)


def _blob(key: str) -> tuple[str, str]:
    """(kind, blob sha256) of a tier key."""
    if key.startswith(ADAPTER_PREFIX):
        return PARAMETRIC, split_key(key)[1]
    return ACTIVATION, key


def events(session: Session, runtime: ActivationRuntime, *, tenant_id: uuid.UUID | None,
           limit: int) -> list[schemas.TierMove]:
    """The latest moves, newest first. A tenant sees the moves of its own payloads (with their memory ids);
    the admin sees all of them (blob hashes only: no content)."""
    moves: list[TierEvent] = list(runtime.cache.manager.events)
    moves.reverse()
    owners: dict[tuple[str, str], list[uuid.UUID]] = {}
    shas = sorted({_blob(m.key)[1] for m in moves})
    if shas:
        rows = session.execute(
            select(Memory.id, Memory.kind, Memory.meta["blob_sha256"].astext)
            .where(Memory.kind.in_(PAYLOAD_KINDS), Memory.meta["blob_sha256"].astext.in_(shas))
        ).all()  # row-level security: a tenant's session sees its own memories only
        for memory_id, kind, sha in rows:
            owners.setdefault((kind, sha), []).append(memory_id)
    out: list[schemas.TierMove] = []
    for m in moves:
        kind, sha = _blob(m.key)
        mine = owners.get((kind, sha), [])
        if tenant_id is not None and not mine:
            continue
        out.append(schemas.TierMove(
            at=datetime.fromtimestamp(m.at, UTC), kind=kind, payload=sha, memory_ids=mine,
            source=m.source, target=m.target, bytes=m.nbytes, ms=round(m.seconds * 1000, 3), reason=m.reason))
        if len(out) >= limit:
            break
    return out


def describe(head: Memory, runtime: ActivationRuntime) -> dict[str, Any]:
    meta = head.meta or {}
    sha = str(meta.get("blob_sha256") or "")
    key = adapter_key(str(meta.get("model")), sha) if head.kind == PARAMETRIC else sha
    return {"memory_id": head.id, "kind": head.kind, "pinned": head.pinned_at is not None,
            "pinned_at": head.pinned_at, "payload": sha,
            "residency": runtime.cache.manager.residency(key) if sha else "disk"}


def plaintext_tiers(session: Session, working: WorkingMemory, *, tenant_id: uuid.UUID | None
                    ) -> schemas.PlaintextTiers:
    """Visible plaintext memories by tier (row-level security: the key's cubes) and live working memories."""
    rows = session.execute(
        select(Memory.status, func.count())
        .where(Memory.kind == "plaintext", Memory.status.in_(["active", "archived"]))
        .group_by(Memory.status)
    ).all()
    counts = {str(status): int(n) for status, n in rows}
    return schemas.PlaintextTiers(long_term=counts.get("active", 0), archived=counts.get("archived", 0),
                                  working_sessions=working.sessions(tenant_id))
