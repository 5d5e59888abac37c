"""Cubes and the grants that share them with other tenants."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from memcube.models import Cube, CubeGrant


def create_cube(session: Session, tenant_id: uuid.UUID, name: str, description: str | None) -> Cube | None:
    """The new cube, or ``None`` if the tenant already has one by that name (atomic: two concurrent
    creates cannot both pass a check and then fail on the unique constraint)."""
    stmt = (
        insert(Cube)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, name=name, description=description)
        .on_conflict_do_nothing(constraint="uq_cubes_tenant_name")
        .returning(Cube)
    )
    return session.scalars(stmt).one_or_none()


def get_cube(session: Session, cube_id: uuid.UUID, *, lock: bool = False) -> Cube | None:
    stmt = select(Cube).where(Cube.id == cube_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def list_visible_cubes(session: Session) -> list[Cube]:
    """Own cubes and cubes granted to the session's tenant (row-level security decides which)."""
    return list(session.scalars(select(Cube).order_by(Cube.created_at, Cube.id)))


def delete_cube(session: Session, cube_id: uuid.UUID) -> None:
    session.execute(delete(Cube).where(Cube.id == cube_id))


def grant_access(session: Session, cube: Cube, grantee_id: uuid.UUID, access: str) -> CubeGrant:
    stmt = (
        insert(CubeGrant)
        .values(cube_id=cube.id, grantee_id=grantee_id, tenant_id=cube.tenant_id, access=access)
        .on_conflict_do_update(index_elements=["cube_id", "grantee_id"], set_={"access": access})
        .returning(CubeGrant)
    )
    grant = session.scalars(stmt).one()
    return grant


def get_grant(session: Session, cube_id: uuid.UUID, grantee_id: uuid.UUID) -> CubeGrant | None:
    return session.get(CubeGrant, (cube_id, grantee_id))


def get_cube_with_grant(session: Session, cube_id: uuid.UUID, grantee_id: uuid.UUID) -> tuple[Cube, str | None] | None:
    """The cube as row-level security shows it, with the access ``grantee_id`` was granted on it (``None``
    without a grant), in one statement: every cube-scoped request starts with it."""
    row = session.execute(
        select(Cube, CubeGrant.access)
        .outerjoin(CubeGrant, (CubeGrant.cube_id == Cube.id) & (CubeGrant.grantee_id == grantee_id))
        .where(Cube.id == cube_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def list_grants(session: Session, cube_id: uuid.UUID) -> list[CubeGrant]:
    return list(session.scalars(select(CubeGrant).where(CubeGrant.cube_id == cube_id)))


def revoke_grant(session: Session, cube_id: uuid.UUID, grantee_id: uuid.UUID) -> bool:
    result = session.execute(
        delete(CubeGrant).where(CubeGrant.cube_id == cube_id, CubeGrant.grantee_id == grantee_id)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
