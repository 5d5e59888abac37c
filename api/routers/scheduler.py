"""The tier scheduler: this process's tiers, the moves they made, and pinning a payload in memory."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import PrincipalDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from memos.scheduler import schemas
from memos.scheduler import service as scheduler

router = APIRouter(prefix="/v1", tags=["scheduler"])


@router.get("/scheduler/status", response_model=schemas.SchedulerStatus, responses=error_responses(401))
def status(state: StateDep, session: SessionDep, principal: PrincipalDep) -> schemas.SchedulerStatus:
    """Per memory tier of the process that answers: budget, bytes used, items, hits, promotions, demotions,
    bytes moved; the policy in force; misses and prefetches. A ``gpu`` tier with ``emulated: true`` is held on
    the CPU device because there is no CUDA. ``plaintext``: the memories the key can see in the long-term store
    and archived, and the sessions with a working memory now."""
    out = scheduler.status(state.activation)
    out.plaintext = scheduler.plaintext_tiers(session, state.working, tenant_id=principal.tenant_id)
    return out


@router.get("/scheduler/events", response_model=list[schemas.TierMove], responses=error_responses(401, 422))
def events(
    state: StateDep,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[schemas.TierMove]:
    """The latest moves between tiers in the process that answers, newest first: yours with a tenant key, all of
    them (blob hashes, no content) with the admin key."""
    return scheduler.events(session, state.activation, tenant_id=principal.tenant_id, limit=limit)


@router.post("/memories/{memory_id}/pin", response_model=schemas.PinState,
             responses=error_responses(401, 403, 404, 409, 422))
def pin(memory_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep, state: StateDep) -> schemas.PinState:
    """Keep an activation's KV snapshot or a parametric memory's LoRA adapter in memory until unpinned, in every
    serving process (loaded now if it was on disk; an adapter only if its model is loaded in the process that
    answers, else at its first use). 409 if the pinned payloads would not fit the memory tiers' budgets
    together, or for a memory with no payload."""
    head = scheduler.pin(session, memory_id, tenant_id, runtime=state.parametric)
    session.commit()
    return schemas.PinState(**scheduler.describe(head, state.activation))


@router.post("/memories/{memory_id}/unpin", response_model=schemas.PinState,
             responses=error_responses(401, 403, 404, 409, 422))
def unpin(memory_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep, state: StateDep) -> schemas.PinState:
    """Let the policy move the payload again."""
    head = scheduler.unpin(session, memory_id, tenant_id, runtime=state.parametric)
    session.commit()
    return schemas.PinState(**scheduler.describe(head, state.activation))
