"""Cubes: tenant-owned containers of memories, shareable by explicit grant."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.orm import Session

from memcube.models import Cube, CubeGrant
from memcube.repository import cubes as repo
from memcube.repository import tenants as tenants_repo
from memos.errors import Conflict, Forbidden, InvalidInput, NotFound

AccessLevel = Literal["owner", "read", "write"]


def create_cube(session: Session, tenant_id: uuid.UUID, *, name: str, description: str | None) -> Cube:
    cube = repo.create_cube(session, tenant_id, name, description)
    if cube is None:
        raise Conflict(f"a cube named {name!r} already exists")
    return cube


def _level(cube: Cube, tenant_id: uuid.UUID, granted: str | None) -> AccessLevel:
    if cube.tenant_id == tenant_id:
        return "owner"
    # Row-level security only shows a foreign cube through a grant, so one exists here.
    return "write" if granted == "write" else "read"


def access_level(session: Session, cube: Cube, tenant_id: uuid.UUID) -> AccessLevel:
    if cube.tenant_id == tenant_id:
        return "owner"
    grant = repo.get_grant(session, cube.id, tenant_id)
    return _level(cube, tenant_id, grant.access if grant is not None else None)


def load_cube(
    session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, need: AccessLevel = "read"
) -> tuple[Cube, AccessLevel]:
    """The cube if the tenant may see it (else 404, exactly like a missing one) with the access it has;
    403 when it can see the cube but lacks ``need``. One statement: the cube and the tenant's grant on it."""
    found = repo.get_cube_with_grant(session, cube_id, tenant_id)
    if found is None:
        raise NotFound("cube not found")
    cube, granted = found
    level = _level(cube, tenant_id, granted)
    allowed = {"read": ("owner", "read", "write"), "write": ("owner", "write"), "owner": ("owner",)}[need]
    if level not in allowed:
        raise Forbidden(f"this key has {level} access to the cube; {need} access is needed")
    return cube, level


def list_cubes(session: Session, tenant_id: uuid.UUID) -> list[tuple[Cube, AccessLevel]]:
    return [(c, access_level(session, c, tenant_id)) for c in repo.list_visible_cubes(session)]


def delete_cube(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID) -> None:
    cube, _ = load_cube(session, cube_id, tenant_id, need="owner")
    repo.delete_cube(session, cube.id)


def grant(
    session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, grantee_id: uuid.UUID, access: str
) -> CubeGrant:
    cube, _ = load_cube(session, cube_id, tenant_id, need="owner")
    if grantee_id == tenant_id:
        raise InvalidInput("a cube cannot be granted to its owner")
    if not tenants_repo.tenant_exists(session, grantee_id):
        raise NotFound("tenant not found")
    return repo.grant_access(session, cube, grantee_id, access)


def revoke(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, grantee_id: uuid.UUID) -> None:
    cube, _ = load_cube(session, cube_id, tenant_id, need="owner")
    if not repo.revoke_grant(session, cube.id, grantee_id):
        raise NotFound("grant not found")


def list_grants(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID) -> list[CubeGrant]:
    cube, _ = load_cube(session, cube_id, tenant_id, need="owner")
    return repo.list_grants(session, cube.id)
