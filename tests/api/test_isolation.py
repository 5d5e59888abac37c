"""Isolation between tenants, and sharing through grants."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from tests.api.helpers import add, add_one, list_all, search

Auth = dict[str, str]
MakeTenant = Callable[..., tuple[uuid.UUID, Auth]]


@pytest.fixture
def other(make_tenant: MakeTenant) -> tuple[uuid.UUID, Auth]:
    return make_tenant("bravo")


def probes(cube: str, memory: str, tenant: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every route that takes a cube or memory id: (method, path, json body)."""
    return [
        ("GET", f"/v1/cubes/{cube}", None),
        ("DELETE", f"/v1/cubes/{cube}", None),
        ("GET", f"/v1/cubes/{cube}/memories", None),
        ("POST", f"/v1/cubes/{cube}/memories", {"memories": [{"content": "intruder"}]}),
        ("POST", f"/v1/cubes/{cube}/search", {"query": "secret"}),
        ("POST", f"/v1/cubes/{cube}/messages", {"messages": [{"role": "user", "content": "hi"}]}),
        ("POST", f"/v1/cubes/{cube}/grants", {"tenant_id": tenant, "access": "write"}),
        ("GET", f"/v1/cubes/{cube}/grants", None),
        ("DELETE", f"/v1/cubes/{cube}/grants/{tenant}", None),
        ("GET", f"/v1/memories/{memory}", None),
        ("GET", f"/v1/memories/{memory}/history", None),
        ("PATCH", f"/v1/memories/{memory}", {"content": "overwritten"}),
        ("DELETE", f"/v1/memories/{memory}", None),
        ("POST", f"/v1/memories/{memory}/rollback", {"version": 1}),
    ]


def call(client: TestClient, method: str, path: str, body: dict[str, Any] | None, auth: Auth) -> Any:
    return client.request(method, path, json=body, headers=auth)


def test_another_tenants_cube_and_memory_look_missing(
    client: TestClient, auth: Auth, cube_id: str, other: tuple[uuid.UUID, Auth]
) -> None:
    b_id, b_auth = other
    mem = add_one(client, cube_id, auth, "Alpha's secret launch date is March 3rd")
    missing_cube, missing_mem = str(uuid.uuid4()), str(uuid.uuid4())

    for (method, path, body), (_, missing_path, _) in zip(
        probes(cube_id, mem["id"], str(b_id)), probes(missing_cube, missing_mem, str(b_id)), strict=True
    ):
        foreign = call(client, method, path, body, b_auth)
        missing = call(client, method, missing_path, body, b_auth)
        assert foreign.status_code == 404, (method, path, foreign.text)
        assert foreign.json() == missing.json(), (method, path)

    # Nothing of A's changed, and B's own listing has none of A's cubes.
    got = client.get(f"/v1/memories/{mem['id']}", headers=auth).json()
    assert (got["content"], got["version"], got["status"]) == (mem["content"], 1, "active")
    assert [m["id"] for m in list_all(client, cube_id, auth)] == [mem["id"]]
    assert client.get("/v1/cubes", headers=b_auth).json()["cubes"] == []
    r = client.post("/v1/cubes", json={"name": "notes"}, headers=b_auth)  # same name, other tenant: fine
    assert r.status_code == 201
    assert [c["name"] for c in client.get("/v1/cubes", headers=b_auth).json()["cubes"]] == ["notes"]
    assert [c["id"] for c in client.get("/v1/cubes", headers=auth).json()["cubes"]] == [cube_id]


def grant(client: TestClient, cube_id: str, auth: Auth, tenant_id: uuid.UUID, access: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(tenant_id), "access": access},
                    headers=auth)
    assert r.status_code == 201, r.text
    assert (r.json()["tenant_id"], r.json()["access"]) == (str(tenant_id), access)


def test_read_grant(client: TestClient, auth: Auth, cube_id: str, other: tuple[uuid.UUID, Auth]) -> None:
    b_id, b_auth = other
    mem = add_one(client, cube_id, auth, "Shared note about the garden hose")
    grant(client, cube_id, auth, b_id, "read")

    cubes = client.get("/v1/cubes", headers=b_auth).json()["cubes"]
    assert [(c["id"], c["access"]) for c in cubes] == [(cube_id, "read")]
    assert client.get(f"/v1/cubes/{cube_id}", headers=b_auth).json()["access"] == "read"
    assert client.get(f"/v1/memories/{mem['id']}", headers=b_auth).json()["content"] == mem["content"]
    assert [m["id"] for m in list_all(client, cube_id, b_auth)] == [mem["id"]]
    assert [h["memory"]["id"] for h in search(client, cube_id, b_auth, "garden hose")] == [mem["id"]]
    r = client.get(f"/v1/memories/{mem['id']}/history", headers=b_auth)
    assert r.status_code == 200
    assert len(r.json()["versions"]) == 1

    forbidden = [
        ("PATCH", f"/v1/memories/{mem['id']}", {"content": "changed by B"}),
        ("DELETE", f"/v1/memories/{mem['id']}", None),
        ("POST", f"/v1/memories/{mem['id']}/rollback", {"version": 1}),
        ("POST", f"/v1/cubes/{cube_id}/memories", {"memories": [{"content": "added by B"}]}),
        ("POST", f"/v1/cubes/{cube_id}/messages", {"messages": [{"role": "user", "content": "from B"}]}),
        ("DELETE", f"/v1/cubes/{cube_id}", None),
        ("POST", f"/v1/cubes/{cube_id}/grants", {"tenant_id": str(b_id), "access": "write"}),
        ("GET", f"/v1/cubes/{cube_id}/grants", None),
    ]
    for method, path, body in forbidden:
        r = call(client, method, path, body, b_auth)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"] == "forbidden"

    got = client.get(f"/v1/memories/{mem['id']}", headers=auth).json()
    assert (got["content"], got["version"], got["status"]) == (mem["content"], 1, "active")
    assert len(list_all(client, cube_id, auth)) == 1
    assert client.get(f"/v1/cubes/{cube_id}", headers=auth).status_code == 200


def memory_tenant(sessions: sessionmaker[Session], memory_id: str) -> uuid.UUID:
    with sessions() as s:
        set_tenant(s, SYSTEM)
        value = s.execute(text("SELECT tenant_id FROM memories WHERE id = :id"), {"id": memory_id}).scalar_one()
        s.rollback()
    return uuid.UUID(str(value))


def test_write_grant(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, other: tuple[uuid.UUID, Auth],
    sessions: sessionmaker[Session],
) -> None:
    a_id, auth = tenant
    b_id, b_auth = other
    mine = add_one(client, cube_id, auth, "written by A")
    grant(client, cube_id, auth, b_id, "write")

    theirs = add_one(client, cube_id, b_auth, "written by B into A's cube")
    r = client.patch(f"/v1/memories/{mine['id']}", json={"content": "A's memory, edited by B"}, headers=b_auth)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2

    # The rows still belong to the cube's owner; the owner sees both changes.
    assert memory_tenant(sessions, theirs["id"]) == a_id
    assert memory_tenant(sessions, mine["id"]) == a_id
    assert {m["content"] for m in list_all(client, cube_id, auth)} == {
        "A's memory, edited by B", "written by B into A's cube"
    }
    # A write grant is not ownership.
    assert client.delete(f"/v1/cubes/{cube_id}", headers=b_auth).status_code == 403
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(b_id), "access": "read"}, headers=b_auth)
    assert r.status_code == 403


def test_revoking_a_grant_returns_404(
    client: TestClient, auth: Auth, cube_id: str, other: tuple[uuid.UUID, Auth]
) -> None:
    b_id, b_auth = other
    mem = add_one(client, cube_id, auth, "briefly shared")
    grant(client, cube_id, auth, b_id, "write")
    assert client.get(f"/v1/memories/{mem['id']}", headers=b_auth).status_code == 200
    grants = client.get(f"/v1/cubes/{cube_id}/grants", headers=auth).json()
    assert [(g["tenant_id"], g["access"]) for g in grants] == [(str(b_id), "write")]

    r = client.delete(f"/v1/cubes/{cube_id}/grants/{b_id}", headers=auth)
    assert r.status_code == 204
    assert client.get(f"/v1/cubes/{cube_id}/grants", headers=auth).json() == []
    for method, path, body in probes(cube_id, mem["id"], str(b_id)):
        r = call(client, method, path, body, b_auth)
        assert r.status_code == 404, (method, path, r.text)
    assert client.get("/v1/cubes", headers=b_auth).json()["cubes"] == []
    # Revoking again: the grant is gone.
    assert client.delete(f"/v1/cubes/{cube_id}/grants/{b_id}", headers=auth).status_code == 404


def test_grant_edge_cases(client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str,
                          other: tuple[uuid.UUID, Auth]) -> None:
    a_id, auth = tenant
    b_id, _ = other
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(uuid.uuid4()), "access": "read"},
                    headers=auth)
    assert r.status_code == 404
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(a_id), "access": "read"}, headers=auth)
    assert r.status_code == 422
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(b_id), "access": "admin"}, headers=auth)
    assert r.status_code == 422
    # Granting again changes the access level instead of failing.
    grant(client, cube_id, auth, b_id, "read")
    grant(client, cube_id, auth, b_id, "write")
    grants = client.get(f"/v1/cubes/{cube_id}/grants", headers=auth).json()
    assert [(g["tenant_id"], g["access"]) for g in grants] == [(str(b_id), "write")]


def test_deleting_a_cube_removes_its_memories(client: TestClient, auth: Auth, cube_id: str) -> None:
    mems = add(client, cube_id, auth, "one", "two")
    assert client.delete(f"/v1/cubes/{cube_id}", headers=auth).status_code == 204
    assert client.get(f"/v1/cubes/{cube_id}", headers=auth).status_code == 404
    assert client.get(f"/v1/memories/{mems[0]['id']}", headers=auth).status_code == 404
    assert client.get("/v1/cubes", headers=auth).json()["cubes"] == []


def test_jobs_in_a_shared_cube(
    client: TestClient, auth: Auth, cube_id: str, other: tuple[uuid.UUID, Auth], make_tenant: MakeTenant,
) -> None:
    """Who started a job sees it; the cube's owner sees every job that works on the cube; nobody else."""
    b_id, b_auth = other
    c_id, c_auth = make_tenant("charlie")
    grant(client, cube_id, auth, b_id, "write")
    grant(client, cube_id, auth, c_id, "read")
    body = {"messages": [{"role": "user", "name": "Bob", "content": "I work at Initech."}]}
    mine = client.post(f"/v1/cubes/{cube_id}/messages", json=body, headers=auth).json()["job_id"]
    theirs = client.post(f"/v1/cubes/{cube_id}/messages", json=body, headers=b_auth).json()["job_id"]

    assert client.get(f"/v1/jobs/{theirs}", headers=b_auth).status_code == 200
    assert client.get(f"/v1/jobs/{theirs}", headers=auth).status_code == 200  # the owner's cube
    assert client.get(f"/v1/jobs/{mine}", headers=b_auth).status_code == 404  # not B's job
    for job in (mine, theirs):
        assert client.get(f"/v1/jobs/{job}", headers=c_auth).status_code == 404  # a reader started neither

    def listed(headers: Auth) -> list[str]:
        r = client.get(f"/v1/cubes/{cube_id}/jobs", headers=headers)
        assert r.status_code == 200, r.text
        return [j["id"] for j in r.json()["jobs"]]

    assert sorted(listed(auth)) == sorted([theirs, mine])  # (one test transaction: same created_at)
    assert listed(b_auth) == [theirs]
    assert listed(c_auth) == []


def test_revoking_a_grant_hides_the_grantees_jobs_on_that_cube(
    client: TestClient, auth: Auth, cube_id: str, other: tuple[uuid.UUID, Auth]
) -> None:
    b_id, b_auth = other
    grant(client, cube_id, auth, b_id, "write")
    body = {"messages": [{"role": "user", "name": "Bob", "content": "I work at Initech."}]}
    job = client.post(f"/v1/cubes/{cube_id}/messages", json=body, headers=b_auth).json()["job_id"]
    assert client.get(f"/v1/jobs/{job}", headers=b_auth).status_code == 200
    assert client.delete(f"/v1/cubes/{cube_id}/grants/{b_id}", headers=auth).status_code == 204
    assert client.get(f"/v1/jobs/{job}", headers=b_auth).status_code == 404
    assert client.get(f"/v1/cubes/{cube_id}/jobs", headers=b_auth).status_code == 404
    assert client.get(f"/v1/jobs/{job}", headers=auth).status_code == 200  # the owner still sees it
