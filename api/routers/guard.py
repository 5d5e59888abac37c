"""The memory guard: a cube's guard settings, its quarantine queue, and the review of a quarantined memory."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PrincipalDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.errors import InvalidInput
from memos.guard import review as guard
from memos.memories.service import to_schema

router = APIRouter(prefix="/v1", tags=["guard"])


@router.get("/cubes/{cube_id}/guard", response_model=schemas.GuardSettings, responses=error_responses(401, 403, 404))
def get_guard_settings(cube_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> schemas.GuardSettings:
    return guard.get_settings(session, cube_id, tenant_id)


@router.put("/cubes/{cube_id}/guard", response_model=schemas.GuardSettings, responses=error_responses(401, 403, 404))
def put_guard_settings(cube_id: uuid.UUID, body: schemas.GuardSettings, session: SessionDep,
                       tenant_id: TenantDep) -> schemas.GuardSettings:
    """The cube owner's guard settings (all fields; omitted ones take their defaults)."""
    out = guard.put_settings(session, cube_id, tenant_id, body)
    session.commit()
    return out


@router.get("/cubes/{cube_id}/quarantine", response_model=schemas.QuarantineList,
            responses=error_responses(401, 403, 404))
def quarantine(
    cube_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, json_schema_extra={"maximum": 500},
                                description="page size (at most MEMOS_MAX_PAGE_SIZE, default 500)")] = 50,
    cursor: Annotated[str | None, Query(pattern=guard.CURSOR_PATTERN,
                                        description="the previous page's next_cursor")] = None,
) -> schemas.QuarantineList:
    """The cube's quarantined memories, riskiest first, each with the guard's reasons (owner only)."""
    if limit > state.settings.max_page_size:
        raise InvalidInput(f"limit {limit} is over the maximum page size {state.settings.max_page_size}")
    rows, next_cursor = guard.quarantine(session, cube_id, tenant_id, limit=limit, cursor=cursor)
    return schemas.QuarantineList(memories=[to_schema(m) for m in rows], next_cursor=next_cursor)


@router.post("/memories/{memory_id}/review", response_model=schemas.Memory,
             responses=error_responses(401, 403, 404, 409))
def review(memory_id: uuid.UUID, body: schemas.ReviewRequest, session: SessionDep,
           principal: PrincipalDep, tenant_id: TenantDep) -> schemas.Memory:
    """Approve (back to ``active``) or reject (``deleted``, and a lesson for later screening) a quarantined
    memory; either is a new version naming the reviewer (the cube's owner)."""
    head = guard.review(session, memory_id, principal, body)
    session.commit()
    return to_schema(head)
