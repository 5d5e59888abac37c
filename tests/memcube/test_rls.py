"""Row-level security at the storage level: raw SQL with no WHERE sees only the session tenant's rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant

Auth = dict[str, str]
MakeTenant = Callable[..., tuple[uuid.UUID, Auth]]


def seed(client: TestClient, auth: Auth, name: str, n: int) -> list[str]:
    """A cube with ``n`` memories for the tenant behind ``auth``; returns the memory ids."""
    r = client.post("/v1/cubes", json={"name": name}, headers=auth)
    assert r.status_code == 201, r.text
    cube = r.json()["id"]
    r = client.post(f"/v1/cubes/{cube}/memories",
                    json={"memories": [{"content": f"{name} fact {i}"} for i in range(n)]}, headers=auth)
    assert r.status_code == 201, r.text
    return [m["id"] for m in r.json()["memories"]]


def count(sessions: sessionmaker[Session], tenant: uuid.UUID | str | None, table: str) -> int:
    with sessions() as s:
        set_tenant(s, tenant)
        value = s.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # no WHERE on purpose
        s.rollback()
    return int(value)


def test_raw_queries_see_only_the_session_tenant(
    client: TestClient, make_tenant: MakeTenant, sessions: sessionmaker[Session]
) -> None:
    a_id, a_auth = make_tenant("alpha")
    b_id, b_auth = make_tenant("bravo")
    seed(client, a_auth, "alpha", 3)
    seed(client, b_auth, "bravo", 2)

    assert count(sessions, a_id, "memories") == 3
    assert count(sessions, b_id, "memories") == 2
    assert count(sessions, b_id, "memory_versions") == 2
    assert count(sessions, b_id, "cubes") == 1
    assert count(sessions, b_id, "tenants") == 1
    assert count(sessions, b_id, "api_keys") == 1
    # No tenant set: nothing at all (fail closed), in every tenant-owned table.
    for table in ("memories", "memory_versions", "cubes", "tenants", "api_keys", "cube_grants", "messages"):
        assert count(sessions, None, table) == 0, table
    # The system context (relays, sweeps) sees everything.
    assert count(sessions, SYSTEM, "memories") >= 5


def test_writes_in_another_tenants_context_touch_nothing(
    client: TestClient, make_tenant: MakeTenant, sessions: sessionmaker[Session]
) -> None:
    _, a_auth = make_tenant("alpha")
    b_id, b_auth = make_tenant("bravo")
    a_ids = seed(client, a_auth, "alpha", 2)
    seed(client, b_auth, "bravo", 1)

    with sessions() as s:
        set_tenant(s, b_id)
        updated = s.execute(text("UPDATE memories SET content = 'pwned' WHERE id = :id"), {"id": a_ids[0]})
        assert updated.rowcount == 0  # type: ignore[attr-defined]
        everything = s.execute(text("UPDATE memories SET content = 'pwned'"))
        assert everything.rowcount == 1  # type: ignore[attr-defined]  # only B's own row
        deleted = s.execute(text("DELETE FROM memories WHERE id = ANY(:ids)"), {"ids": a_ids})
        assert deleted.rowcount == 0  # type: ignore[attr-defined]
        s.commit()

    r = client.get(f"/v1/memories/{a_ids[0]}", headers=a_auth)
    assert r.status_code == 200
    assert r.json()["content"] == "alpha fact 0"


def test_inserting_a_row_for_another_tenant_is_refused(
    client: TestClient, make_tenant: MakeTenant, sessions: sessionmaker[Session]
) -> None:
    a_id, a_auth = make_tenant("alpha")
    b_id, _ = make_tenant("bravo")
    r = client.post("/v1/cubes", json={"name": "alpha"}, headers=a_auth)
    cube = r.json()["id"]

    with sessions() as s:
        set_tenant(s, b_id)
        with pytest.raises(ProgrammingError, match="row-level security"), s.begin_nested():
            s.execute(
                text("INSERT INTO memories (id, tenant_id, cube_id, kind, status, tier, content, metadata, tags,"
                     " keywords, trust, version, heat, created_at, updated_at)"
                     " VALUES (:id, :t, :c, 'plaintext', 'active', 'long_term', 'x', '{}', '{}', '{}', 0.5, 1,"
                     " 0, now(), now())"),
                {"id": uuid.uuid4(), "t": a_id, "c": cube},
            )
        s.rollback()
    assert count(sessions, a_id, "memories") == 0
