"""Jobs: the transactional outbox and the job status that the API shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from memcube.models import Job


def enqueue(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    cube_id: uuid.UUID | None,
    type: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
) -> tuple[Job, bool]:
    """Write an outbox row in the caller's transaction. Returns (job, created); with an idempotency key
    already used by this tenant, returns the existing job and ``created=False``."""
    job_id = uuid.uuid4()
    stmt = (
        insert(Job)
        .values(
            id=job_id, tenant_id=tenant_id, cube_id=cube_id, type=type, payload=payload,
            idempotency_key=idempotency_key, status="queued", attempts=0,
        )
        .on_conflict_do_nothing(constraint="uq_jobs_tenant_idempotency")
        .returning(Job.id)
    )
    inserted = session.scalar(stmt)
    if inserted is not None:
        job = session.get(Job, inserted)
        assert job is not None
        return job, True
    existing = session.scalar(
        select(Job).where(Job.tenant_id == tenant_id, Job.idempotency_key == idempotency_key)
    )
    assert existing is not None
    return existing, False


def get_job(session: Session, job_id: uuid.UUID, *, lock: bool = False) -> Job | None:
    stmt = select(Job).where(Job.id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def list_jobs(session: Session, cube_id: uuid.UUID, *, limit: int = 100) -> list[Job]:
    stmt = select(Job).where(Job.cube_id == cube_id).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def undispatched(session: Session, *, older_than: datetime | None = None, limit: int = 100) -> list[Job]:
    """Outbox rows not yet handed to the broker (skip-locked, so relays can run side by side)."""
    stmt = select(Job).where(Job.dispatched_at.is_(None), Job.status == "queued")
    if older_than is not None:
        stmt = stmt.where(Job.created_at <= older_than)
    stmt = stmt.order_by(Job.created_at).limit(limit).with_for_update(skip_locked=True)
    return list(session.scalars(stmt))
