"""Links between memories and the cube's link graph."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.cubes.service import load_cube
from memos.linking import graph
from memos.memories.service import get_memory

router = APIRouter(prefix="/v1", tags=["links"])


@router.get("/memories/{memory_id}/links", response_model=schemas.LinkList,
            responses=error_responses(401, 403, 404))
def memory_links(memory_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> schemas.LinkList:
    """Links from (``out``) and to (``in``) the memory, strongest first."""
    head, _ = get_memory(session, memory_id, tenant_id)
    return schemas.LinkList(memory_id=head.id, links=graph.memory_links(session, head.id))


@router.get("/cubes/{cube_id}/graph", response_model=schemas.Graph, responses=error_responses(401, 403, 404))
def cube_graph(
    cube_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    limit: Annotated[int, Query(ge=1, le=graph.MAX_NODES,
                                description="at most this many nodes (most linked first)")] = 200,
) -> schemas.Graph:
    """Live memories (nodes), their links (edges) and Louvain communities, over at most 500 nodes per request
    (``truncated`` says the cube has more)."""
    cube, _ = load_cube(session, cube_id, tenant_id)
    return graph.cube_graph(session, cube, limit=limit)
