"""Attribution you can trust: every version names the key and tenant whose request caused it, in fields no
request can set; a client cannot assert reserved provenance (a system source, another actor, trust above
its key's ceiling)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN

Auth = dict[str, str]


def new_key(client: TestClient, tenant_id: uuid.UUID, **body: Any) -> tuple[str, Auth]:
    """A fresh key of the tenant (``body``: name, max_trust); returns its id and auth headers."""
    r = client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": "attribution", **body}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['key']}"}


def post_memory(client: TestClient, cube_id: str, auth: Auth, **fields: Any) -> Any:
    return client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "a fact", **fields}]},
                       headers=auth)


def history(client: TestClient, memory_id: str, auth: Auth) -> list[dict[str, Any]]:
    r = client.get(f"/v1/memories/{memory_id}/history", headers=auth)
    assert r.status_code == 200, r.text
    versions: list[dict[str, Any]] = r.json()["versions"]
    return versions


def cause(version: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    return version["caused_by_key_id"], version["caused_by_tenant_id"], version["job_id"]


def test_every_direct_write_names_its_key_and_tenant(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, make_tenant: Any,
) -> None:
    owner_id, _ = tenant
    owner_key, owner = new_key(client, owner_id)
    grantee_id, _ = make_tenant("grantee")
    grantee_key, grantee = new_key(client, grantee_id)
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(grantee_id), "access": "write"},
                    headers=owner)
    assert r.status_code == 201, r.text

    r = post_memory(client, cube_id, owner, content="Alice works at Initech")
    assert r.status_code == 201, r.text
    memory = r.json()["memories"][0]
    assert memory["provenance"]["actor"] == f"key:{owner_key}"  # filled in by the server
    mid = memory["id"]
    assert client.patch(f"/v1/memories/{mid}", json={"content": "Alice works at Globex"},
                        headers=grantee).status_code == 200
    assert client.post(f"/v1/memories/{mid}/rollback", json={"version": 1}, headers=owner).status_code == 200
    assert client.delete(f"/v1/memories/{mid}", headers=grantee).status_code == 200

    versions = history(client, mid, owner)
    assert [(v["version"], v["actor"], cause(v)) for v in versions] == [
        (1, f"key:{owner_key}", (owner_key, str(owner_id), None)),
        (2, f"key:{grantee_key}", (grantee_key, str(grantee_id), None)),
        (3, f"key:{owner_key}", (owner_key, str(owner_id), None)),
        (4, f"key:{grantee_key}", (grantee_key, str(grantee_id), None)),
    ]
    # The grantee reads the same history: who did what is not hidden from either side.
    assert [cause(v) for v in history(client, mid, grantee)] == [cause(v) for v in versions]


def test_attribution_cannot_be_sent(client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str) -> None:
    tenant_id, _ = tenant
    key_id, auth = new_key(client, tenant_id)
    forged = {"caused_by_key_id": str(uuid.uuid4()), "job_id": str(uuid.uuid4())}
    r = post_memory(client, cube_id, auth, **forged)
    assert r.status_code == 422, r.text  # not fields of a memory: refused, never stored
    r = post_memory(client, cube_id, auth, provenance={"source": "agent", **forged})
    assert r.status_code == 422, r.text
    assert client.get(f"/v1/cubes/{cube_id}/memories", headers=auth).json()["memories"] == []
    r = post_memory(client, cube_id, auth)
    assert r.status_code == 201, r.text
    (first,) = history(client, r.json()["memories"][0]["id"], auth)
    assert cause(first) == (key_id, str(tenant_id), None)


@pytest.mark.parametrize("source", ["system", "consolidation"])
def test_reserved_sources_are_refused(client: TestClient, auth: Auth, cube_id: str, source: str) -> None:
    r = post_memory(client, cube_id, auth, provenance={"source": source, "trust": 0.5})
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "invalid_input"
    assert f"'{source}' is reserved" in r.json()["detail"]
    assert client.get(f"/v1/cubes/{cube_id}/memories", headers=auth).json()["memories"] == []


@pytest.mark.parametrize("source", ["agent", "user", "tool", "import"])
def test_client_sources_are_kept(client: TestClient, auth: Auth, cube_id: str, source: str) -> None:
    r = post_memory(client, cube_id, auth, provenance={"source": source})
    assert r.status_code == 201, r.text
    assert r.json()["memories"][0]["provenance"]["source"] == source


def test_an_actor_other_than_the_caller_is_refused(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, make_tenant: Any,
) -> None:
    tenant_id, _ = tenant
    key_id, auth = new_key(client, tenant_id)
    other_key, _ = new_key(client, make_tenant("victim")[0])
    for actor in (f"key:{other_key}", "system:consolidation", "admin", "Alice"):
        r = post_memory(client, cube_id, auth, provenance={"actor": actor})
        assert r.status_code == 422, (actor, r.text)
        assert f"key:{key_id}" in r.json()["detail"]  # says what it may be
    assert client.get(f"/v1/cubes/{cube_id}/memories", headers=auth).json()["memories"] == []
    # Naming itself is fine (and the same as leaving it out).
    r = post_memory(client, cube_id, auth, provenance={"actor": f"key:{key_id}", "source": "tool"})
    assert r.status_code == 201, r.text
    assert r.json()["memories"][0]["provenance"]["actor"] == f"key:{key_id}"


def test_trust_is_capped_by_the_keys_ceiling(client: TestClient, tenant: tuple[uuid.UUID, Auth],
                                             cube_id: str) -> None:
    tenant_id, _ = tenant
    r = client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": "plain"}, headers=ADMIN)
    assert r.json()["max_trust"] == 0.9  # the documented default
    _, auth = new_key(client, tenant_id)
    r = post_memory(client, cube_id, auth, provenance={"trust": 1.0})
    assert r.status_code == 422, r.text
    assert "max_trust 0.9" in r.json()["detail"]
    r = post_memory(client, cube_id, auth, provenance={"trust": 0.9})
    assert r.status_code == 201, r.text
    assert r.json()["memories"][0]["provenance"]["trust"] == 0.9

    # The admin may trust a key fully, or less than the default.
    _, trusted = new_key(client, tenant_id, max_trust=1.0)
    r = post_memory(client, cube_id, trusted, provenance={"source": "user", "trust": 1.0})
    assert r.status_code == 201, r.text
    assert r.json()["memories"][0]["provenance"]["trust"] == 1.0
    _, doubtful = new_key(client, tenant_id, max_trust=0.2)
    assert post_memory(client, cube_id, doubtful, provenance={"trust": 0.5}).status_code == 422
    r = post_memory(client, cube_id, doubtful)  # no trust given: the default 0.5, lowered to the ceiling
    assert r.status_code == 201, r.text
    assert r.json()["memories"][0]["provenance"]["trust"] == 0.2

    for bad in (-0.1, 1.5, "high"):
        r = client.post(f"/v1/tenants/{tenant_id}/keys", json={"max_trust": bad}, headers=ADMIN)
        assert r.status_code == 422, (bad, r.text)


def test_one_refused_item_refuses_the_batch(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [
        {"content": "fine"}, {"content": "forged", "provenance": {"source": "system", "trust": 1.0}},
    ]}, headers=auth)
    assert r.status_code == 422, r.text
    assert client.get(f"/v1/cubes/{cube_id}/memories", headers=auth).json()["memories"] == []


def test_jobs_name_the_key_that_enqueued_them(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, make_tenant: Any,
) -> None:
    owner_id, owner = tenant
    grantee_id, _ = make_tenant("grantee")
    grantee_key, grantee = new_key(client, grantee_id)
    client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(grantee_id), "access": "write"},
                headers=owner)
    r = client.post(f"/v1/cubes/{cube_id}/messages",
                    json={"messages": [{"role": "user", "name": "Alice", "content": "I work at Initech."}]},
                    headers=grantee)
    assert r.status_code == 202, r.text
    job_id = r.json()["job_id"]
    for auth in (grantee, owner):  # the cube's owner sees who is changing their cube
        job = client.get(f"/v1/jobs/{job_id}", headers=auth).json()
        assert (job["key_id"], job["tenant_id"]) == (grantee_key, str(grantee_id))
    (listed,) = client.get(f"/v1/cubes/{cube_id}/jobs", headers=owner).json()["jobs"]
    assert listed["key_id"] == grantee_key
