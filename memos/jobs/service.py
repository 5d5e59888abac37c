"""Jobs as the API shows them (row-level security keeps other tenants' jobs invisible)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Job
from memcube.repository import jobs as repo
from memos.cubes.service import load_cube
from memos.errors import NotFound


def get_job(session: Session, job_id: uuid.UUID, tenant_id: uuid.UUID) -> Job:
    job = repo.get_job(session, job_id)
    # The policy already hides other tenants' rows; the check keeps that true for a system session too.
    if job is None or job.tenant_id != tenant_id:
        raise NotFound("job not found")
    return job


def list_jobs(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, limit: int = 100) -> list[Job]:
    """The cube's jobs, newest first (404 if the tenant cannot see the cube)."""
    cube, _ = load_cube(session, cube_id, tenant_id)
    return [j for j in repo.list_jobs(session, cube.id, limit=limit) if j.tenant_id == tenant_id]


def to_schema(job: Job) -> schemas.Job:
    return schemas.Job.model_validate(job)
