"""Test-only job handlers, registered on import (by the unit tests, and by tests/workers/celery_app.py in
worker subprocesses). Each writes real rows so "exactly once" can be counted in the database."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Job
from memcube.repository import cubes as cubes_repo
from memos.errors import InvalidInput
from memos.jobs.context import JobContext
from memos.jobs.registry import job_handler
from memos.memories.service import Limits, add_memories


def _note(session: Session, job: Job, ctx: JobContext, content: str) -> dict[str, Any]:
    assert job.cube_id is not None
    cube = cubes_repo.get_cube(session, job.cube_id)
    assert cube is not None
    (memory,) = add_memories(session, cube, [schemas.MemoryCreate(content=content)], actor=f"job:{job.id}",
                             limits=Limits(), embedder=ctx.embedder)
    ctx.usage.add(1, len(content))
    return {"memory_id": str(memory.id)}


@job_handler("test.note")
def note(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Writes one memory with the payload's content."""
    return _note(session, job, ctx, str(job.payload["content"]))


@job_handler("test.flaky")
def flaky(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Writes a memory, then fails on attempts up to ``fail_until`` (so the write must be rolled back)."""
    result = _note(session, job, ctx, str(job.payload["content"]))
    if job.attempts <= int(job.payload.get("fail_until", 0)):
        raise RuntimeError(f"flaky failure on attempt {job.attempts}")
    return result


@job_handler("test.invalid")
def invalid(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    raise InvalidInput("this job can never succeed")


@job_handler("test.slow_note")
def slow_note(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Writes a memory and lingers, so a second runner arrives while the first holds the job."""
    result = _note(session, job, ctx, str(job.payload["content"]))
    session.flush()
    threading.Event().wait(float(job.payload.get("linger_s", 0.5)))
    return result


@job_handler("test.serial_note", serial_key=lambda job: f"test-serial:{job.cube_id}")
def serial_note(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """``test.slow_note`` with one run per cube at a time (a serial key, like consolidation)."""
    return slow_note(session, job, ctx)
