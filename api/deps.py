"""Dependencies as ``Annotated`` aliases: ``SessionDep``, ``PrincipalDep``, ``TenantDep``, ``AdminDep``.

One session (one transaction, one pooled connection checked out once) per request. Authentication resolves
the key from the process's short-lived key cache, or looks it up in the system context and switches the same
transaction to the caller's tenant, so everything after runs under row-level security.
Dependencies are ``async def`` wherever they do no I/O: FastAPI runs a plain ``def`` dependency in its thread
pool, a hop between the event loop and a worker thread per dependency per request (each one a wait for the
GIL and the loop under load). The session is made in the loop (its connection is checked out at its first
statement, in the handler's thread), a cached key is resolved there too, and only a key lookup and the
session's close (after the response is sent) go to a thread.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.state import AppState
from memos.embedding import Embedder
from memos.errors import Forbidden, Unauthorized
from memos.memories.service import Limits
from memos.tenants.service import Principal, authenticate, authenticate_known

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer mk_...`")


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.memos
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    session = state.sessions()  # no I/O yet
    try:
        yield session
    finally:
        # Rolls back whatever the handler did not commit and returns the connection: blocking I/O, so in a
        # thread, shielded (a cancelled request must not leak its connection) and with a limiter of its own,
        # as FastAPI runs a ``def`` dependency's exit (not waiting behind a full thread pool).
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


async def get_principal(
    state: StateDep,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if creds is None or not creds.credentials:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    # A key resolved in the last MEMOS_AUTH_CACHE_TTL_S seconds costs no statement (see memos.tenants.cache).
    known = authenticate_known(session, creds.credentials, admin_hash=state.admin_hash, cache=state.principals)
    if known is not None:
        return known
    return await run_in_threadpool(authenticate, session, creds.credentials, admin_hash=state.admin_hash,
                                   cache=state.principals)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def get_tenant_id(principal: PrincipalDep) -> uuid.UUID:
    if principal.tenant_id is None:
        raise Forbidden("the admin key manages tenants and keys; use a tenant's key for its data")
    return principal.tenant_id


TenantDep = Annotated[uuid.UUID, Depends(get_tenant_id)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise Forbidden("this route needs the admin key")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


async def get_embedder(state: StateDep) -> Embedder:
    return state.embedder


EmbedderDep = Annotated[Embedder, Depends(get_embedder)]


async def get_limits(state: StateDep) -> Limits:
    return state.limits


LimitsDep = Annotated[Limits, Depends(get_limits)]
