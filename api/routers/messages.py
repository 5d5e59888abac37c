"""Chat messages into a cube: stored at once, consolidated into memories by a background job."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import LimitsDep, PrincipalDep, SessionDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.cubes.service import load_cube
from memos.messages import service

router = APIRouter(prefix="/v1", tags=["messages"])


@router.post(
    "/cubes/{cube_id}/messages",
    status_code=202,
    response_model=schemas.MessagesAccepted,
    responses=error_responses(401, 403, 404, 409, 413),
)
def post_messages(
    cube_id: uuid.UUID,
    body: schemas.MessagesCreate,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    limits: LimitsDep,
) -> schemas.MessagesAccepted:
    """Store the messages and enqueue ONE ``consolidation.messages`` job (poll ``GET /v1/jobs/{job_id}``);
    the memories it makes appear when the job has run. Sending the same ``idempotency_key`` again returns
    the same job and message ids and stores nothing. The job records the calling key: every version it
    writes names that key and its tenant (``GET /v1/memories/{id}/history``)."""
    cube, _ = load_cube(session, cube_id, tenant_id, need="write")
    job, message_ids = service.accept_messages(session, cube, body, tenant_id=tenant_id, key_id=principal.key_id,
                                               limits=limits)
    session.commit()
    return schemas.MessagesAccepted(message_ids=message_ids, memories=[], job_id=job.id)
