"""Dependencies as ``Annotated`` aliases: ``SessionDep``, ``PrincipalDep``, ``TenantDep``, ``AdminDep``.

One session (one transaction, one pooled connection checked out once) per request. Authentication resolves
the key from the process's short-lived key cache, or looks it up in the system context and switches the same
transaction to the caller's tenant, so everything after runs under row-level security.
Dependencies that only pick values are ``async def``: FastAPI runs a plain ``def`` dependency in its thread
pool, a hop per dependency per request; those that touch the database stay ``def``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.state import AppState
from memos.embedding import Embedder
from memos.errors import Forbidden, Unauthorized
from memos.memories.service import Limits
from memos.tenants.service import Principal, authenticate

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer mk_...`")


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.memos
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    session = state.sessions()
    try:
        yield session
    finally:
        session.close()  # rolls back whatever the handler did not commit


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    state: StateDep,
    session: SessionDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if creds is None or not creds.credentials:
        raise Unauthorized("missing API key: send `Authorization: Bearer <key>`")
    # A key resolved in the last MEMOS_AUTH_CACHE_TTL_S seconds costs no statement (see memos.tenants.cache).
    return authenticate(session, creds.credentials, admin_hash=state.admin_hash, cache=state.principals)


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
