"""Property-based fuzz of every route in the OpenAPI schema (schemathesis): no input may produce a 5xx.

Each operation is one pytest test on the rolled-back-transaction fixtures, so whatever the fuzz writes
disappears with the test. Requests carry a real key (the admin key on admin routes) and, about half the
time, real ids in the path (the tenant's cube, a memory in it, another tenant, a spare key), so the
handlers behind the 404s get exercised too. Hypothesis runs derandomized: the same cases every run.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from api.app import create_app
from tests.conftest import ADMIN

# The schema does not depend on the database: build it from an app that is never started.
schema = schemathesis.openapi.from_dict(create_app().openapi())

MAX_EXAMPLES = 25


class Targets:
    """Real resources that generated path parameters may be swapped for."""

    def __init__(self, client: TestClient, tenant: tuple[uuid.UUID, dict[str, str]], cube_id: str,
                 other_tenant: uuid.UUID) -> None:
        self.auth = tenant[1]
        r = client.post(f"/v1/cubes/{cube_id}/memories",
                        json={"memories": [{"content": "Alice likes green tea", "tags": ["tea"]}]},
                        headers=self.auth)
        assert r.status_code == 201, r.text
        r2 = client.post(f"/v1/tenants/{tenant[0]}/keys", json={"name": "spare"}, headers=ADMIN)
        assert r2.status_code == 201, r2.text
        self.values = {
            "cube_id": cube_id,
            "memory_id": r.json()["memories"][0]["id"],
            "tenant_id": str(tenant[0]),
            "grantee_id": str(other_tenant),
            "key_id": r2.json()["id"],  # revoking the spare key must not lock the fuzz out
        }


@pytest.fixture
def targets(client: TestClient, tenant: tuple[uuid.UUID, dict[str, str]], cube_id: str,
            make_tenant: Any) -> Targets:
    other, _ = make_tenant("fuzz-other")
    return Targets(client, tenant, cube_id, other)


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_no_server_errors(case: Any, data: st.DataObject, client: TestClient, targets: Targets) -> None:
    for name in list(case.path_parameters or {}):
        if name in targets.values and data.draw(st.booleans(), label=f"real {name}"):
            case.path_parameters[name] = targets.values[name]
    body = case.body
    if isinstance(body, dict):
        # Generated bodies rarely name a real tenant or an existing version; sometimes make them.
        if isinstance(body.get("tenant_id"), str) and data.draw(st.booleans(), label="real grantee"):
            body["tenant_id"] = targets.values["grantee_id"]
        if isinstance(body.get("version"), int) and data.draw(st.booleans(), label="existing version"):
            body["version"] = 1
        if "expected_version" in body and data.draw(st.booleans(), label="no version check"):
            del body["expected_version"]
    headers = ADMIN if case.path.startswith("/v1/tenants") else targets.auth
    # A session that reaches the app in-process without starting its lifespan again (the client did).
    session = asgi.get_client(cast(Any, client.app))
    case.call_and_validate(session=session, base_url="http://testserver", headers=headers,
                           checks=[not_a_server_error])
