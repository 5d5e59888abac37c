"""Context assembly within a token budget, and access statistics written off the request path."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, text

from api.state import AppState
from memcube.db import SYSTEM, tenant_session
from memcube.models import Memory, MemoryAccess
from memos.retrieval.context import count_tokens
from tests.conftest import TenantFactory
from tests.retrieval.test_search import CHAT, add, search

Auth = dict[str, str]


def context(client: TestClient, cube_id: str, auth: Auth, **body: Any) -> Any:
    r = client.post(f"/v1/cubes/{cube_id}/context", json=body, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_context_is_dated_sourced_chronological_and_counted(client: TestClient, cube_id: str, auth: Auth) -> None:
    add(client, cube_id, auth, CHAT)
    out = context(client, cube_id, auth, query="pottery bowl and glazing", token_budget=500)
    text = out["context"]
    assert out["tokens"] == count_tokens(text) <= 500
    assert "## s1 (2023-05-08)" in text
    assert "## s2 (2023-07-20)" in text
    assert text.index("## s1") < text.index("## s2")  # sessions in time order
    assert "- [2023-05-08] Melanie: I went to a pottery class yesterday and made a bowl." in text
    times = [m["event_time"] for m in out["memories"]]
    assert times == sorted(times)


def test_context_respects_a_small_budget(client: TestClient, cube_id: str, auth: Auth) -> None:
    add(client, cube_id, auth, CHAT)
    full = context(client, cube_id, auth, query="pottery", token_budget=10_000)
    small = context(client, cube_id, auth, query="pottery", token_budget=40)
    assert 0 < small["tokens"] <= 40 < full["tokens"]
    assert 0 < len(small["memories"]) < len(full["memories"])
    assert context(client, cube_id, auth, query="pottery", token_budget=1) == {
        "context": "", "memories": [], "dropped": [], "tokens": 0, "working": None}


def test_bad_context_input_is_422(client: TestClient, cube_id: str, auth: Auth) -> None:
    for body in ({"query": "", "token_budget": 100}, {"query": "x", "token_budget": -5},
                 {"query": "x", "token_budget": 0}, {"query": "x", "top_k": 0}, {"query": "x", "mode": "nope"}):
        r = client.post(f"/v1/cubes/{cube_id}/context", json=body, headers=auth)
        assert r.status_code == 422, body


def test_access_statistics_are_batched_and_flushed(
    client: TestClient, cube_id: str, auth: Auth, app_state: AppState
) -> None:
    add(client, cube_id, auth, CHAT)
    first = search(client, cube_id, auth, "adopted dog Oscar", top_k=1)[0]["memory"]
    search(client, cube_id, auth, "adopted dog Oscar", top_k=1)
    # Nothing written in the request path.
    assert client.get(f"/v1/memories/{first['id']}", headers=auth).json()["access_count"] == 0
    assert app_state.access.flush() >= 1
    with tenant_session(app_state.sessions, SYSTEM) as s:
        m = s.scalar(select(Memory).where(Memory.id == first["id"]))
        assert m is not None
        assert m.access_count == 2
        assert m.last_accessed_at is not None
    assert app_state.access.flush() == 0  # nothing pending twice


def test_access_counts_land_in_their_own_table_readable_by_the_cube_only(
    client: TestClient, cube_id: str, auth: Auth, app_state: AppState, tenant: tuple[uuid.UUID, Auth],
    make_tenant: TenantFactory,
) -> None:
    add(client, cube_id, auth, CHAT)
    hits = [uuid.UUID(h["memory"]["id"]) for h in search(client, cube_id, auth, "adopted dog Oscar", top_k=3)]
    app_state.access.flush()
    with tenant_session(app_state.sessions, SYSTEM) as s:
        rows = s.scalars(select(MemoryAccess).where(MemoryAccess.memory_id.in_(hits))).all()
        assert sorted(r.memory_id for r in rows) == sorted(hits)
        assert {(r.tenant_id, str(r.cube_id), r.access_count) for r in rows} == {(tenant[0], cube_id, 1)}
        version = s.scalar(text("SELECT xmin::text FROM memories WHERE id = :id"), {"id": hits[0]})
    search(client, cube_id, auth, "adopted dog Oscar", top_k=3)
    app_state.access.flush()
    with tenant_session(app_state.sessions, SYSTEM) as s:  # the second hit is added to the row (an upsert) ...
        assert s.scalar(select(MemoryAccess.access_count).where(MemoryAccess.memory_id == hits[0])) == 2
        # ... and the memory's own row has not been written again (same row version)
        assert s.scalar(text("SELECT xmin::text FROM memories WHERE id = :id"), {"id": hits[0]}) == version

    other_id, other = make_tenant("other")
    with tenant_session(app_state.sessions, other_id) as s:
        assert s.scalars(select(MemoryAccess)).all() == []
    assert client.get(f"/v1/memories/{hits[0]}", headers=other).status_code == 404
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(other_id), "access": "read"}, headers=auth)
    assert r.status_code == 201, r.text
    with tenant_session(app_state.sessions, other_id) as s:  # a reader of the cube reads its counts
        assert len(s.scalars(select(MemoryAccess)).all()) == len(hits)
    assert client.get(f"/v1/memories/{hits[0]}", headers=other).json()["access_count"] == 2
