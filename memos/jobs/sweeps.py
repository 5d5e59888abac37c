"""Periodic sweeps (run by beat): recover lost jobs, decay access heat, expire TTL'd memories, re-link, archive
cold memories.

Each works in bounded batches, one transaction per batch, in the system context (the row-level
security policies let ``*`` see every tenant), and stops after ``max_batches`` so one run never holds
a worker for long: whatever is left waits for the next run.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, tenant_session
from memcube.repository import jobs as jobs_repo
from memcube.repository import sweeps as repo
from memos.config import Settings
from memos.jobs.relay import Send, dispatch_batch
from memos.linking.sweeps import relink_stale
from memos.memories.service import set_status

log = logging.getLogger(__name__)

TTL_ACTOR = "system:ttl"
SCHEDULER_ACTOR = "system:scheduler"
MAX_BATCHES = 20


def requeue_stuck(sessions: sessionmaker[Session], settings: Settings, *, max_batches: int = MAX_BATCHES) -> int:
    """Send back to the outbox the jobs a worker lost: running ones whose runner is gone (its worker was
    SIGKILLed or lost its database connection) ``MEMOS_JOB_LOST_AFTER_S`` after they started, and ones
    handed to the broker ``MEMOS_JOB_STUCK_AFTER_S`` ago that no worker claimed (lost in a Redis restart).
    A job that used up its attempts this way is failed instead."""
    now = datetime.now(UTC)
    lost_cutoff = now - timedelta(seconds=settings.job_lost_after_s)
    stuck_cutoff = now - timedelta(seconds=settings.job_stuck_after_s)
    total = 0
    for find in (lambda s: jobs_repo.lost(s, started_before=lost_cutoff, limit=settings.sweep_batch_size),
                 lambda s: jobs_repo.stuck(s, dispatched_before=stuck_cutoff, limit=settings.sweep_batch_size)):
        for _ in range(max_batches):
            with tenant_session(sessions, SYSTEM) as session:
                jobs = find(session)
                for job in jobs:
                    if job.status == "running" and job.attempts >= settings.job_max_attempts:
                        job.status = "failed"
                        job.error = f"gave up after {job.attempts} attempts (the worker was lost each time)"
                        job.finished_at = datetime.now(UTC)
                    else:
                        job.status = "queued"
                        job.dispatched_at = None
            total += len(jobs)
            if len(jobs) < settings.sweep_batch_size:
                break
    if total:
        log.warning("outbox sweep: %d lost or stuck jobs sent back to the outbox", total)
    return total


def sweep_outbox(
    sessions: sessionmaker[Session], settings: Settings, send: Send, *, max_batches: int = MAX_BATCHES
) -> dict[str, int]:
    """Requeue stuck jobs, then dispatch rows the relay has left alone for a while (no relay running,
    or it cannot reach the broker): beat alone is enough for jobs to run, only slower."""
    requeued = requeue_stuck(sessions, settings, max_batches=max_batches)
    older_than = datetime.now(UTC) - timedelta(seconds=max(10 * settings.relay_poll_interval_s, 5.0))
    dispatched = 0
    for _ in range(max_batches):
        n, ok = dispatch_batch(sessions, send, limit=settings.relay_batch_size, older_than=older_than)
        dispatched += n
        if not ok or n < settings.relay_batch_size:
            break
    return {"requeued": requeued, "dispatched": dispatched}


def decay_heat(sessions: sessionmaker[Session], settings: Settings, *, max_batches: int = MAX_BATCHES) -> int:
    now = datetime.now(UTC)
    half_life_s = settings.heat_half_life_h * 3600.0
    total = 0
    for _ in range(max_batches):
        with tenant_session(sessions, SYSTEM) as session:
            n = repo.decay_heat(session, now=now, half_life_s=half_life_s,
                                min_age_s=settings.sweep_heat_every_s / 2, limit=settings.sweep_batch_size)
        total += n
        if n < settings.sweep_batch_size:
            break
    return total


def expire_ttl(sessions: sessionmaker[Session], settings: Settings, *, max_batches: int = MAX_BATCHES) -> int:
    """Memories past ``expires_at`` get a tombstone version (actor ``system:ttl``); history keeps them."""
    total = 0
    for _ in range(max_batches):
        with tenant_session(sessions, SYSTEM) as session:
            heads = repo.expired(session, now=datetime.now(UTC), limit=settings.sweep_batch_size)
            for head in heads:
                set_status(session, head, "deleted", actor=TTL_ACTOR,
                           reason=f"expired (ttl reached at {head.expires_at.isoformat()})"
                           if head.expires_at else "expired (ttl)")
        total += len(heads)
        if len(heads) < settings.sweep_batch_size:
            break
    return total


def relink(sessions: sessionmaker[Session], settings: Settings, *, max_batches: int = 5) -> int:
    """Re-link memories whose neighbours changed (``memos.linking.sweeps.relink_stale``)."""
    total = 0
    for _ in range(max_batches):
        with tenant_session(sessions, SYSTEM) as session:
            n = relink_stale(session, limit=settings.sweep_batch_size)
        total += n
        if n < settings.sweep_batch_size:
            break
    return total


def archive_cold(sessions: sessionmaker[Session], settings: Settings, *, max_batches: int = MAX_BATCHES) -> int:
    """Move cold plaintext memories out of the default search: unused for ``MEMOS_ARCHIVE_AFTER_DAYS`` with heat
    under ``MEMOS_ARCHIVE_HEAT_BELOW``. Each move is a version (status ``archived``, tier ``archived``, actor
    ``system:scheduler``, the reason with the figures), and a search with ``include_archived`` that finds one
    restores it (``restore_used``). Off when ``MEMOS_ARCHIVE_AFTER_DAYS`` is 0."""
    if settings.archive_after_days <= 0:
        return 0
    unused_since = datetime.now(UTC) - timedelta(days=settings.archive_after_days)
    total = 0
    for _ in range(max_batches):
        with tenant_session(sessions, SYSTEM) as session:
            heads = repo.cold(session, unused_since=unused_since, heat_below=settings.archive_heat_below,
                              limit=settings.sweep_batch_size)
            for head in heads:
                last = head.last_accessed_at or head.created_at
                head.tier = "archived"
                set_status(session, head, "archived", actor=SCHEDULER_ACTOR,
                           reason=f"archived: cold (heat {head.heat:.3g}, last used {last.date().isoformat()})")
        total += len(heads)
        if len(heads) < settings.sweep_batch_size:
            break
    if total:
        log.info("archive sweep: %d cold memories archived", total)
    return total


def restore_used(session: Session, ids: list[uuid.UUID]) -> int:
    """Memories the archive sweep moved out that were just found and used: back to active, tier long_term, each
    as a version (``restored on use``). Called with the access statistics, off the request path."""
    heads = repo.archived_by_scheduler(session, ids)
    for head in heads:
        head.tier = "long_term"
        set_status(session, head, "active", actor=SCHEDULER_ACTOR, reason="restored on use")
    return len(heads)
