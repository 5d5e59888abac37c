"""A session's working memory (memos.scheduler.working): what it holds and how it got there, and forgetting it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.deps import SessionDep, StateDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.cubes.service import load_cube
from memos.errors import NotFound

router = APIRouter(prefix="/v1", tags=["scheduler"])

SessionName = Annotated[str, Query(min_length=1, max_length=200, pattern=r"\S",
                                   description="the working_session given to /context")]


@router.get("/cubes/{cube_id}/working", response_model=schemas.WorkingMemoryView,
            responses=error_responses(401, 403, 404))
def show(cube_id: uuid.UUID, session: SessionName, db: SessionDep, tenant_id: TenantDep,
         state: StateDep) -> schemas.WorkingMemoryView:
    """The session's working memory in this cube: its memories (most recently retrieved first), which of them
    were predicted, how often it was filled by a search and reused, and its last moves. 404 when the session
    has none (never used with this cube, or expired after ``MEMOS_WORKING_TTL_S``)."""
    cube, _ = load_cube(db, cube_id, tenant_id)
    ws = state.working.get(tenant_id, cube.id, session)
    if ws is None:
        raise NotFound("this session has no working memory in this cube (none made, or it expired)")
    return schemas.WorkingMemoryView(
        session=session, memory_ids=[uuid.UUID(i) for i in ws.ids], predicted=[uuid.UUID(i) for i in ws.predicted],
        queries=len(ws.queries), filled_at=ws.filled_at, fills=ws.fills, reuses=ws.reuses,
        moves=[schemas.WorkingMove(at=e["at"], reason=e["reason"], entered=e["entered"], left=e["left"])
               for e in ws.events])


@router.delete("/cubes/{cube_id}/working", status_code=204, responses=error_responses(401, 403, 404))
def forget(cube_id: uuid.UUID, session: SessionName, db: SessionDep, tenant_id: TenantDep,
           state: StateDep) -> Response:
    """Forget the session's working memory (its next context searches the whole cube). 404 when it has none."""
    cube, _ = load_cube(db, cube_id, tenant_id)
    if not state.working.forget(tenant_id, cube.id, session):
        raise NotFound("this session has no working memory in this cube (none made, or it expired)")
    return Response(status_code=204)
