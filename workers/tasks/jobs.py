"""``jobs.run``: run one outbox job by id (see memos/jobs/runner.py for the exactly-once argument)."""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError

from memos.jobs.runner import run_job
from workers import resources
from workers.app import app


@app.task(
    name="jobs.run",
    # Database trouble (not a handler error: the runner records those on the job and retries through
    # the outbox): retry the task itself, with backoff, a bounded number of times.
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=5,
)
def run(job_id: str) -> str:
    r = resources.get()
    return run_job(r.sessions, job_id, r.ctx)
