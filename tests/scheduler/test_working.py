"""A session's working memory through the API: filled by a search of the whole cube, reused for a close
follow-up query (re-read under the request's filters: deletions and new memories seen), not reused for another
topic or another shape of request, private to its tenant and session, trimmed with its moves logged, forgotten
on request; and the same sets kept in a real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from api.state import AppState
from memcube.db import SYSTEM, tenant_session
from memos.config import Settings
from memos.scheduler.working import LocalStore, RedisStore, WorkingSet
from tests.api.helpers import add
from tests.conftest import TenantFactory
from workers.heartbeat import redis_client
from workers.redis_server import RedisServer

Auth = dict[str, str]

PETS = ["Dana adopted a grey cat named Miso in March.", "Miso the cat sleeps on Dana's keyboard.",
        "Dana's cat Miso is afraid of the vacuum cleaner."]
WORK = ["Dana works as a nurse at the Denver General hospital.", "Dana's hospital shifts start at 7 am."]
TRAVEL = ["Dana flew to Lisbon for a week in June.", "In Lisbon Dana ate grilled sardines every day."]


def context(client: TestClient, cube_id: str, auth: Auth, query: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"/v1/cubes/{cube_id}/context", json={"query": query, "top_k": 3, **body}, headers=auth)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def working(client: TestClient, cube_id: str, auth: Auth, session: str) -> dict[str, Any]:
    r = client.get(f"/v1/cubes/{cube_id}/working", params={"session": session}, headers=auth)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def age_all(sessions: sessionmaker[Session], cube_id: str) -> None:
    """Every memory of the cube last changed a day ago (the test's transaction has one clock for its fill)."""
    with tenant_session(sessions, SYSTEM) as s:
        s.execute(text("UPDATE memories SET updated_at = now() - interval '1 day' WHERE cube_id = :c"),
                  {"c": cube_id})
        s.commit()


@pytest.fixture
def cube(client: TestClient, auth: Auth, sessions: sessionmaker[Session]) -> str:
    r = client.post("/v1/cubes", json={"name": f"dana-{uuid.uuid4().hex[:6]}"}, headers=auth)
    assert r.status_code == 201, r.text
    cube_id: str = r.json()["id"]
    add(client, cube_id, auth, *PETS, *WORK, *TRAVEL)
    age_all(sessions, cube_id)
    return cube_id


def test_a_follow_up_is_answered_from_the_working_memory(client: TestClient, auth: Auth, cube: str,
                                                          sessions: sessionmaker[Session]) -> None:
    first = context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-1")
    assert first["working"]["reused"] is False
    assert first["working"]["similarity"] == 0.0
    found = [m["content"] for m in first["memories"]]
    assert any("Miso" in c for c in found)
    held = working(client, cube, auth, "chat-1")
    assert held["fills"] == 1
    assert held["reuses"] == 0
    assert held["queries"] == 1
    assert {m["id"] for m in first["memories"]} <= set(held["memory_ids"])
    assert held["moves"][0]["reason"] == "search"
    assert set(held["moves"][0]["entered"]) == set(held["memory_ids"])
    assert held["predicted"] == []  # what the retrieved memories predict is looked up on reuse

    # A close follow-up: answered from the set, the memories ranked for the new query.
    again = context(client, cube, auth, "What's the name of Dana's cat called?", working_session="chat-1")
    assert again["working"]["reused"] is True
    assert again["working"]["similarity"] >= 0.8
    assert {m["id"] for m in again["memories"]} <= set(held["memory_ids"])
    assert any("Miso" in m["content"] for m in again["memories"])
    assert working(client, cube, auth, "chat-1")["reuses"] == 1

    # Re-read under the filters: a memory deleted since is gone; one added since is a candidate and enters.
    miso = next(m for m in again["memories"] if "named Miso" in m["content"])
    assert client.delete(f"/v1/memories/{miso['id']}", headers=auth).status_code == 200
    (fresh,) = add(client, cube, auth, "Dana's cat Miso turned two years old.")
    after = context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-1")
    assert after["working"]["reused"] is True
    ids = [m["id"] for m in after["memories"]]
    assert miso["id"] not in ids
    assert fresh["id"] in ids
    held = working(client, cube, auth, "chat-1")
    assert held["moves"][0]["reason"] == "reuse"
    assert fresh["id"] in held["moves"][0]["entered"]
    assert miso["id"] not in held["memory_ids"][:3]


def test_another_topic_searches_the_whole_cube(client: TestClient, auth: Auth, cube: str) -> None:
    context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-2")
    other = context(client, cube, auth, "Where did Dana travel in June?", working_session="chat-2")
    assert other["working"]["reused"] is False
    assert 0.0 < other["working"]["similarity"] < 0.8
    assert any("Lisbon" in m["content"] for m in other["memories"])
    held = working(client, cube, auth, "chat-2")
    assert held["fills"] == 2
    assert held["queries"] == 2
    # Both topics now reuse the set.
    assert context(client, cube, auth, "Where did Dana travel to in June?",
                   working_session="chat-2")["working"]["reused"] is True
    # A request of another shape (archived memories too, another mode, expanded) searches the whole cube.
    for shape in ({"include_archived": True}, {"mode": "dense"}, {"expand": True}):
        assert context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-2",
                       **shape)["working"]["reused"] is False


def test_an_old_memory_outside_the_set_is_left_to_the_next_search(client: TestClient, auth: Auth,
                                                                   cube: str) -> None:
    # What reuse gives up (measured by bench/working.py): a memory neither retrieved by the session nor
    # changed since is not looked at, even when the follow-up would have found it.
    context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-3", top_k=1)
    held = working(client, cube, auth, "chat-3")
    follow = context(client, cube, auth, "What is Dana's cat named?", working_session="chat-3", top_k=3)
    assert follow["working"]["reused"] is True
    assert {m["id"] for m in follow["memories"]} <= set(held["memory_ids"])
    full = context(client, cube, auth, "What is Dana's cat named?", top_k=3)
    assert full.get("working") is None
    assert len(full["memories"]) > len(follow["memories"])


def test_working_memory_is_per_tenant_and_session(client: TestClient, auth: Auth, cube: str,
                                                  make_tenant: TenantFactory) -> None:
    context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-4")
    assert client.get(f"/v1/cubes/{cube}/working", params={"session": "chat-5"}, headers=auth).status_code == 404
    _, other = make_tenant()
    assert client.get(f"/v1/cubes/{cube}/working", params={"session": "chat-4"}, headers=other).status_code == 404
    assert client.delete(f"/v1/cubes/{cube}/working", params={"session": "chat-4"}, headers=other).status_code == 404
    # Forgetting it: the next context searches the whole cube again.
    assert client.delete(f"/v1/cubes/{cube}/working", params={"session": "chat-4"}, headers=auth).status_code == 204
    assert client.get(f"/v1/cubes/{cube}/working", params={"session": "chat-4"}, headers=auth).status_code == 404
    again = context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-4")
    assert again["working"]["reused"] is False


def test_bad_requests(client: TestClient, auth: Auth, cube: str) -> None:
    for body in ({"working_session": ""}, {"working_session": "   "}, {"working_session": "x" * 201}):
        r = client.post(f"/v1/cubes/{cube}/context", json={"query": "cat", **body}, headers=auth)
        assert r.status_code == 422, r.text
    assert client.get(f"/v1/cubes/{cube}/working", headers=auth).status_code == 422  # no session named
    assert client.get(f"/v1/cubes/{cube}/working", params={"session": "a"}).status_code == 401


@pytest.fixture
def small_app_state(app_state: AppState) -> AppState:
    app_state.working.max_items = 3
    return app_state


def test_the_least_recently_retrieved_leave_beyond_the_budget(small_app_state: AppState, client: TestClient,
                                                               auth: Auth, cube: str) -> None:
    context(client, cube, auth, "What is the name of Dana's cat?", working_session="chat-6")
    first = working(client, cube, auth, "chat-6")["memory_ids"]
    context(client, cube, auth, "Where did Dana travel in June?", working_session="chat-6")
    held = working(client, cube, auth, "chat-6")
    assert len(held["memory_ids"]) == 3
    assert held["moves"][0]["left"]
    assert set(held["moves"][0]["left"]) <= set(first)


@pytest.fixture
def redis_store(tmp_path: Path) -> Iterator[RedisStore]:
    with RedisServer(tmp_path / "redis") as server:
        yield RedisStore(redis_client(server.url, timeout_s=2.0))


def test_sets_round_trip_through_redis_and_expire(redis_store: RedisStore) -> None:
    import base64
    import time
    from datetime import UTC, datetime

    vector = np.arange(4, dtype=np.float32)
    ws = WorkingSet(shape="s", filled_at=datetime.now(UTC), ids=[str(uuid.uuid4())],
                    queries=[base64.b64encode(vector.tobytes()).decode()])
    ws.log(ws.filled_at, "search", ws.ids, [])
    for store in (redis_store, LocalStore()):
        store.set("k", ws.dumps(), ttl_s=0.3)
        raw = store.get("k")
        assert raw is not None
        back = WorkingSet.loads(raw)
        assert back == ws
        assert np.array_equal(back.vectors()[0], vector)
        time.sleep(0.4)
        assert store.get("k") is None
        store.set("k", ws.dumps(), ttl_s=10)
        assert store.delete("k")
        assert not store.delete("k")


def test_the_service_uses_redis_when_it_has_one(settings: Settings, redis_store: RedisStore) -> None:
    from memos.scheduler.working import store_for

    url = redis_store.client.connection_pool.connection_kwargs
    assert isinstance(store_for(settings), LocalStore)  # no broker configured: this process
    path = url.get("path")
    configured = settings.model_copy(update={"redis_url": f"redis+socket://{path}" if path else
                                             f"redis://{url['host']}:{url['port']}/0"})
    assert isinstance(store_for(configured), RedisStore)


def test_a_question_about_another_speaker_is_not_a_follow_up(client: TestClient, auth: Auth,
                                                             sessions: sessionmaker[Session]) -> None:
    # The vector is of the query less the cube's speakers' names (what the search embeds), so "Dana's job" and
    # "Priya's job" are one vector: the speaker each names must match too.
    r = client.post("/v1/cubes", json={"name": f"two-{uuid.uuid4().hex[:6]}"}, headers=auth)
    cube: str = r.json()["id"]
    add(client, cube, auth, "I work as a nurse at the hospital.", role="Dana")
    add(client, cube, auth, "I work as a pilot for a small airline.", role="Priya")
    age_all(sessions, cube)
    context(client, cube, auth, "hello")  # the cube's speakers are known from the first search on
    dana = context(client, cube, auth, "What does Dana do for work?", working_session="s", top_k=1)
    assert dana["working"]["reused"] is False
    priya = context(client, cube, auth, "What does Priya do for work?", working_session="s", top_k=1)
    assert priya["working"]["reused"] is False
    again = context(client, cube, auth, "So what does Dana do for work?", working_session="s", top_k=1)
    assert again["working"]["reused"] is True, (dana["working"], priya["working"], again["working"])
    assert again["memories"][0]["role"] == "Dana"


def test_what_the_retrieved_memories_predict_is_looked_at_on_reuse(client: TestClient, auth: Auth,
                                                                   sessions: sessionmaker[Session]) -> None:
    # A memory's session neighbours (and linked memories) are candidates on reuse without having been retrieved.
    r = client.post("/v1/cubes", json={"name": f"pred-{uuid.uuid4().hex[:6]}"}, headers=auth)
    cube: str = r.json()["id"]
    (miso,) = add(client, cube, auth, "Dana adopted a grey cat named Miso.", session_id="s1")
    (shelter,) = add(client, cube, auth, "The shelter on Pine Street had forty animals.", session_id="s1")
    add(client, cube, auth, *TRAVEL, session_id="s2")
    age_all(sessions, cube)
    first = context(client, cube, auth, "What is the name of Dana's cat?", working_session="p", top_k=1)
    assert [m["id"] for m in first["memories"]] == [miso["id"]]
    again = context(client, cube, auth, "What's the name of Dana's cat?", working_session="p", top_k=2)
    assert again["working"]["reused"] is True
    assert {m["id"] for m in again["memories"]} == {miso["id"], shelter["id"]}
    held = working(client, cube, auth, "p")
    assert held["predicted"] == [shelter["id"]]
    assert shelter["id"] in held["moves"][0]["entered"]


def test_the_status_route_counts_plaintext_by_tier_and_working_sessions(
    client: TestClient, auth: Auth, cube: str, sessions: sessionmaker[Session], make_tenant: TenantFactory,
) -> None:
    context(client, cube, auth, "What is the name of Dana's cat?", working_session="st-1")
    context(client, cube, auth, "Where did Dana fly in June?", working_session="st-2")
    with tenant_session(sessions, SYSTEM) as s:  # one archived by the sweep, as it does
        s.execute(text("UPDATE memories SET status = 'archived', tier = 'archived' WHERE id = "
                       "(SELECT id FROM memories WHERE cube_id = :c ORDER BY created_at LIMIT 1)"), {"c": cube})
    r = client.get("/v1/scheduler/status", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["plaintext"] == {"long_term": len(PETS + WORK + TRAVEL) - 1, "archived": 1,
                                     "working_sessions": 2}
    _, other = make_tenant()
    assert client.get("/v1/scheduler/status", headers=other).json()["plaintext"] == {
        "long_term": 0, "archived": 0, "working_sessions": 0}


class DownStore(LocalStore):
    """A store that does not answer (Redis down)."""

    def get(self, key: str) -> str | None:
        raise ConnectionError("redis is down")

    def count(self, prefix: str) -> int:
        raise ConnectionError("redis is down")


def test_a_store_that_does_not_answer_costs_the_working_memory_not_the_request(
    app_state: AppState, client: TestClient, auth: Auth, cube: str,
) -> None:
    app_state.working.store = DownStore()
    got = context(client, cube, auth, "What is the name of Dana's cat?", working_session="down")
    assert any("Miso" in m["content"] for m in got["memories"])
    assert got["working"]["reused"] is False
    status = client.get("/v1/scheduler/status", headers=auth)
    assert status.status_code == 200, status.text
    assert status.json()["plaintext"]["working_sessions"] is None
