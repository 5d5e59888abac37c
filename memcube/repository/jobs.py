"""Jobs: the transactional outbox and the job status that the API shows."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from memcube.models import Job

# NOTIFY channel the relay LISTENs on; NOTIFY is transactional, so the relay wakes only after the
# enqueuing transaction commits (and never for one that rolls back).
NOTIFY_CHANNEL = "memos_jobs"


def enqueue(
    session: Session,
    *,
    tenant_id: uuid.UUID,
    cube_id: uuid.UUID | None,
    type: str,
    payload: dict[str, Any],
    idempotency_key: str | None = None,
    key_id: uuid.UUID | None = None,
    job_id: uuid.UUID | None = None,
) -> tuple[Job, bool]:
    """Write an outbox row in the caller's transaction. Returns (job, created); with an idempotency key
    already used by this tenant (a client's), or a ``job_id`` already taken (the server's own idempotency:
    an id derived from what enqueues the job, which no client can choose), returns the existing job and
    ``created=False``. ``key_id``: the API key whose request enqueued it (the versions the job writes name it)."""
    stmt = (
        insert(Job)
        .values(
            id=job_id or uuid.uuid4(), tenant_id=tenant_id, cube_id=cube_id, type=type, payload=payload,
            idempotency_key=idempotency_key, key_id=key_id, status="queued", attempts=0,
        )
        .on_conflict_do_nothing()  # the idempotency key's unique constraint, or the id
        .returning(Job.id)
    )
    inserted = session.scalar(stmt)
    if inserted is not None:
        session.execute(text("SELECT pg_notify(:ch, '')"), {"ch": NOTIFY_CHANNEL})
        job = session.get(Job, inserted)
        assert job is not None
        return job, True
    if idempotency_key is not None:
        existing = session.scalar(
            select(Job).where(Job.tenant_id == tenant_id, Job.idempotency_key == idempotency_key)
        )
    else:
        existing = session.get(Job, job_id)
    assert existing is not None
    return existing, False


def get_job(session: Session, job_id: uuid.UUID, *, lock: bool = False) -> Job | None:
    stmt = select(Job).where(Job.id == job_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def list_jobs(session: Session, cube_id: uuid.UUID, *, limit: int = 100,
              tenant_id: uuid.UUID | None = None) -> list[Job]:
    """The cube's jobs, newest first; only those ``tenant_id`` started when given."""
    stmt = select(Job).where(Job.cube_id == cube_id)
    if tenant_id is not None:
        stmt = stmt.where(Job.tenant_id == tenant_id)
    return list(session.scalars(stmt.order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)))


def undispatched(session: Session, *, older_than: datetime | None = None, limit: int = 100) -> list[Job]:
    """Outbox rows not yet handed to the broker (skip-locked, so relays can run side by side)."""
    stmt = select(Job).where(
        Job.dispatched_at.is_(None),
        Job.status == "queued",
        or_(Job.not_before.is_(None), Job.not_before <= func.now()),
    )
    if older_than is not None:
        stmt = stmt.where(Job.created_at <= older_than)
    stmt = stmt.order_by(Job.created_at).limit(limit).with_for_update(skip_locked=True)
    return list(session.scalars(stmt))


def mark_dispatched(session: Session, job_ids: list[uuid.UUID]) -> None:
    session.execute(update(Job).where(Job.id.in_(job_ids)).values(dispatched_at=func.now()))


def stuck(session: Session, *, dispatched_before: datetime, limit: int = 100) -> list[Job]:
    """Jobs handed to the broker long ago that no worker has claimed: lost in a Redis restart (or still
    queued behind a long backlog, which a second delivery cannot hurt). Running jobs: see ``lost``."""
    stmt = (
        select(Job)
        .where(Job.status == "queued", Job.dispatched_at.is_not(None), Job.dispatched_at < dispatched_before)
        .order_by(Job.dispatched_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def hold_job(session: Session, job_id: uuid.UUID) -> None:
    """Mark this transaction as the job's runner (a transaction-level advisory lock on the job id, taken
    before anything it may wait for), so a sweep can tell a live run from a lost one: see ``lost``."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"job:{job_id}"})


def keep_hold(session: Session, job_id: uuid.UUID) -> None:
    """Keep holding the job after this transaction ends: the same advisory lock at session level, on this
    transaction's connection (a staged job's compute phase runs with no transaction open; see
    ``memos.jobs.runner``). Released by ``release_hold`` or when the connection closes."""
    session.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), {"k": f"job:{job_id}"})


def release_hold(session: Session, job_id: uuid.UUID) -> None:
    session.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": f"job:{job_id}"})


def lost(session: Session, *, started_before: datetime, limit: int = 100) -> list[Job]:
    """Running jobs started before ``started_before`` whose runner is gone: nobody holds their advisory lock
    (``hold_job``). Trying it takes it until this transaction ends, so no runner starts on them meanwhile;
    the rows come locked for the caller's update. The try is part of the filter, so live runs ahead in
    the order never hide lost jobs behind them."""
    key = func.hashtextextended(literal("job:") + cast(Job.id, Text), 0)
    stmt = (
        select(Job)
        .where(Job.status == "running", Job.started_at < started_before, func.pg_try_advisory_xact_lock(key))
        .order_by(Job.started_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def lock_serial(session: Session, key: str) -> None:
    """Wait for the transaction-level advisory lock on ``key`` (released at commit or rollback)."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


def pending_after(
    session: Session, *, type: str, max_attempts: int, exclude: list[uuid.UUID], limit: int
) -> list[Job]:
    """Jobs of one type (any cube the session's tenant sees) already handed to the broker, unfinished and
    never failed, oldest first, not locked: what the worker will most likely run next (a look-ahead reads
    their inputs; it changes nothing)."""
    stmt = (
        select(Job)
        .where(Job.type == type, Job.status.in_(("queued", "running")), Job.dispatched_at.is_not(None),
               Job.error.is_(None), Job.attempts < max_attempts, Job.id.not_in(exclude))
        .order_by(Job.created_at, Job.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def pending_of_cube(
    session: Session, *, cube_id: uuid.UUID, type: str, max_attempts: int, limit: int
) -> list[Job]:
    """Jobs of one type and cube already handed to the broker (waiting behind this one), unfinished and
    never failed, oldest first, locked (the caller holds the cube's serial lock, so only a claim
    transaction can hold one of these rows, briefly)."""
    stmt = (
        select(Job)
        .where(Job.cube_id == cube_id, Job.type == type, Job.status.in_(("queued", "running")),
               Job.dispatched_at.is_not(None), Job.error.is_(None), Job.attempts < max_attempts)
        .order_by(Job.created_at, Job.id)
        .limit(limit)
        .with_for_update()
    )
    return list(session.scalars(stmt))
