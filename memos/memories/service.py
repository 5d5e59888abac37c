"""Memories: write, read, version, roll back.

Every change appends a row to ``memory_versions`` and updates the head in the same transaction; the head
is derived from the history, never the only copy. A delete is a tombstone version.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory, MemoryVersion
from memcube.repository import cubes as cubes_repo
from memcube.repository import memories as repo
from memos.config import Settings
from memos.cubes.service import load_cube
from memos.embedding import Embedder
from memos.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from memos.guard.screen import cube_settings, rescreen, screen_batch
from memos.memories.provenance import client_provenance
from memos.memories.versions import SYSTEM_CAUSE, Attribution, VersionBatch, append_version, version_row
from memos.retrieval.documents import document_metadata, document_vectors
from memos.tenants.service import Principal

QUARANTINED_ON_WRITE = "created; quarantined by the guard (see `guard` for its reasons)"
QUARANTINED_ON_CHANGE = "quarantined by the guard (see `guard` for its reasons)"


@dataclass(frozen=True)
class Limits:
    max_content_chars: int = 32_000
    max_batch_size: int = 1_000
    max_metadata_bytes: int = 64_000

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(s.max_content_chars, s.max_batch_size, s.max_metadata_bytes)


def utc(dt: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def check_content(content: str, limits: Limits) -> None:
    if len(content) > limits.max_content_chars:
        raise PayloadTooLarge(
            f"content has {len(content)} characters; the limit is {limits.max_content_chars}"
        )
    if "\x00" in content:
        raise InvalidInput("content must not contain NUL characters")


def check_metadata(metadata: dict[str, Any], limits: Limits) -> None:
    try:
        encoded = json.dumps(metadata, allow_nan=False)
    except ValueError as exc:
        raise InvalidInput("metadata must be plain JSON (no NaN or Infinity)") from exc
    if len(encoded) > limits.max_metadata_bytes:
        raise PayloadTooLarge(f"metadata is {len(encoded)} bytes; the limit is {limits.max_metadata_bytes}")
    if "\\u0000" in encoded:
        raise InvalidInput("metadata must not contain NUL characters")


def check_tags(tags: Sequence[str]) -> list[str]:
    clean: list[str] = []
    for tag in tags:
        tag = tag.strip()
        if not tag or len(tag) > 200 or "\x00" in tag:
            raise InvalidInput("tags must be non-empty strings of at most 200 characters")
        if tag not in clean:
            clean.append(tag)
    return clean


def provenance_dict(p: schemas.Provenance | None, *, actor: str) -> dict[str, Any]:
    prov = p or schemas.Provenance()
    data = prov.model_dump(mode="json")
    data["actor"] = data.get("actor") or actor
    return data


def add_memories(
    session: Session,
    cube: Cube,
    items: Sequence[schemas.MemoryCreate],
    *,
    actor: str,
    limits: Limits,
    embedder: Embedder,
    extra: Sequence[dict[str, Any]] | None = None,
    embeddings: Any = None,
    caller: Principal | None = None,
    cause: Attribution | Sequence[Attribution] = SYSTEM_CAUSE,
) -> list[Memory]:
    """Validate, embed in one batch, insert heads and their first versions in one transaction.
    ``embeddings`` (one per item) skips the embedding when the caller already has the vectors.
    ``caller``: a client's request, whose provenance may not assert reserved values (``client_provenance``)
    and whose key the versions name; ``cause``: who caused a server-side write (a job's key, tenant and id),
    one for all items or one per item."""
    if len(items) > limits.max_batch_size:
        raise PayloadTooLarge(f"{len(items)} memories in one request; the limit is {limits.max_batch_size}")
    for item in items:
        check_content(item.content, limits)
        check_metadata(item.metadata, limits)
    if caller is not None:
        cause = caller.cause
        provenances = [client_provenance(item.provenance, actor=caller.actor, max_trust=caller.max_trust)
                       for item in items]
    else:
        provenances = [provenance_dict(item.provenance, actor=actor) for item in items]
    # Indexed as "role: content" blended with the session's previous vector; relative dates resolved.
    vectors = document_vectors(session, cube, items, embedder) if embeddings is None else embeddings
    # The guard screens every plaintext write; a risky one is stored quarantined (kept, out of search).
    risks = screen_batch(session, cube, [it.content for it in items], provenances, vectors)
    threshold = cube_settings(cube).quarantine_threshold
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        prov = provenances[i]
        risk = risks[i]
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "tenant_id": cube.tenant_id,
            "cube_id": cube.id,
            "kind": item.kind.value,
            "status": "quarantined" if risk.score >= threshold else "active",
            "risk": risk.score,
            "guard": risk.verdict() if risk.reasons else None,
            "tier": "long_term",
            "content": item.content,
            "meta": document_metadata(item),
            "tags": check_tags(item.tags),
            "keywords": [],
            "session_id": item.session_id or prov.get("session_id"),
            "role": item.role,
            "provenance": prov,
            "trust": float(prov.get("trust", 0.5)),
            "embedding": vectors[i],
            "event_time": utc(item.event_time),
            "version": 1,
            # Distinct, ordered timestamps keep a batch in its given order under keyset pagination.
            "created_at": now + timedelta(microseconds=i),
            "updated_at": now,
        }
        if extra is not None:
            row.update(extra[i])
        rows.append(row)
    heads = repo.insert_memories(session, rows)
    causes = [cause] * len(heads) if isinstance(cause, Attribution) else list(cause)
    repo.insert_versions(session, [
        version_row(h, actor=actor, reason="created" if h.status == "active" else QUARANTINED_ON_WRITE, at=now,
                    cause=c)
        for h, c in zip(heads, causes, strict=True)])
    return heads


def refuse_direct_change(head: Memory) -> None:
    """Activation memories change through their builds (see ``memos.activation.service``), parametric ones
    through uploads, training and their own rollback (``memos.parametric.service``: it re-points the blob)."""
    if head.kind == "activation":
        raise Conflict("an activation memory changes through its builds: extend it (POST /v1/activations/{id}"
                       "/extend) or create another; changes to its source memories rebuild it")
    if head.kind == "parametric":
        raise Conflict("a parametric memory changes through new versions of its weights: POST /v1/adapters/{id}"
                       "/versions (upload), POST /v1/cubes/{cube_id}/adapters/train with adapter_id, or "
                       "POST /v1/adapters/{id}/rollback")


def get_memory(
    session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID, *, need: str = "read"
) -> tuple[Memory, Cube]:
    memory = repo.get_memory(session, memory_id)
    if memory is None:
        raise NotFound("memory not found")
    cube, _ = load_cube(session, memory.cube_id, tenant_id, need=need)  # type: ignore[arg-type]
    if need == "write":
        # Lock only after the access check: FOR UPDATE applies the write policy, which would turn a
        # read-only grantee's 403 into a 404.
        memory = repo.get_memory(session, memory_id, lock=True)
        if memory is None:
            raise NotFound("memory not found")
    return memory, cube


def read_as_of(session: Session, memory: Memory, at: datetime) -> MemoryVersion:
    version = repo.version_as_of(session, memory.id, utc(at) or at)
    if version is None:
        raise NotFound("the memory did not exist at that time")
    return version


def update_memory(
    session: Session,
    memory_id: uuid.UUID,
    tenant_id: uuid.UUID,
    patch: schemas.MemoryUpdate,
    *,
    actor: str,
    limits: Limits,
    embedder: Embedder,
    cause: Attribution = SYSTEM_CAUSE,
) -> Memory:
    head, _ = get_memory(session, memory_id, tenant_id, need="write")
    refuse_direct_change(head)
    if head.status == "deleted":
        raise Conflict("the memory is deleted; roll it back to a live version first")
    if patch.expected_version is not None and patch.expected_version != head.version:
        raise Conflict(f"version {patch.expected_version} expected, the memory is at {head.version}")
    if patch.content is None and patch.metadata is None and patch.tags is None and patch.event_time is None:
        raise InvalidInput("nothing to change: give content, metadata, tags or event_time")
    if patch.content is not None and patch.content != head.content:
        check_content(patch.content, limits)
        head.content = patch.content
        head.embedding = embedder.embed_one(patch.content)
    if patch.metadata is not None:
        check_metadata(patch.metadata, limits)
        head.meta = patch.metadata
    if patch.tags is not None:
        head.tags = check_tags(patch.tags)
    if patch.event_time is not None:
        head.event_time = utc(patch.event_time)
    reason = patch.reason or "updated"
    if patch.content is not None and _rescreen(session, head):
        reason = f"{reason}; {QUARANTINED_ON_CHANGE}"
    return append_version(session, head, actor=actor, reason=reason, cause=cause)


def _rescreen(session: Session, head: Memory) -> bool:
    cube = cubes_repo.get_cube(session, head.cube_id)
    return cube is not None and rescreen(session, head, cube)


def revise(
    session: Session,
    head: Memory,
    *,
    actor: str,
    reason: str,
    provenance: dict[str, Any],
    content: str | None = None,
    embedding: Any = None,
    metadata: dict[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    event_time: datetime | None = None,
    context: str | None = None,
    keywords: Sequence[str] | None = None,
    batch: VersionBatch | None = None,
    cause: Attribution | None = None,
) -> Memory:
    """A new version written by the system (consolidation, linking) with its own provenance: what it
    came from and what it superseded. ``embedding`` must match ``content`` when both are given. With
    ``batch``, the version is written by ``batch.write()`` together with the batch's others."""
    changed = False
    if content is not None and content != head.content:
        head.content = content
        head.embedding = embedding
        changed = True
    if metadata is not None:
        head.meta = metadata
    if tags is not None:
        head.tags = check_tags(tags)
    if event_time is not None:
        head.event_time = utc(event_time)
    if context is not None:
        head.context = context
    if keywords is not None:
        head.keywords = list(keywords)
    head.provenance = provenance
    head.trust = float(provenance.get("trust", head.trust))
    if changed and _rescreen(session, head):
        reason = f"{reason}; {QUARANTINED_ON_CHANGE}"
    return append_version(session, head, actor=actor, reason=reason, batch=batch, cause=cause)


def set_status(
    session: Session, head: Memory, status: str, *, actor: str, reason: str | None,
    batch: VersionBatch | None = None, cause: Attribution | None = None,
) -> Memory:
    """Change a memory's status as a new version (delete, quarantine, archive, restore)."""
    head.status = status
    return append_version(session, head, actor=actor, reason=reason, batch=batch, cause=cause)


def delete_memory(
    session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID, *, actor: str, reason: str | None = None,
    cause: Attribution = SYSTEM_CAUSE,
) -> Memory:
    head, _ = get_memory(session, memory_id, tenant_id, need="write")
    if head.status == "deleted":
        return head  # deleting twice is a no-op, not a second tombstone
    return set_status(session, head, "deleted", actor=actor, reason=reason or "deleted", cause=cause)


def rollback(
    session: Session,
    memory_id: uuid.UUID,
    tenant_id: uuid.UUID,
    *,
    version: int,
    actor: str,
    reason: str | None,
    embedder: Embedder,
    cause: Attribution = SYSTEM_CAUSE,
) -> Memory:
    head, _ = get_memory(session, memory_id, tenant_id, need="write")
    refuse_direct_change(head)
    old = repo.get_version(session, head.id, version)
    if old is None:
        raise NotFound(f"version {version} not found")
    if old.content != head.content:
        head.embedding = embedder.embed_one(old.content)
    head.content = old.content
    head.meta = old.meta
    head.tags = old.tags
    head.event_time = old.event_time
    head.status = old.status
    return append_version(session, head, actor=actor, reason=reason or f"rollback to version {version}",
                          cause=cause)


def history(session: Session, memory_id: uuid.UUID, tenant_id: uuid.UUID) -> list[MemoryVersion]:
    head, _ = get_memory(session, memory_id, tenant_id)
    return repo.history(session, head.id)


def list_memories(
    session: Session,
    cube: Cube,
    *,
    limit: int,
    cursor: str | None,
    status: str | None,
    kind: str | None,
    tag: str | None,
) -> tuple[list[Memory], str | None]:
    flt = repo.MemoryFilter(
        cube_ids=[cube.id],
        statuses=[status] if status else ("active", "quarantined", "archived"),
        kind=kind,
        tags=[tag] if tag else None,
    )
    after = decode_cursor(cursor) if cursor else None
    rows = repo.list_memories(session, flt, limit=limit + 1, after=after)
    next_cursor = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor


def encode_cursor(m: Memory) -> str:
    import base64

    return base64.urlsafe_b64encode(f"{m.created_at.isoformat()}|{m.id}".encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    import base64
    import binascii

    try:
        created, mid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(created), uuid.UUID(mid)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("malformed cursor") from exc


def to_schema(m: Memory) -> schemas.Memory:
    return schemas.Memory(
        id=m.id,
        cube_id=m.cube_id,
        kind=schemas.MemoryKind(m.kind),
        status=schemas.MemoryStatus(m.status),
        tier=schemas.Tier(m.tier),
        content=m.content,
        metadata=m.meta or {},
        tags=list(m.tags or []),
        keywords=list(m.keywords or []),
        context=m.context,
        session_id=m.session_id,
        role=m.role,
        version=m.version,
        created_at=m.created_at,
        updated_at=m.updated_at,
        event_time=m.event_time,
        provenance=schemas.Provenance.model_validate(m.provenance) if m.provenance else None,
        access_count=m.access_count or 0,
        last_accessed_at=m.last_accessed_at,
        risk=m.risk or 0.0,
        guard=schemas.GuardVerdict.model_validate(m.guard) if m.guard else None,
    )


def version_to_schema(v: MemoryVersion) -> schemas.MemoryVersion:
    return schemas.MemoryVersion(
        version=v.version,
        status=schemas.MemoryStatus(v.status),
        content=v.content,
        metadata=v.meta or {},
        tags=list(v.tags or []),
        event_time=v.event_time,
        provenance=schemas.Provenance.model_validate(v.provenance) if v.provenance else None,
        actor=v.actor,
        reason=v.reason,
        valid_from=v.valid_from,
        valid_to=v.valid_to,
        caused_by_key_id=v.caused_by_key_id,
        caused_by_tenant_id=v.caused_by_tenant_id,
        job_id=v.job_id,
        risk=v.risk,
        guard=schemas.GuardVerdict.model_validate(v.guard) if v.guard else None,
    )


def as_of_schema(head: Memory, v: MemoryVersion) -> schemas.Memory:
    """The memory as it was in version ``v``."""
    base = to_schema(head)
    return base.model_copy(
        update={
            "status": schemas.MemoryStatus(v.status),
            "content": v.content,
            "metadata": v.meta or {},
            "tags": list(v.tags or []),
            "event_time": v.event_time,
            "version": v.version,
            "updated_at": v.valid_from,
            "provenance": schemas.Provenance.model_validate(v.provenance) if v.provenance else None,
            "risk": v.risk or 0.0,
            "guard": schemas.GuardVerdict.model_validate(v.guard) if v.guard else None,
        }
    )
