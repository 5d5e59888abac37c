"""Memories: write, list, read (also as of a past time), update, delete, history, rollback."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import EmbedderDep, LimitsDep, PrincipalDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.cubes.service import load_cube
from memos.errors import InvalidInput
from memos.linking.service import enqueue_linking
from memos.memories import service

router = APIRouter(prefix="/v1", tags=["memories"])

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL; refuse it as a 422, not a database error


@router.post(
    "/cubes/{cube_id}/memories",
    status_code=201,
    response_model=schemas.MemoryList,
    responses=error_responses(401, 403, 404, 413),
)
def add_memories(
    cube_id: uuid.UUID,
    body: schemas.MemoriesCreate,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    embedder: EmbedderDep,
    limits: LimitsDep,
) -> schemas.MemoryList:
    cube, _ = load_cube(session, cube_id, tenant_id, need="write")
    heads = service.add_memories(
        session, cube, body.memories, actor=principal.actor, limits=limits, embedder=embedder, caller=principal
    )
    plaintext = [m.id for m in heads if m.kind == "plaintext" and m.status == "active"]  # not quarantined ones
    if plaintext:  # one linking job per request, in the same transaction (outbox)
        enqueue_linking(session, cube, plaintext, tenant_id=tenant_id, key_id=principal.key_id)
    session.commit()
    return schemas.MemoryList(memories=[service.to_schema(m) for m in heads])


@router.get(
    "/cubes/{cube_id}/memories", response_model=schemas.MemoryList, responses=error_responses(401, 403, 404)
)
def list_memories(
    cube_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, description="page size (at most MEMOS_MAX_PAGE_SIZE, default 500: more is a 422)",
                                json_schema_extra={"maximum": 500})] = 50,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
    status: schemas.MemoryStatus | None = None,
    kind: schemas.MemoryKind | None = None,
    tag: Annotated[str | None, Query(max_length=200, pattern=NO_NUL)] = None,
) -> schemas.MemoryList:
    if limit > state.settings.max_page_size:
        raise InvalidInput(f"limit {limit} is over the maximum page size {state.settings.max_page_size}")
    cube, _ = load_cube(session, cube_id, tenant_id)
    rows, next_cursor = service.list_memories(
        session, cube, limit=limit, cursor=cursor,
        status=status.value if status else None, kind=kind.value if kind else None, tag=tag,
    )
    return schemas.MemoryList(memories=[service.to_schema(m) for m in rows], next_cursor=next_cursor)


@router.get("/memories/{memory_id}", response_model=schemas.Memory, responses=error_responses(401, 403, 404))
def get_memory(
    memory_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    as_of: Annotated[datetime | None, Query(description="ISO 8601 time: the memory as it was then")] = None,
) -> schemas.Memory:
    head, _ = service.get_memory(session, memory_id, tenant_id)
    if as_of is not None:
        return service.as_of_schema(head, service.read_as_of(session, head, as_of))
    return service.to_schema(head)


@router.patch(
    "/memories/{memory_id}", response_model=schemas.Memory, responses=error_responses(401, 403, 404, 409, 413)
)
def update_memory(
    memory_id: uuid.UUID,
    body: schemas.MemoryUpdate,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    embedder: EmbedderDep,
    limits: LimitsDep,
) -> schemas.Memory:
    head = service.update_memory(
        session, memory_id, tenant_id, body, actor=principal.actor, limits=limits, embedder=embedder,
        cause=principal.cause,
    )
    if body.content is not None and head.kind == "plaintext" and head.status == "active":
        # New content, new neighbours: linked again, and weighed again by the guard against them (outbox).
        cube, _ = load_cube(session, head.cube_id, tenant_id, need="write")
        enqueue_linking(session, cube, [head.id], tenant_id=tenant_id, key_id=principal.key_id)
    session.commit()
    return service.to_schema(head)


@router.delete("/memories/{memory_id}", response_model=schemas.Memory, responses=error_responses(401, 403, 404))
def delete_memory(
    memory_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    reason: Annotated[str | None, Query(max_length=2000, pattern=NO_NUL)] = None,
) -> schemas.Memory:
    head = service.delete_memory(session, memory_id, tenant_id, actor=principal.actor, reason=reason,
                                 cause=principal.cause)
    session.commit()
    return service.to_schema(head)


@router.get(
    "/memories/{memory_id}/history", response_model=schemas.MemoryHistory, responses=error_responses(401, 403, 404)
)
def history(memory_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> schemas.MemoryHistory:
    versions = service.history(session, memory_id, tenant_id)
    return schemas.MemoryHistory(memory_id=memory_id, versions=[service.version_to_schema(v) for v in versions])


@router.post(
    "/memories/{memory_id}/rollback", response_model=schemas.Memory, responses=error_responses(401, 403, 404)
)
def rollback(
    memory_id: uuid.UUID,
    body: schemas.Rollback,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    embedder: EmbedderDep,
) -> schemas.Memory:
    head = service.rollback(
        session, memory_id, tenant_id, version=body.version, actor=principal.actor, reason=body.reason,
        embedder=embedder, cause=principal.cause,
    )
    session.commit()
    return service.to_schema(head)
