"""Background jobs: status, attempts, errors and LLM cost of what the workers did."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.jobs import service

router = APIRouter(prefix="/v1", tags=["jobs"])


@router.get("/jobs/{job_id}", response_model=schemas.Job, responses=error_responses(401, 403, 404))
def get_job(job_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> schemas.Job:
    return service.to_schema(service.get_job(session, job_id, tenant_id))


@router.get("/cubes/{cube_id}/jobs", response_model=schemas.JobList, responses=error_responses(401, 403, 404))
def list_jobs(
    cube_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> schemas.JobList:
    """The cube's jobs, newest first."""
    return schemas.JobList(jobs=[service.to_schema(j) for j in service.list_jobs(session, cube_id, tenant_id,
                                                                                     limit=limit)])
