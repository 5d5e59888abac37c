"""Chat messages into a cube."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import EmbedderDep, LimitsDep, PrincipalDep, SessionDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.cubes.service import load_cube
from memos.memories.service import to_schema
from memos.messages import service

router = APIRouter(prefix="/v1", tags=["messages"])


@router.post(
    "/cubes/{cube_id}/messages",
    status_code=202,
    response_model=schemas.MessagesAccepted,
    responses=error_responses(401, 403, 404, 413),
)
def post_messages(
    cube_id: uuid.UUID,
    body: schemas.MessagesCreate,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    embedder: EmbedderDep,
    limits: LimitsDep,
) -> schemas.MessagesAccepted:
    cube, _ = load_cube(session, cube_id, tenant_id, need="write")
    messages = service.store_messages(session, cube, body, limits=limits)
    memories = service.memories_from_turns(
        session, cube, messages, actor=principal.actor, limits=limits, embedder=embedder
    )
    session.commit()
    return schemas.MessagesAccepted(message_ids=[m.id for m in messages], memories=[to_schema(m) for m in memories])
