"""Dependencies as ``Annotated`` aliases: ``SessionDep``, ``PrincipalDep``, ``TenantDep``, ``AdminDep``.

One session (one transaction) per request. Authentication looks the key up in the system context, then
switches the same transaction to the caller's tenant, so everything after runs under row-level security.
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
from memcube.db import SYSTEM, set_tenant
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
    set_tenant(session, SYSTEM)
    try:
        principal = authenticate(session, creds.credentials, admin_hash=state.admin_hash)
    except BaseException:
        set_tenant(session, None)
        raise
    # Straight from the system context to the caller's (one round trip fewer per request).
    set_tenant(session, SYSTEM if principal.is_admin else principal.tenant_id)
    return principal


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
