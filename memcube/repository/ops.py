"""What operators read about the service as a whole (``/readyz``, ``/metrics``): the outbox, unfinished jobs,
the guard's queue. Run in the system context (across tenants) and kept to indexed, bounded statements: they
run on every scrape and every readiness probe."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, or_, select, text
from sqlalchemy.orm import Session

from memcube.models import GuardLesson, Job, Memory

# A probe must not hang on a locked or overloaded database: one statement gets at most this long.
PROBE_TIMEOUT_MS = 2000


@dataclass(frozen=True)
class OutboxLag:
    pending: int  # jobs due and not yet handed to the broker
    oldest_age_s: float  # how long the oldest of them has been due (0 when none)


def limit_statement_time(session: Session, ms: int = PROBE_TIMEOUT_MS) -> None:
    """Bound every statement of the session's current transaction."""
    session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(ms))})


def ping(session: Session) -> None:
    session.execute(text("SELECT 1"))


def outbox_lag(session: Session) -> OutboxLag:
    """The relay's backlog: undispatched queued jobs whose retry delay has passed (``ix_jobs_undispatched``).
    The age counts from when the job became due (its ``not_before``, else its creation)."""
    due = func.coalesce(Job.not_before, Job.created_at)
    row = session.execute(
        select(func.count(), func.coalesce(func.extract("epoch", func.now() - func.min(due)), 0))
        .where(Job.dispatched_at.is_(None), Job.status == "queued",
               or_(Job.not_before.is_(None), Job.not_before <= func.now()))
    ).one()
    return OutboxLag(pending=int(row[0]), oldest_age_s=max(0.0, float(row[1])))


def unfinished_jobs(session: Session) -> dict[tuple[str, str], int]:
    """``{(type, status): count}`` of queued and running jobs (finished ones are counted by the workers)."""
    rows = session.execute(
        select(Job.type, Job.status, func.count()).where(Job.status.in_(("queued", "running")))
        .group_by(Job.type, Job.status)
    )
    return {(r[0], r[1]): int(r[2]) for r in rows}


def quarantined(session: Session) -> int:
    """Memories waiting in the guard's review queue (the partial index ``ix_memories_cube_quarantine``)."""
    return int(session.scalar(select(func.count()).select_from(Memory).where(Memory.status == "quarantined")) or 0)


def guard_lessons(session: Session) -> dict[str, int]:
    """``{"review" | "read_check": count}`` of the guard's lessons: records a reviewer rejected, records the
    read-time check dropped (``decided_by`` is ``read:<actor>`` for those)."""
    by = case((GuardLesson.decided_by.like("read:%"), "read_check"), else_="review")
    rows = session.execute(select(by, func.count()).group_by(by))
    return {str(r[0]): int(r[1]) for r in rows}
