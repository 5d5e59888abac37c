"""Job types of the jobs system itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from memcube.models import Job
from memos.jobs.context import JobContext
from memos.jobs.registry import job_handler


@job_handler("jobs.noop")
def noop(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Does nothing: a probe that the background path runs jobs, and the trivial job of bench/jobs.py."""
    return {"echo": job.payload.get("echo")}
