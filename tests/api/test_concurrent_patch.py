"""Concurrent PATCHes on one memory, each in its own committed transaction (real threads, real PostgreSQL).

A plain PATCH is last-writer-wins: every one succeeds and the history keeps every version. A 409 is only
for a PATCH whose ``expected_version`` no longer matches.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import build_state, create_app
from memos.config import Settings
from tests.conftest import ADMIN, ADMIN_KEY, TenantFactory

WRITERS = 8


@pytest.fixture
def committed_client(make_database: Callable[[str], str], tmp_path: Path) -> Iterator[TestClient]:
    """The app as ``memos serve`` builds it, on a fresh committed database: each request commits for real."""
    url = make_database(f"memos_patch_{uuid.uuid4().hex[:8]}")
    settings = Settings(home=tmp_path, admin_key=ADMIN_KEY, database_url=url, db_pool_size=WRITERS + 2)
    state = build_state(settings)
    try:
        with TestClient(create_app(state), raise_server_exceptions=False) as client:
            yield client
    finally:
        engine = state.sessions.kw["bind"]
        engine.dispose()


def _memory(client: TestClient) -> tuple[str, dict[str, str]]:
    _, auth = TenantFactory(client)("patchers")
    cube = client.post("/v1/cubes", json={"name": "race"}, headers=auth).json()["id"]
    r = client.post(f"/v1/cubes/{cube}/memories", json={"memories": [{"content": "v1"}]}, headers=auth)
    assert r.status_code == 201, r.text
    return r.json()["memories"][0]["id"], auth


def test_plain_patches_racing_on_one_memory_all_succeed(committed_client: TestClient) -> None:
    memory_id, auth = _memory(committed_client)

    def patch(i: int) -> tuple[int, str]:
        r = committed_client.patch(f"/v1/memories/{memory_id}", json={"content": f"writer {i}"}, headers=auth)
        return r.status_code, r.text

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(patch, range(WRITERS)))
    assert [status for status, _ in results] == [200] * WRITERS, results

    history = committed_client.get(f"/v1/memories/{memory_id}/history", headers=auth).json()["versions"]
    assert [v["version"] for v in history] == list(range(1, WRITERS + 2))
    assert sorted(v["content"] for v in history[1:]) == sorted(f"writer {i}" for i in range(WRITERS))
    # One open version, the others closed where the next began.
    assert [v["valid_to"] is None for v in history] == [False] * WRITERS + [True]
    for older, newer in zip(history, history[1:], strict=False):
        assert older["valid_to"] == newer["valid_from"]
    head = committed_client.get(f"/v1/memories/{memory_id}", headers=auth).json()
    assert (head["version"], head["content"]) == (WRITERS + 1, history[-1]["content"])


def test_racing_patches_with_one_expected_version_let_exactly_one_through(committed_client: TestClient) -> None:
    memory_id, auth = _memory(committed_client)

    def patch(i: int) -> int:
        r = committed_client.patch(f"/v1/memories/{memory_id}", json={"content": f"w{i}", "expected_version": 1},
                                   headers=auth)
        return r.status_code

    with ThreadPoolExecutor(WRITERS) as pool:
        statuses = sorted(pool.map(patch, range(WRITERS)))
    assert statuses == [200] + [409] * (WRITERS - 1)
    r = committed_client.get("/v1/tenants", headers=ADMIN)  # the service is still healthy afterwards
    assert r.status_code == 200
