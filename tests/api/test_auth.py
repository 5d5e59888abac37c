"""Authentication: the admin key, tenant keys, revocation."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN

Auth = dict[str, str]
MakeTenant = Callable[..., tuple[uuid.UUID, Auth]]


def new_key(client: TestClient, tenant_id: uuid.UUID) -> tuple[str, Auth]:
    r = client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": "extra"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key"].startswith("mk_")
    assert body["tenant_id"] == str(tenant_id)
    return body["id"], {"Authorization": f"Bearer {body['key']}"}


def test_admin_manages_tenants_but_not_their_data(client: TestClient, cube_id: str) -> None:
    r = client.post("/v1/tenants", json={"name": "newco"}, headers=ADMIN)
    assert r.status_code == 201
    tenant_id = uuid.UUID(r.json()["id"])
    assert r.json()["name"] == "newco"
    assert str(tenant_id) in {t["id"] for t in client.get("/v1/tenants", headers=ADMIN).json()}
    new_key(client, tenant_id)
    assert client.post(f"/v1/tenants/{uuid.uuid4()}/keys", json={"name": "x"}, headers=ADMIN).status_code == 404

    for method, path, body in [
        ("GET", "/v1/cubes", None),
        ("POST", "/v1/cubes", {"name": "admin-cube"}),
        ("GET", f"/v1/cubes/{cube_id}", None),
        ("GET", f"/v1/cubes/{cube_id}/memories", None),
        ("POST", f"/v1/cubes/{cube_id}/search", {"query": "x"}),
        ("GET", f"/v1/memories/{uuid.uuid4()}", None),
    ]:
        r = client.request(method, path, json=body, headers=ADMIN)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"] == "forbidden"


def test_tenant_key_cannot_use_admin_routes(client: TestClient, tenant: tuple[uuid.UUID, Auth]) -> None:
    tenant_id, auth = tenant
    for method, path, body in [
        ("POST", "/v1/tenants", {"name": "sneaky"}),
        ("GET", "/v1/tenants", None),
        ("POST", f"/v1/tenants/{tenant_id}/keys", {"name": "more"}),
    ]:
        r = client.request(method, path, json=body, headers=auth)
        assert r.status_code == 403, (method, path, r.text)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer mk_not_a_real_key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "mk_test_admin_key"},
    ],
)
def test_missing_or_invalid_key_is_401(client: TestClient, cube_id: str, headers: Auth) -> None:
    for method, path in [("GET", "/v1/cubes"), ("GET", f"/v1/cubes/{cube_id}"), ("POST", "/v1/tenants")]:
        r = client.request(method, path, json={"name": "x"}, headers=headers)
        assert r.status_code == 401, (headers, path, r.text)
        assert r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_key_is_401(client: TestClient, tenant: tuple[uuid.UUID, Auth]) -> None:
    tenant_id, auth = tenant
    key_id, extra = new_key(client, tenant_id)
    assert client.get("/v1/cubes", headers=extra).status_code == 200

    # A tenant revokes its own key with any of its keys.
    assert client.delete(f"/v1/keys/{key_id}", headers=auth).status_code == 204
    assert client.get("/v1/cubes", headers=extra).status_code == 401
    assert client.delete(f"/v1/keys/{key_id}", headers=auth).status_code == 404  # already revoked
    assert client.get("/v1/cubes", headers=auth).status_code == 200  # the other key still works


def test_admin_revokes_any_key(client: TestClient, tenant: tuple[uuid.UUID, Auth]) -> None:
    key_id, extra = new_key(client, tenant[0])
    assert client.delete(f"/v1/keys/{key_id}", headers=ADMIN).status_code == 204
    assert client.get("/v1/cubes", headers=extra).status_code == 401


def test_a_tenant_cannot_revoke_another_tenants_key(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], make_tenant: MakeTenant
) -> None:
    b_id, b_auth = make_tenant("bravo")
    key_id, b_extra = new_key(client, b_id)
    r = client.delete(f"/v1/keys/{key_id}", headers=tenant[1])
    missing = client.delete(f"/v1/keys/{uuid.uuid4()}", headers=tenant[1])
    assert r.status_code == 404
    assert r.json() == missing.json()
    assert client.get("/v1/cubes", headers=b_extra).status_code == 200
    assert client.get("/v1/cubes", headers=b_auth).status_code == 200
