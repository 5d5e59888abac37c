"""Run one job by id, exactly once in effect, however often its task is delivered.

0. *Hold*: the work transaction opens with a transaction-level advisory lock on the job id, held until
   the run's outcome is committed. It says "a runner is on this job": a second delivery waits here (it
   neither claims the job again nor counts an attempt while the first runs), and the lost-job sweep
   (``memos.jobs.sweeps``) re-sends a ``running`` job only when nobody holds it.
1. *Claim* (its own short transaction, system context): lock the row, return if it is gone or finished,
   else mark it ``running`` and count the attempt. Committed at once, so the API shows the job as
   running and a crash is visible as an attempt.
2. *Work* (the held transaction, switched to the job's tenant; the handler inside a savepoint): lock the
   row again, re-check it has not succeeded meanwhile, run the handler, and mark the job ``succeeded``
   **in the same transaction** as the handler's writes.

A crash (SIGKILL, a lost database connection) anywhere in 2 rolls the handler's writes back together
with the status; the redelivered task (``acks_late``) or the lost-job sweep runs it again. A handler
error rolls back to the savepoint (the hold stays), is recorded on the job in the same transaction, and
sends the job back to the outbox with a backoff until ``job_max_attempts`` is reached; then the job is
``failed``.

A ``Staged`` handler (slow model work) splits 2 in three, so that no transaction stays open while it
computes: *prepare* (the held transaction: lock the row, re-check, read the inputs; committed), *compute*
(no transaction: the hold is kept as a session-level advisory lock on the run's own connection, the same
key, so a second delivery and the lost-job sweep still see a live runner), *finish* (a new transaction:
the serial key, lock the row, re-check, write the outcome and mark the job ``succeeded`` together). A crash
during compute releases the hold with the connection and the job runs again from *prepare*; *finish* is
idempotent, so the outcome is written once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from memcube.db import SYSTEM, set_tenant, tenant_session
from memcube.models import Job
from memcube.repository import jobs as repo
from memos.errors import MemOSError
from memos.jobs.context import JobContext, LLMUsage
from memos.jobs.registry import Staged, get_handler, get_serial_key

log = logging.getLogger(__name__)

FINISHED = frozenset({"succeeded", "failed"})
MAX_ERROR_CHARS = 4_000


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(job: Job, message: str) -> str:
    job.status = "failed"
    job.error = message[:MAX_ERROR_CHARS]
    job.finished_at = _now()
    return "failed"


def public_error(exc: BaseException) -> str:
    """``code: message`` as the job's tenant sees it. Our own errors carry a message written for the caller;
    any other exception's text stays out (a SQLAlchemy error quotes the statement and its parameters) and is
    logged with the job id instead (``run_job``)."""
    if isinstance(exc, MemOSError):
        return f"{exc.error}: {exc.message}"
    if isinstance(exc, OperationalError):
        return "unavailable: the database could not be reached; the job is retried"
    return "internal_error: the job failed on a server error; the server log has it under this job's id"


def is_permanent(exc: BaseException) -> bool:
    """Errors that another attempt cannot fix: our own 4xx errors (bad input, a cube that is gone)."""
    return isinstance(exc, MemOSError) and exc.status_code < 500


def backoff_s(ctx: JobContext, attempts: int) -> float:
    """Exponential: base, 2*base, 4*base... after the 1st, 2nd, 3rd failed attempt (capped at an hour)."""
    return float(min(ctx.settings.job_retry_backoff_s * 2 ** max(attempts - 1, 0), 3600.0))


def _claim(sessions: sessionmaker[Session], job_id: uuid.UUID, ctx: JobContext) -> Job | str:
    """Transaction 1: mark the job running, or say why it must not run."""
    with tenant_session(sessions, SYSTEM) as session:
        job = repo.get_job(session, job_id, lock=True)
        if job is None:
            return "missing"
        if job.status in FINISHED:
            return job.status
        if job.attempts >= ctx.settings.job_max_attempts:
            # Each attempt was counted before it ran: attempts used up without an outcome means the
            # worker died in them every time (a job that kills its worker must not loop forever).
            log.error("job %s: %d attempts ended without an outcome; failing it", job.id, job.attempts)
            return _fail(job, f"gave up after {job.attempts} attempts (the worker was lost each time)"
                         + (f"; last error: {job.error}" if job.error else ""))
        if get_handler(job.type) is None:
            return _fail(job, f"no handler for job type {job.type!r}")
        job.status = "running"
        job.started_at = _now()
        job.attempts += 1
        job.not_before = None
        return job


def _record_failure(session: Session, job_id: uuid.UUID, exc: BaseException, usage: LLMUsage,
                    ctx: JobContext, staged: Staged | None = None) -> str:
    """After a handler error (its writes already rolled back): retry later or give up. The caller commits."""
    message = public_error(exc)
    job = repo.get_job(session, job_id, lock=True)
    if job is None or job.status in FINISHED:
        return "missing" if job is None else job.status
    # Tokens spent on a failed attempt were still paid for.
    job.llm_calls += usage.calls
    job.llm_tokens += usage.tokens
    if is_permanent(exc) or job.attempts >= ctx.settings.job_max_attempts:
        if staged is not None:
            staged.failed(session, job, message)
        return _fail(job, message)
    job.error = message[:MAX_ERROR_CHARS]
    job.status = "queued"
    job.dispatched_at = None  # back to the outbox; the relay sends it again after not_before
    job.not_before = _now() + timedelta(seconds=backoff_s(ctx, job.attempts))
    return "queued"


@contextmanager
def _own_connection(sessions: sessionmaker[Session]) -> Iterator[Connection]:
    """The connection a run works on, checked out for the whole run (a staged job keeps its hold on it
    between transactions). Where the factory is bound to one connection (tests), that one."""
    bind = sessions.kw.get("bind")
    if isinstance(bind, Connection):
        yield bind
        return
    assert isinstance(bind, Engine), bind
    with bind.connect() as conn:
        yield conn


def _succeed(job: Job, result: dict[str, Any], run_ctx: JobContext) -> None:
    job.status = "succeeded"
    job.finished_at = _now()
    job.result = result
    job.error = None
    job.llm_calls += run_ctx.usage.calls
    job.llm_tokens += run_ctx.usage.tokens


def run_job(sessions: sessionmaker[Session], job_id: uuid.UUID | str, ctx: JobContext) -> str:
    """Run the job ``job_id`` if it still needs running; returns the job's status afterwards
    (``missing`` if the row is gone). Safe to call any number of times, from any number of workers."""
    job_id = uuid.UUID(str(job_id))
    with _own_connection(sessions) as conn:
        session = sessions(bind=conn)
        session.info["tenant_id"] = SYSTEM
        try:
            repo.hold_job(session, job_id)
            claimed = _claim(sessions, job_id, ctx)
            if isinstance(claimed, str):
                session.commit()  # nothing written here; ends the hold (a rollback would do as well, except
                return claimed    # where tests nest every session in one connection's savepoints)
            handler = get_handler(claimed.type)
            assert handler is not None  # checked by _claim
            run_ctx = ctx.fresh()
            set_tenant(session, claimed.tenant_id)
            if isinstance(handler, Staged):
                return _run_staged(sessions, session, claimed, handler, run_ctx, ctx)
            work = session.begin_nested()
            try:
                _lock_serial(session, claimed)
                job = _unfinished(session, job_id)
                if isinstance(job, str):
                    return job
                return _commit_success(session, work, job, handler(session, job, run_ctx), run_ctx)
            except Exception as exc:
                _log_failure(claimed, exc)
                return _after_failure(sessions, session, work, job_id, exc, run_ctx.usage, ctx)
        finally:
            session.close()  # rolls back whatever was not committed, and releases the hold


def _unfinished(session: Session, job_id: uuid.UUID) -> Job | str:
    """The job's row, locked; or, when it is gone or finished meanwhile, its status (transaction committed)."""
    job = repo.get_job(session, job_id, lock=True)
    if job is None or job.status in FINISHED:
        session.commit()
        return "missing" if job is None else job.status
    return job


def _commit_success(session: Session, work: SessionTransaction, job: Job, result: dict[str, Any],
                    run_ctx: JobContext) -> str:
    _succeed(job, result, run_ctx)
    work.commit()
    session.commit()
    log.info("job %s (%s) succeeded on attempt %d", job.id, job.type, job.attempts)
    return "succeeded"


def _log_failure(claimed: Job, exc: BaseException) -> None:
    log.warning("job %s (%s) attempt %d failed: %s", claimed.id, claimed.type, claimed.attempts, exc,
                exc_info=not is_permanent(exc))


def _lock_serial(session: Session, claimed: Job) -> None:
    serial_key = get_serial_key(claimed)
    if serial_key is not None:
        # Before the job's row: a runner holding the key may then lock (and run) other jobs of the
        # same key, whose runners wait here without holding their rows (no lock cycle).
        repo.lock_serial(session, serial_key)


def _run_staged(sessions: sessionmaker[Session], session: Session, claimed: Job, handler: Staged,
                run_ctx: JobContext, ctx: JobContext) -> str:
    """Prepare, compute with no transaction open, finish (see the module's docstring)."""
    job_id = claimed.id
    repo.keep_hold(session, job_id)  # this connection holds the job until the finally below
    try:
        work: SessionTransaction | None = None
        try:
            work = prepare = session.begin_nested()
            job = _unfinished(session, job_id)
            if isinstance(job, str):
                return job
            inputs = handler.prepare(session, job, run_ctx)
            prepare.commit()
            session.commit()
            work = None
            outcome = handler.compute(inputs, run_ctx)  # no transaction open here
            work = finish = session.begin_nested()
            _lock_serial(session, claimed)
            job = _unfinished(session, job_id)
            if isinstance(job, str):
                return job
            return _commit_success(session, finish, job, handler.finish(session, job, outcome, run_ctx), run_ctx)
        except Exception as exc:
            _log_failure(claimed, exc)
            return _after_failure(sessions, session, work, job_id, exc, run_ctx.usage, ctx, handler)
    finally:
        try:
            session.rollback()
            repo.release_hold(session, job_id)
            session.commit()
        except Exception:  # the connection is gone, and the session-level lock with it
            log.warning("job %s: could not release its hold explicitly", job_id, exc_info=True)
            session.rollback()


def _after_failure(sessions: sessionmaker[Session], session: Session, work: SessionTransaction | None,
                   job_id: uuid.UUID, exc: BaseException, usage: LLMUsage, ctx: JobContext,
                   staged: Staged | None = None) -> str:
    """Undo the handler's writes and record the failure while still holding the job; if the transaction
    itself is gone (a lost connection), record it in a fresh one."""
    try:
        if work is not None and work.is_active:
            work.rollback()
        status = _record_failure(session, job_id, exc, usage, ctx, staged)
        session.commit()
        return status
    except Exception:
        session.rollback()
        with tenant_session(sessions, SYSTEM) as fresh:
            return _record_failure(fresh, job_id, exc, usage, ctx, staged)
