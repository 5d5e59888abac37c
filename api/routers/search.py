"""Search within a cube, and assemble an LLM context from it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import EmbedderDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.cubes.service import load_cube
from memos.memories.service import to_schema
from memos.retrieval import service
from memos.retrieval.context import assemble
from memos.retrieval.rerank import get_reranker

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
    reranker = get_reranker(state.settings) if body.rerank else None
    hits = service.search(session, cube, body, embedder=embedder, settings=state.settings, reranker=reranker)
    state.access.record([h.memory.id for h in hits if h.via == "search"])
    return schemas.SearchResponse(
        results=[schemas.SearchResult(memory=to_schema(h.memory), score=h.score, via=h.via) for h in hits]
    )


@router.post(
    "/cubes/{cube_id}/context", response_model=schemas.ContextResponse, responses=error_responses(401, 403, 404)
)
def context(
    cube_id: uuid.UUID,
    body: schemas.ContextRequest,
    session: SessionDep,
    tenant_id: TenantDep,
    embedder: EmbedderDep,
    state: StateDep,
) -> schemas.ContextResponse:
    cube, _ = load_cube(session, cube_id, tenant_id)
    req = schemas.SearchRequest(query=body.query, top_k=body.top_k, filters=body.filters, mode=body.mode,
                                expand=body.expand)
    hits = service.search(session, cube, req, embedder=embedder, settings=state.settings)
    out = assemble([h.memory for h in hits], token_budget=body.token_budget)
    state.access.record([m.id for m in out.memories])
    return schemas.ContextResponse(context=out.context, memories=[to_schema(m) for m in out.memories],
                                   tokens=out.tokens)
