"""Jobs as the API shows them: to the tenant that started the job, and to the owner of the cube it works on
(row-level security keeps every other tenant's jobs invisible)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Job
from memcube.repository import cubes as cubes_repo
from memcube.repository import jobs as repo
from memos.cubes.service import load_cube
from memos.errors import NotFound


def get_job(session: Session, job_id: uuid.UUID, tenant_id: uuid.UUID) -> Job:
    job = repo.get_job(session, job_id)
    # The policies already hide other tenants' rows; the check keeps that true for a system session too.
    if job is None or not (job.tenant_id == tenant_id or _owns_cube(session, job.cube_id, tenant_id)):
        raise NotFound("job not found")
    return job


def list_jobs(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, limit: int = 100) -> list[Job]:
    """The cube's jobs, newest first: all of them for its owner, a grantee's own for a grantee (404 if the
    tenant cannot see the cube)."""
    cube, level = load_cube(session, cube_id, tenant_id)
    started_by = None if level == "owner" else tenant_id
    return repo.list_jobs(session, cube.id, limit=limit, tenant_id=started_by)


def _owns_cube(session: Session, cube_id: uuid.UUID | None, tenant_id: uuid.UUID) -> bool:
    cube = cubes_repo.get_cube(session, cube_id) if cube_id is not None else None
    return cube is not None and cube.tenant_id == tenant_id


def to_schema(job: Job) -> schemas.Job:
    return schemas.Job.model_validate(job)
