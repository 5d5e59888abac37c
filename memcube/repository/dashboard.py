"""The admin dashboard's reads: counts for the overview, pages of cubes and jobs, a memory's neighbourhood.

Every query runs under the session's tenant context: row-level security decides which rows are counted (a
tenant's own and granted cubes; every tenant's in the system context the admin key uses). Lists are keyset
pages, so a page costs the same on the first and the hundredth page.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, union, union_all
from sqlalchemy.orm import Session, defer

from memcube.models import Cube, GuardLesson, Job, Memory, MemoryLink, MemoryVersion, PayloadBlob, Tenant


def memory_counts(session: Session, cube_id: uuid.UUID | None = None) -> list[tuple[str, str, str, int]]:
    """``(kind, status, tier, n)`` over the visible memories (of one cube when given), in one scan."""
    stmt = (select(Memory.kind, Memory.status, Memory.tier, func.count())
            .group_by(Memory.kind, Memory.status, Memory.tier))
    if cube_id is not None:
        stmt = stmt.where(Memory.cube_id == cube_id)
    return [(r[0], r[1], r[2], int(r[3])) for r in session.execute(stmt)]


def payload_residency(session: Session) -> list[tuple[str, int, int]]:
    """``(residency, payloads, bytes)`` of the visible payload blobs."""
    stmt = (select(PayloadBlob.residency, func.count(), func.coalesce(func.sum(PayloadBlob.size_bytes), 0))
            .group_by(PayloadBlob.residency).order_by(PayloadBlob.residency))
    return [(r[0], int(r[1]), int(r[2])) for r in session.execute(stmt)]


def job_counts(session: Session) -> list[tuple[str, int]]:
    """``(status, n)`` of the visible jobs."""
    stmt = select(Job.status, func.count()).group_by(Job.status).order_by(Job.status)
    return [(r[0], int(r[1])) for r in session.execute(stmt)]


def lesson_count(session: Session, since: datetime | None = None) -> int:
    stmt = select(func.count()).select_from(GuardLesson)
    if since is not None:
        stmt = stmt.where(GuardLesson.created_at >= since)
    return int(session.scalar(stmt) or 0)


def tenant_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Tenant)) or 0)


def cube_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Cube)) or 0)


def tenant_names(session: Session, tenant_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not tenant_ids:
        return {}
    return {r[0]: r[1] for r in session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(list(tenant_ids))))}


def cubes_page(session: Session, *, limit: int, after: tuple[datetime, uuid.UUID] | None) -> list[Cube]:
    """Visible cubes, oldest first, keyset on ``(created_at, id)``."""
    stmt = select(Cube)
    if after is not None:
        created, cid = after
        stmt = stmt.where(or_(Cube.created_at > created, and_(Cube.created_at == created, Cube.id > cid)))
    return list(session.scalars(stmt.order_by(Cube.created_at, Cube.id).limit(limit)))


def per_cube_counts(session: Session, cube_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    """For each cube: its memories by status."""
    if not cube_ids:
        return {}
    stmt = (select(Memory.cube_id, Memory.status, func.count()).where(Memory.cube_id.in_(list(cube_ids)))
            .group_by(Memory.cube_id, Memory.status))
    out: dict[uuid.UUID, dict[str, int]] = {c: {} for c in cube_ids}
    for cube_id, status, n in session.execute(stmt):
        out[cube_id][status] = int(n)
    return out


def cube_owner(session: Session, cube_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(select(Cube.tenant_id).where(Cube.id == cube_id))


def memory_owner(session: Session, memory_id: uuid.UUID) -> uuid.UUID | None:
    """The tenant owning the memory's cube (the row's ``tenant_id``)."""
    return session.scalar(select(Memory.tenant_id).where(Memory.id == memory_id))


def jobs_page(session: Session, *, limit: int, after: tuple[datetime, uuid.UUID] | None,
              status: str | None = None, cube_id: uuid.UUID | None = None) -> list[Job]:
    """Visible jobs, newest first, keyset on ``(created_at, id)`` descending."""
    stmt = select(Job)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    if cube_id is not None:
        stmt = stmt.where(Job.cube_id == cube_id)
    if after is not None:
        created, jid = after
        stmt = stmt.where(or_(Job.created_at < created, and_(Job.created_at == created, Job.id < jid)))
    return list(session.scalars(stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def cube_names(session: Session, cube_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not cube_ids:
        return {}
    return {r[0]: r[1] for r in session.execute(select(Cube.id, Cube.name).where(Cube.id.in_(list(cube_ids))))}


def produced_from(session: Session, memory_id: uuid.UUID, *, limit: int) -> list[Memory]:
    """Memories one of whose versions names ``memory_id`` among the memories it was made from (consolidation,
    activation snapshots): the provenance GIN index answers the containment test."""
    made = (select(MemoryVersion.memory_id)
            .where(MemoryVersion.provenance.contains({"memory_ids": [str(memory_id)]}),
                   MemoryVersion.memory_id != memory_id)
            .distinct().limit(limit).scalar_subquery())
    stmt = select(Memory).options(defer(Memory.embedding)).where(Memory.id.in_(made)).order_by(Memory.created_at)
    return list(session.scalars(stmt))


def memories_by_id(session: Session, memory_ids: Sequence[uuid.UUID]) -> list[Memory]:
    if not memory_ids:
        return []
    stmt = select(Memory).options(defer(Memory.embedding)).where(Memory.id.in_(list(memory_ids)))
    return list(session.scalars(stmt))


def neighbourhood(session: Session, memory_id: uuid.UUID, *, limit: int) -> list[uuid.UUID]:
    """The memory and up to ``limit`` - 1 memories linked to it (either direction), strongest link first."""
    out_ = select(MemoryLink.target_id.label("id"), MemoryLink.strength).where(MemoryLink.source_id == memory_id)
    in_ = select(MemoryLink.source_id.label("id"), MemoryLink.strength).where(MemoryLink.target_id == memory_id)
    both = union(out_, in_).subquery()
    stmt = (select(both.c.id).group_by(both.c.id).order_by(func.max(both.c.strength).desc(), both.c.id)
            .limit(max(limit - 1, 0)))
    return [memory_id, *session.scalars(stmt)]


def hubs(session: Session, cube_id: uuid.UUID, *, limit: int) -> list[uuid.UUID]:
    """The cube's most linked memories (either end of a link), most links first."""
    ends = union_all(select(MemoryLink.source_id.label("id")).where(MemoryLink.cube_id == cube_id),
                     select(MemoryLink.target_id.label("id")).where(MemoryLink.cube_id == cube_id)).subquery()
    stmt = select(ends.c.id).group_by(ends.c.id).order_by(func.count().desc(), ends.c.id).limit(limit)
    return list(session.scalars(stmt))


def links_of_many(session: Session, memory_ids: Sequence[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID, float]]:
    """``(source, target, strength)`` of every link from or to these memories, strongest first."""
    if not memory_ids:
        return []
    ids = list(memory_ids)
    stmt = (select(MemoryLink.source_id, MemoryLink.target_id, MemoryLink.strength)
            .where(or_(MemoryLink.source_id.in_(ids), MemoryLink.target_id.in_(ids)))
            .order_by(MemoryLink.strength.desc(), MemoryLink.id))
    return [(r[0], r[1], float(r[2])) for r in session.execute(stmt)]
