"""Search within a cube, and assemble an LLM context from it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
from fastapi import APIRouter, Response
from sqlalchemy.orm import Session

from api.deps import EmbedderDep, PrincipalDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from api.responses import json_response
from api.state import AppState
from memcube import schemas
from memcube.db import end_read
from memcube.models import Cube
from memos.cubes.service import load_cube
from memos.embedding import Embedder
from memos.errors import Forbidden
from memos.guard.judge import get_judge
from memos.guard.read import check as read_check
from memos.guard.read import learn_from
from memos.guard.screen import cube_settings
from memos.memories.service import to_schema
from memos.retrieval import service
from memos.retrieval.context import assemble
from memos.retrieval.query import QueryPlan
from memos.retrieval.rerank import get_reranker
from memos.scheduler.working import Reuse

router = APIRouter(prefix="/v1", tags=["search"])


def with_archived(req: schemas.SearchRequest) -> schemas.SearchRequest:
    """``include_archived``: archived memories as well as whatever statuses the filters ask for."""
    if not req.include_archived:
        return req
    statuses = list(req.filters.status or []) if req.filters else []
    statuses = [*(statuses or [schemas.MemoryStatus.active]), schemas.MemoryStatus.archived]
    filters = (req.filters or schemas.SearchFilters()).model_copy(update={"status": list(dict.fromkeys(statuses))})
    return req.model_copy(update={"filters": filters})


def with_quarantined(req: schemas.SearchRequest, access: str) -> schemas.SearchRequest:
    """Quarantined memories are searched only for the cube's owner, who asks for them (``include_quarantined``
    or status ``quarantined`` in the filters)."""
    statuses = list(req.filters.status or []) if req.filters else []
    if not req.include_quarantined and schemas.MemoryStatus.quarantined not in statuses:
        return req
    if access != "owner":
        raise Forbidden("quarantined memories are for the cube's owner to see")
    if req.include_quarantined:
        statuses = [*(statuses or [schemas.MemoryStatus.active]), schemas.MemoryStatus.quarantined]
        filters = (req.filters or schemas.SearchFilters()).model_copy(update={"status": statuses})
        return req.model_copy(update={"filters": filters})
    return req


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
) -> Response:
    early = service.start_embedding(cube_id, body, embedder)  # embeds while the cube is looked up
    cube, access = load_cube(session, cube_id, tenant_id)
    body = with_archived(with_quarantined(body, access))
    reranker = get_reranker(state.settings) if body.rerank else None
    hits = service.search(session, cube, body, embedder=embedder, settings=state.settings, reranker=reranker,
                          early=early)
    state.access.record([h.memory.id for h in hits if h.via == "search"])
    state.prefetch.note(tenant_id, cube.id, [h.memory.id for h in hits])
    end_read(session)
    return json_response(schemas.SearchResponse(
        results=[schemas.SearchResult(memory=to_schema(h.memory), score=h.score, via=h.via) for h in hits]
    ))


@router.post(
    "/cubes/{cube_id}/context", response_model=schemas.ContextResponse, responses=error_responses(401, 403, 404)
)
def context(
    cube_id: uuid.UUID,
    body: schemas.ContextRequest,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    embedder: EmbedderDep,
    state: StateDep,
) -> Response:
    asked = schemas.SearchRequest(query=body.query, top_k=body.top_k, filters=body.filters, mode=body.mode,
                                  expand=body.expand, include_archived=body.include_archived)
    early = service.start_embedding(cube_id, asked, embedder)  # embeds while the cube is looked up
    cube, access = load_cube(session, cube_id, tenant_id)
    req = with_archived(with_quarantined(asked, access))
    hits, working = _recall_or_search(session, cube, req, body.working_session, tenant_id, embedder, state, early)
    # The guard's read-time check: what the query retrieved, looked at together (memos/guard/read.py).
    checked = read_check(session, cube, [h.memory for h in hits], cube_settings(cube), query=body.query,
                         judge=get_judge(state.settings))
    out = assemble(checked.kept, token_budget=body.token_budget)
    state.access.record([m.id for m in out.memories])
    carried = {m.id for m in out.memories}  # the set: the most relevant of what the context carried
    state.access.record_set(cube.tenant_id, cube.id,
                            [m.id for m in checked.kept if m.id in carried][:state.settings.transform_set_size])
    state.prefetch.note(tenant_id, cube.id, [m.id for m in out.memories])
    response = schemas.ContextResponse(
        context=out.context, memories=[to_schema(m) for m in out.memories], tokens=out.tokens,
        dropped=[schemas.DroppedMemory(memory=to_schema(m), reasons=why, note=checked.notes.get(m.id))
                 for m, why in checked.dropped],
        working=working)
    # Each drop leaves a lesson for later screening (a read-only grantee's reads teach nothing).
    if checked.dropped and access != "read" and learn_from(session, cube, checked.dropped, query=body.query,
                                                           actor=principal.actor, notes=checked.notes):
        session.commit()
    else:
        end_read(session)
    return json_response(response)


def _recall_or_search(
    session: Session, cube: Cube, req: schemas.SearchRequest, working_session: str | None, tenant_id: uuid.UUID,
    embedder: Embedder, state: AppState, early: service.EarlyEmbedding | None,
) -> tuple[list[service.Hit], schemas.WorkingUse | None]:
    """The context's memories: from the session's working memory when it can answer the query (see
    memos.scheduler.working; offered the query's vector as soon as the search has it), else a search of the
    whole cube, whose results then join the working memory (off the request path)."""
    if working_session is None or req.mode == "lexical":  # no vector, nothing to compare a query with
        return service.search(session, cube, req, embedder=embedder, settings=state.settings, early=early), None
    flt = service.build_filter(cube, req.filters)
    seen: list[tuple[np.ndarray, str | None, Reuse]] = []

    def from_working_memory(vector: np.ndarray, plan: QueryPlan) -> list[service.Hit] | None:
        found = state.working.recall(session, tenant_id, cube.id, working_session, req, flt, vector, plan.speaker)
        seen.append((vector, plan.speaker, found))
        return None if found.memories is None else [service.Hit(m, score) for m, score in found.memories]

    at = datetime.now(UTC)
    hits = service.search(session, cube, req, embedder=embedder, settings=state.settings, shortcut=from_working_memory,
                          early=early)
    if not seen:  # the search ended before it had a vector (nothing to remember the query by)
        return hits, None
    vector, speaker, found = seen[-1]
    use = schemas.WorkingUse(session=working_session, reused=found.memories is not None,
                             similarity=round(found.similarity, 4), items=found.items)
    if found.memories is None:
        state.working.fill(tenant_id, cube.id, working_session, req, vector, speaker,
                           [h.memory.id for h in hits if h.via == "search"], at=at)
    return hits, use
