"""Activation memories (KV-cache snapshots): their heads, the snapshots that depend on a memory, blobs."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, defer

from memcube.models import Memory, MemoryVersion, PayloadBlob

KIND = "activation"
DEPENDANTS_CHUNK = 200  # containment tests per statement (one GIN probe each, OR-ed into a bitmap)


def dependants(session: Session, memory_ids: Sequence[uuid.UUID], *, actor: str) -> list[uuid.UUID]:
    """Activation memories whose history names any of ``memory_ids`` as a source: a containment probe per id
    on the GIN index of ``memory_versions.provenance`` (the actor narrows it to snapshots' versions)."""
    found: set[uuid.UUID] = set()
    ids = [str(m) for m in memory_ids]
    for start in range(0, len(ids), DEPENDANTS_CHUNK):
        probes = [MemoryVersion.provenance.contains({"actor": actor, "memory_ids": [m]})
                  for m in ids[start:start + DEPENDANTS_CHUNK]]
        found.update(session.scalars(select(MemoryVersion.memory_id).where(or_(*probes)).distinct()))
    return sorted(found)


def heads(session: Session, ids: Sequence[uuid.UUID], *, lock: bool = False) -> list[Memory]:
    """Live activation heads among ``ids``, locked in id order when asked (the rows as locked)."""
    if not ids:
        return []
    stmt = (select(Memory).options(defer(Memory.embedding))
            .where(Memory.id.in_(list(ids)), Memory.kind == KIND, Memory.status == "active").order_by(Memory.id))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(stmt))


def list_in_cube(session: Session, cube_id: uuid.UUID, *, limit: int) -> list[Memory]:
    """The cube's live activation memories, newest first."""
    stmt = (select(Memory).options(defer(Memory.embedding))
            .where(Memory.cube_id == cube_id, Memory.kind == KIND, Memory.status != "deleted")
            .order_by(Memory.created_at.desc(), Memory.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def sources(session: Session, ids: Sequence[uuid.UUID]) -> list[Memory]:
    """The memories of ``ids`` that exist (any kind, any status; RLS hides other tenants')."""
    if not ids:
        return []
    stmt = select(Memory).options(defer(Memory.embedding)).where(Memory.id.in_(list(ids)))
    return list(session.scalars(stmt))


def ensure_blob(session: Session, values: dict[str, Any]) -> uuid.UUID:
    """The ``payload_blobs`` row of (tenant, sha256), inserted if missing (a re-run re-uses it)."""
    stmt = insert(PayloadBlob).values(id=uuid.uuid4(), **values).on_conflict_do_nothing().returning(PayloadBlob.id)
    inserted = session.scalar(stmt)
    if inserted is not None:
        return inserted
    existing = session.scalar(select(PayloadBlob.id).where(PayloadBlob.tenant_id == values["tenant_id"],
                                                           PayloadBlob.sha256 == values["sha256"]))
    assert existing is not None
    return existing


def versions_of(
    session: Session, pairs: Sequence[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], tuple[str, str]]:
    """(memory id, version) -> (content, status) of those versions."""
    if not pairs:
        return {}
    rows = session.execute(select(MemoryVersion.memory_id, MemoryVersion.version, MemoryVersion.content,
                                  MemoryVersion.status)
                           .where(tuple_(MemoryVersion.memory_id, MemoryVersion.version).in_(list(pairs))))
    return {(r.memory_id, r.version): (r.content, r.status) for r in rows}


def predicted_payloads(session: Session, cube_id: uuid.UUID, memory_ids: Sequence[uuid.UUID], *,
                       kind: str) -> list[tuple[dict[str, Any], int, int]]:
    """Memories of ``kind`` in the cube with a payload (a blob), made from any of ``memory_ids``: (their metadata,
    number of sources, how many of them are among ``memory_ids``). A cube's payload memories are few; ``?|``
    filters them in the scan."""
    if not memory_ids:
        return []
    ids = [str(m) for m in memory_ids]
    rows = session.execute(text(
        "SELECT metadata AS meta, jsonb_array_length(provenance->'memory_ids') AS sources,"
        " (SELECT count(*) FROM jsonb_array_elements_text(provenance->'memory_ids') AS e(id)"
        "   WHERE e.id = ANY(CAST(:ids AS text[]))) AS overlap"
        " FROM memories WHERE cube_id = :cube AND kind = :kind AND status = 'active'"
        " AND metadata->>'blob_sha256' IS NOT NULL AND provenance->'memory_ids' ?| CAST(:ids AS text[])"
    ), {"cube": cube_id, "kind": kind, "ids": ids})
    return [(dict(r.meta), int(r.sources), int(r.overlap)) for r in rows]


def predicted(session: Session, cube_id: uuid.UUID, memory_ids: Sequence[uuid.UUID]) -> list[tuple[str, int, int]]:
    """Ready activations of the cube built from any of ``memory_ids``: (blob sha256, number of sources, overlap)."""
    return [(str(meta["blob_sha256"]), sources, overlap)
            for meta, sources, overlap in predicted_payloads(session, cube_id, memory_ids, kind=KIND)]
