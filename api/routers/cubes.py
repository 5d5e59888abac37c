"""Cubes and grants."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.deps import SessionDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memcube.models import Cube
from memos.cubes import service

router = APIRouter(prefix="/v1/cubes", tags=["cubes"])


def cube_out(cube: Cube, access: str) -> schemas.Cube:
    return schemas.Cube(
        id=cube.id, tenant_id=cube.tenant_id, name=cube.name, description=cube.description,
        created_at=cube.created_at, access=access,  # type: ignore[arg-type]
    )


@router.post("", status_code=201, response_model=schemas.Cube, responses=error_responses(401, 403, 409))
def create_cube(body: schemas.CubeCreate, session: SessionDep, tenant_id: TenantDep) -> schemas.Cube:
    cube = service.create_cube(session, tenant_id, name=body.name, description=body.description)
    session.commit()
    return cube_out(cube, "owner")


@router.get("", response_model=schemas.CubeList, responses=error_responses(401, 403))
def list_cubes(session: SessionDep, tenant_id: TenantDep) -> schemas.CubeList:
    return schemas.CubeList(cubes=[cube_out(c, a) for c, a in service.list_cubes(session, tenant_id)])


@router.get("/{cube_id}", response_model=schemas.Cube, responses=error_responses(401, 403, 404))
def get_cube(cube_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> schemas.Cube:
    cube, access = service.load_cube(session, cube_id, tenant_id)
    return cube_out(cube, access)


@router.delete("/{cube_id}", status_code=204, responses=error_responses(401, 403, 404))
def delete_cube(cube_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> Response:
    service.delete_cube(session, cube_id, tenant_id)
    session.commit()
    return Response(status_code=204)


@router.post(
    "/{cube_id}/grants", status_code=201, response_model=schemas.Grant, responses=error_responses(401, 403, 404)
)
def grant(
    cube_id: uuid.UUID, body: schemas.GrantCreate, session: SessionDep, tenant_id: TenantDep
) -> schemas.Grant:
    g = service.grant(session, cube_id, tenant_id, grantee_id=body.tenant_id, access=body.access.value)
    session.commit()
    return schemas.Grant(cube_id=g.cube_id, tenant_id=g.grantee_id, access=g.access, created_at=g.created_at)  # type: ignore[arg-type]


@router.get("/{cube_id}/grants", response_model=list[schemas.Grant], responses=error_responses(401, 403, 404))
def list_grants(cube_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> list[schemas.Grant]:
    return [
        schemas.Grant(cube_id=g.cube_id, tenant_id=g.grantee_id, access=g.access, created_at=g.created_at)  # type: ignore[arg-type]
        for g in service.list_grants(session, cube_id, tenant_id)
    ]


@router.delete("/{cube_id}/grants/{grantee_id}", status_code=204, responses=error_responses(401, 403, 404))
def revoke_grant(
    cube_id: uuid.UUID, grantee_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep
) -> Response:
    service.revoke(session, cube_id, tenant_id, grantee_id=grantee_id)
    session.commit()
    return Response(status_code=204)
