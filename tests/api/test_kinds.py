"""Plain memory writes are plaintext only: an activation memory is made through its own route, a parametric
one through the adapters routes (the 422 says which); either is a clear 422 that writes nothing (the SDK
refuses it before sending)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from memcube.schemas import MemoryCreate
from tests.api.helpers import list_all

Auth = dict[str, str]


@pytest.mark.parametrize("kind", ["activation", "parametric"])
def test_planned_kinds_are_refused_with_a_clear_422(client: TestClient, auth: Auth, cube_id: str,
                                                     kind: str) -> None:
    body = {"memories": [{"content": "fine"}, {"content": "a KV snapshot, supposedly", "kind": kind}]}
    r = client.post(f"/v1/cubes/{cube_id}/memories", json=body, headers=auth)
    assert r.status_code == 422, r.text
    [problem] = r.json()["detail"]
    assert problem["loc"][-3:] == ["memories", 1, "kind"]
    expected = ("POST /v1/cubes/{cube_id}/activations" if kind == "activation"
                else "POST /v1/cubes/{cube_id}/adapters")
    assert expected in problem["msg"]
    assert list_all(client, cube_id, auth) == []  # the whole batch is refused


def test_plaintext_is_still_the_default_and_accepted(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories",
                    json={"memories": [{"content": "plain"}, {"content": "explicit", "kind": "plaintext"}]},
                    headers=auth)
    assert r.status_code == 201, r.text
    assert [m["kind"] for m in r.json()["memories"]] == ["plaintext", "plaintext"]


def test_the_sdk_model_refuses_them_too() -> None:
    with pytest.raises(ValidationError, match="parametric memories are LoRA adapters"):
        MemoryCreate(content="x", kind="parametric")  # type: ignore[arg-type]
