"""Typed, directed links between memories (by id), and the queries the graph and the re-link sweep use."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, aliased, defer

from memcube.models import Memory, MemoryLink


def upsert_links(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert links; an existing (source, target, type) edge gets the new strength, reason and provenance."""
    if not rows:
        return
    stmt = insert(MemoryLink)
    stmt = stmt.on_conflict_do_update(
        constraint="uq_memory_links_edge",
        set_={"strength": stmt.excluded.strength, "reason": stmt.excluded.reason,
              "provenance": stmt.excluded.provenance},
    )
    # Rows as parameters, not .values(rows): compiling the rows into the statement cost ~0.1 s of worker
    # CPU per 900 links. With RETURNING, SQLAlchemy's "insertmanyvalues" sends them as one multi-row INSERT
    # (per 1,000 rows) from a statement compiled once and cached (without it, psycopg 3 gets an executemany).
    session.execute(stmt.returning(MemoryLink.id), rows)


def delete_outgoing(session: Session, source_ids: Sequence[uuid.UUID], *, actor: str) -> None:
    """Drop the links ``actor`` made from these memories (links made by anyone else stay)."""
    if source_ids:
        session.execute(
            delete(MemoryLink).where(
                MemoryLink.source_id.in_(list(source_ids)), MemoryLink.provenance["actor"].astext == actor
            )
        )


def links_of(session: Session, memory_id: uuid.UUID) -> list[MemoryLink]:
    """Every link from or to the memory, strongest first."""
    stmt = (
        select(MemoryLink)
        .where(or_(MemoryLink.source_id == memory_id, MemoryLink.target_id == memory_id))
        .order_by(MemoryLink.strength.desc(), MemoryLink.created_at, MemoryLink.id)
    )
    return list(session.scalars(stmt))


def graph_nodes(session: Session, cube_id: uuid.UUID, *, limit: int) -> list[Memory]:
    """The cube's live memories for the graph: the most linked first, then the newest.

    Degrees come from one aggregate over the cube's links (its ``cube_id`` index), not a count per memory of
    the cube; the newest unlinked memories fill what is left, read in index order and stopped at ``limit``."""
    ends = select(MemoryLink.source_id.label("id")).where(MemoryLink.cube_id == cube_id).union_all(
        select(MemoryLink.target_id.label("id")).where(MemoryLink.cube_id == cube_id)
    ).subquery()
    # The degrees drive the join: computed once (MATERIALIZED), then each linked memory is read by its primary
    # key (LATERAL; its LIMIT 1 keeps PostgreSQL from flattening it back into a join). Left to the planner,
    # stale statistics (a cube just filled, not yet analysed: 4 links estimated for 1,200) chose a nested loop
    # that re-ran or rescanned the aggregate for each of the cube's memories: 0.4-0.7 s at 2,000 memories,
    # 10 ms this way.
    degree = (select(ends.c.id, func.count().label("degree")).group_by(ends.c.id)
              .cte("degree").prefix_with("MATERIALIZED", dialect="postgresql"))
    head = aliased(Memory, select(Memory).where(Memory.id == degree.c.id, Memory.cube_id == cube_id,
                                                Memory.status == "active").limit(1).lateral("head"))
    # A node needs no vector: parsing 384 floats per row was most of the statement's client-side time.
    linked = list(session.scalars(
        select(head)
        .options(defer(head.embedding), defer(head.tsv))
        .select_from(degree)
        .join(head, true())
        .order_by(degree.c.degree.desc(), head.created_at.desc(), head.id)
        .limit(limit)
    ))
    if len(linked) < limit:
        unlinked = (
            select(Memory)
            .options(defer(Memory.embedding), defer(Memory.tsv))
            .where(Memory.cube_id == cube_id, Memory.status == "active", Memory.kind == "plaintext",
                   Memory.id.not_in(select(degree.c.id)))
            .order_by(Memory.created_at.desc(), Memory.id)
            .limit(limit - len(linked))
        )
        linked.extend(session.scalars(unlinked))
    return linked


def edges_among(session: Session, memory_ids: Sequence[uuid.UUID]) -> list[MemoryLink]:
    if not memory_ids:
        return []
    ids = list(memory_ids)
    stmt = (
        select(MemoryLink)
        .where(MemoryLink.source_id.in_(ids), MemoryLink.target_id.in_(ids))
        .order_by(MemoryLink.created_at, MemoryLink.id)
    )
    return list(session.scalars(stmt))


def stale_memories(session: Session, *, limit: int, unlinked_before: datetime) -> list[Memory]:
    """Live plaintext memories to link again: never linked (and older than ``unlinked_before``, so the
    linking job had its chance), or linked to a memory that changed (a new version, a delete) since.
    Locked with SKIP LOCKED so two sweeps split the work."""
    target = aliased(Memory)
    neighbour_changed = exists().where(
        MemoryLink.source_id == Memory.id,
        MemoryLink.target_id == target.id,
        target.updated_at > Memory.linked_at,
    )
    stmt = (
        select(Memory)
        .where(
            Memory.status == "active",
            Memory.kind == "plaintext",
            or_(
                and_(Memory.linked_at.is_(None), Memory.created_at < unlinked_before),
                and_(Memory.linked_at.is_not(None), neighbour_changed),
            ),
        )
        .order_by(Memory.linked_at.asc().nulls_first(), Memory.id)
        .limit(limit)
        .with_for_update(of=Memory, skip_locked=True)
    )
    return list(session.scalars(stmt))


def mark_linked(session: Session, memory_ids: Sequence[uuid.UUID], at: datetime) -> None:
    if memory_ids:
        session.execute(update(Memory).where(Memory.id.in_(list(memory_ids))).values(linked_at=at))
