"""Memories (heads), their append-only versions, and the queries that read them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    cast,
    column,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
    values,
)
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value

from memcube.models import Memory, MemoryVersion


@dataclass
class MemoryFilter:
    """Conditions pushed into SQL; ``None`` means "no condition"."""

    cube_ids: Sequence[uuid.UUID] = ()
    statuses: Sequence[str] = ("active",)
    kind: str | None = None
    tags: Sequence[str] | None = None
    metadata: dict[str, Any] | None = None
    session_id: str | None = None
    role: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None
    exclude_ids: Sequence[uuid.UUID] = field(default_factory=tuple)

    def clauses(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.cube_ids:
            out.append(Memory.cube_id.in_(list(self.cube_ids)))
        if self.statuses:
            out.append(Memory.status.in_(list(self.statuses)))
        if self.kind:
            out.append(Memory.kind == self.kind)
        if self.tags:
            out.append(Memory.tags.contains(list(self.tags)))
        if self.metadata:
            out.append(Memory.meta.contains(self.metadata))
        if self.session_id is not None:
            out.append(Memory.session_id == self.session_id)
        if self.role is not None:
            out.append(func.lower(Memory.role) == self.role.lower())
        # A memory without an event time falls back to when it was written.
        when = func.coalesce(Memory.event_time, Memory.created_at)
        if self.time_from is not None:
            out.append(when >= self.time_from)
        if self.time_to is not None:
            out.append(when <= self.time_to)
        if self.exclude_ids:
            out.append(Memory.id.not_in(list(self.exclude_ids)))
        return out


def insert_memories(session: Session, rows: list[dict[str, Any]]) -> list[Memory]:
    """Insert heads in one multi-row statement; returns them in input order."""
    if not rows:
        return []
    heads = list(session.scalars(insert(Memory).returning(Memory, sort_by_parameter_order=True), rows))
    for head in heads:  # nothing has found a new memory yet (else reading them would be one more statement)
        set_committed_value(head, "access_count", 0)
        set_committed_value(head, "last_accessed_at", None)
    return heads


def insert_versions(session: Session, rows: list[dict[str, Any]], *, render_nulls: bool = False) -> None:
    """``render_nulls``: None is sent as NULL instead of leaving the column out (to its default), so rows
    that differ only in which values are None still go out as one multi-row INSERT, not one per run of
    rows with the same missing keys."""
    if rows:
        stmt = insert(MemoryVersion)
        session.execute(stmt.execution_options(render_nulls=True) if render_nulls else stmt, rows)


def get_memory(session: Session, memory_id: uuid.UUID, *, lock: bool = False) -> Memory | None:
    """``lock``: FOR UPDATE, and the row as locked overwrites a copy the session already holds (read before
    the lock: another transaction may have committed a newer version since, whose number we would reuse)."""
    stmt = select(Memory).where(Memory.id == memory_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def get_memories(
    session: Session, memory_ids: Sequence[uuid.UUID], *, lock: bool = False, with_embedding: bool = True,
    refresh: bool = False,
) -> list[Memory]:
    """The heads of these ids (any order); ``lock`` locks them FOR UPDATE in id order (no lock cycles
    between two writers that each lock a set). ``with_embedding=False`` leaves the vector unread (parsing
    one costs ~0.1 ms; it is loaded if touched later). ``refresh`` overwrites heads the session already
    holds with what was read (after a lock: another transaction may have changed them since)."""
    if not memory_ids:
        return []
    stmt = select(Memory).where(Memory.id.in_(list(memory_ids)))
    if not with_embedding:
        stmt = stmt.options(defer(Memory.embedding))
    if refresh:
        stmt = stmt.execution_options(populate_existing=True)
    if lock:
        stmt = stmt.order_by(Memory.id).with_for_update()
    return list(session.scalars(stmt))


def list_memories(
    session: Session,
    flt: MemoryFilter,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None = None,
) -> list[Memory]:
    """Oldest first, keyset-paginated on (created_at, id)."""
    stmt = select(Memory).where(*flt.clauses())
    if after is not None:
        created, mid = after
        stmt = stmt.where(
            or_(Memory.created_at > created, and_(Memory.created_at == created, Memory.id > mid))
        )
    stmt = stmt.order_by(Memory.created_at, Memory.id).limit(limit)
    return list(session.scalars(stmt))


def close_current_versions(session: Session, closes: dict[uuid.UUID, datetime]) -> None:
    """Close the open version of each memory at its own time (memory id -> valid_to), in one statement."""
    if not closes:
        return
    session.execute(
        text(
            """
            UPDATE memory_versions AS v SET valid_to = c.at
            FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) AS c(id, at)
            WHERE v.memory_id = c.id AND v.valid_to IS NULL
            """
        ),
        {"ids": list(closes), "ats": list(closes.values())},
    )


# Head columns a write may change (the id is the key; tsv is computed by PostgreSQL).
_HEAD_KEYS = tuple(p.key for p in Memory.__mapper__.column_attrs if p.key not in ("id", "tsv"))
_ROWS_PER_UPDATE = 500  # bind parameters per statement stay far below PostgreSQL's 65,535


def flush_heads(session: Session, heads: Sequence[Memory]) -> None:
    """Write the changed columns of these persistent heads set-based: one ``UPDATE ... FROM (VALUES ...)``
    per set of changed columns, where the unit of work would send one UPDATE per row (each also firing the
    statement-level text-stats trigger). The heads are clean in the session afterwards."""
    groups: dict[tuple[str, ...], list[Memory]] = {}
    for head in heads:
        attrs = inspect(head).attrs
        keys = tuple(k for k in _HEAD_KEYS if attrs[k].history.has_changes())
        if keys:
            groups.setdefault(keys, []).append(head)
    table = Memory.metadata.tables[Memory.__tablename__]
    for keys, group in groups.items():
        cols = [Memory.__mapper__.column_attrs[k].columns[0] for k in keys]
        for start in range(0, len(group), _ROWS_PER_UPDATE):
            chunk = group[start:start + _ROWS_PER_UPDATE]
            v = values(column("id", table.c.id.type), *(column(f"c{i}", c.type) for i, c in enumerate(cols)),
                       name="v").data([(h.id, *(getattr(h, k) for k in keys)) for h in chunk])
            session.execute(
                update(table).where(table.c.id == v.c.id)
                .values({c.name: cast(v.c[f"c{i}"], c.type) for i, c in enumerate(cols)})
            )
        for head in group:
            for k in keys:
                set_committed_value(head, k, getattr(head, k))
            if "content" in keys:
                session.expire(head, ["tsv"])  # recomputed by PostgreSQL


def history(session: Session, memory_id: uuid.UUID) -> list[MemoryVersion]:
    return list(
        session.scalars(
            select(MemoryVersion).where(MemoryVersion.memory_id == memory_id).order_by(MemoryVersion.version)
        )
    )


def get_version(session: Session, memory_id: uuid.UUID, version: int) -> MemoryVersion | None:
    return session.scalar(
        select(MemoryVersion).where(MemoryVersion.memory_id == memory_id, MemoryVersion.version == version)
    )


def job_has_versions(session: Session, job_id: uuid.UUID) -> bool:
    """Whether the job has written any version (``memory_versions.job_id``, set by the server only)."""
    return bool(session.scalar(select(exists().where(MemoryVersion.job_id == job_id))))


def creator_tenants(session: Session, memory_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
    """The tenant whose request created each memory (its first version's ``caused_by_tenant_id``; None when
    not recorded: written before attribution, or by the system)."""
    if not memory_ids:
        return {}
    rows = session.execute(
        select(MemoryVersion.memory_id, MemoryVersion.caused_by_tenant_id)
        .where(MemoryVersion.memory_id.in_(list(memory_ids)), MemoryVersion.version == 1)
    )
    return {r.memory_id: r.caused_by_tenant_id for r in rows}


def version_as_of(session: Session, memory_id: uuid.UUID, at: datetime) -> MemoryVersion | None:
    return session.scalar(
        select(MemoryVersion).where(
            MemoryVersion.memory_id == memory_id,
            MemoryVersion.valid_from <= at,
            or_(MemoryVersion.valid_to.is_(None), MemoryVersion.valid_to > at),
        )
    )


def tune_vector_search(session: Session, *, ef_search: int = 100) -> None:
    """HNSW knobs for this transaction: a wider beam, and pgvector 0.8's iterative scan so that
    filters applied after the index scan (cube, status, tags...) still yield ``k`` rows. Free when the
    connection already has these values as its session defaults (memcube.db.HNSW_DEFAULTS)."""
    if session.connection().info.get("hnsw") == (ef_search, "relaxed_order"):
        return
    session.execute(
        text(
            "SELECT set_config('hnsw.ef_search', :ef, true),"
            " set_config('hnsw.iterative_scan', 'relaxed_order', true)"
        ),
        {"ef": str(ef_search)},
    )


# Search results never need the stored vector or tsvector: parsing 384 floats from text per candidate
# was ~20% of a search's CPU (py-spy). Deferred, they still load on access while the session is open.
_RESULT_ONLY = (defer(Memory.embedding), defer(Memory.tsv))


def dense_search(
    session: Session, embedding: Sequence[float], flt: MemoryFilter, *, limit: int
) -> list[tuple[Memory, float]]:
    """Nearest memories by cosine distance; returns (memory, similarity) best first."""
    distance = Memory.embedding.cosine_distance(list(embedding)).label("distance")
    stmt: Select[Any] = (
        select(Memory, distance)
        .options(*_RESULT_ONLY)
        .where(Memory.embedding.is_not(None), *flt.clauses())
        .order_by(distance)
        .limit(limit)
    )
    # Under hnsw.iterative_scan = relaxed_order the index may return rows slightly out of distance order
    # (pgvector 0.8): sorted again here, which costs nothing for k rows.
    rows = sorted(session.execute(stmt).all(), key=lambda r: float(r[1]))
    return [(m, 1.0 - float(d)) for m, d in rows]


def add_access_counts(session: Session, counts: dict[uuid.UUID, int], at: datetime) -> None:
    """Add search-hit counts to memories in one upsert of ``memory_access`` (ids that are gone are skipped).

    The memories rows are only read (for their cube); rows are written in id order, so two flushes (two
    processes) wait for each other instead of deadlocking."""
    if not counts:
        return
    ids = list(counts)
    hits = [counts[i] for i in ids]
    session.execute(
        text(
            """
            INSERT INTO memory_access AS a (memory_id, tenant_id, cube_id, access_count, last_accessed_at)
            SELECT m.id, m.tenant_id, m.cube_id, c.hits, CAST(:at AS timestamptz)
            FROM unnest(CAST(:ids AS uuid[]), CAST(:hits AS int[])) AS c(id, hits)
            JOIN memories AS m ON m.id = c.id
            ORDER BY m.id
            ON CONFLICT (memory_id) DO UPDATE
            SET access_count = a.access_count + excluded.access_count,
                last_accessed_at = GREATEST(a.last_accessed_at, excluded.last_accessed_at)
            """
        ),
        {"ids": ids, "hits": hits, "at": at},
    )
