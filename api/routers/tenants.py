"""Tenants and API keys (the admin key creates them; a tenant may revoke its own keys)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.deps import AdminDep, PrincipalDep, SessionDep, StateDep
from api.errors import error_responses
from memcube import schemas
from memcube.repository import tenants as tenants_repo
from memos.tenants import service

router = APIRouter(prefix="/v1", tags=["tenants"])


@router.post("/tenants", status_code=201, response_model=schemas.Tenant, responses=error_responses(401, 403))
def create_tenant(body: schemas.TenantCreate, session: SessionDep, _admin: AdminDep) -> schemas.Tenant:
    tenant = service.create_tenant(session, name=body.name)
    session.commit()
    return schemas.Tenant.model_validate(tenant)


@router.get("/tenants", response_model=list[schemas.Tenant], responses=error_responses(401, 403))
def list_tenants(session: SessionDep, _admin: AdminDep) -> list[schemas.Tenant]:
    return [schemas.Tenant.model_validate(t) for t in tenants_repo.list_tenants(session)]


@router.post(
    "/tenants/{tenant_id}/keys",
    status_code=201,
    response_model=schemas.ApiKeyCreated,
    responses=error_responses(401, 403, 404),
)
def create_key(
    tenant_id: uuid.UUID, body: schemas.KeyCreate, session: SessionDep, _admin: AdminDep
) -> schemas.ApiKeyCreated:
    key, secret = service.create_key(session, tenant_id, name=body.name, max_trust=body.max_trust)
    session.commit()
    return schemas.ApiKeyCreated(id=key.id, key=secret, name=key.name, tenant_id=key.tenant_id,
                                 max_trust=key.max_trust)


@router.delete("/keys/{key_id}", status_code=204, responses=error_responses(401, 404))
def revoke_key(key_id: uuid.UUID, session: SessionDep, state: StateDep, _principal: PrincipalDep) -> Response:
    # Row-level security shows a tenant only its own keys; the admin sees all.
    service.revoke_key(session, key_id)
    session.commit()
    # After the commit: a lookup racing with it cannot re-cache the key (see memos.tenants.cache). Other
    # processes refuse it when their entry expires (MEMOS_AUTH_CACHE_TTL_S).
    state.principals.forget(key_id)
    return Response(status_code=204)
