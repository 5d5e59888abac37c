"""Search within a cube."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import EmbedderDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.cubes.service import load_cube
from memos.memories.service import to_schema
from memos.retrieval import service

router = APIRouter(prefix="/v1", tags=["search"])


@router.post(
    "/cubes/{cube_id}/search", response_model=schemas.SearchResponse, responses=error_responses(401, 403, 404)
)
def search(
    cube_id: uuid.UUID,
    body: schemas.SearchRequest,
    session: SessionDep,
    tenant_id: TenantDep,
    embedder: EmbedderDep,
    state: StateDep,
) -> schemas.SearchResponse:
    cube, _ = load_cube(session, cube_id, tenant_id)
    hits = service.search(session, cube, body, embedder=embedder)
    state.access.record([m.id for m, _ in hits])
    return schemas.SearchResponse(results=[schemas.SearchResult(memory=to_schema(m), score=s) for m, s in hits])
