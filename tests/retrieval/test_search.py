"""Search through the API: filters pushed into SQL, speakers, time cues, modes, expansion, MMR, bad input."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

Auth = dict[str, str]


def add(client: TestClient, cube_id: str, auth: Auth, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": items}, headers=auth)
    assert r.status_code == 201, r.text
    memories: list[dict[str, Any]] = r.json()["memories"]
    return memories


def search(client: TestClient, cube_id: str, auth: Auth, query: str, **body: Any) -> list[dict[str, Any]]:
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": query, **body}, headers=auth)
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def contents(results: list[dict[str, Any]]) -> list[str]:
    return [r["memory"]["content"] for r in results]


CHAT = [
    # session_1 on 8 May 2023
    {"content": "I went to a pottery class yesterday and made a bowl.", "role": "Melanie", "session_id": "s1",
     "event_time": "2023-05-08T13:56:00Z", "tags": ["hobby"], "metadata": {"dia": "D1:1"}},
    {"content": "That sounds lovely! What colour is the bowl?", "role": "Caroline", "session_id": "s1",
     "event_time": "2023-05-08T13:56:00Z", "metadata": {"dia": "D1:2"}},
    {"content": "It is blue with white stripes.", "role": "Melanie", "session_id": "s1",
     "event_time": "2023-05-08T13:56:00Z", "metadata": {"dia": "D1:3"}},
    # session_2 on 20 July 2023
    {"content": "I adopted a dog named Oscar last week.", "role": "Caroline", "session_id": "s2",
     "event_time": "2023-07-20T10:00:00Z", "tags": ["pets"], "metadata": {"dia": "D2:1"}},
    {"content": "Oscar loves the beach and long walks.", "role": "Caroline", "session_id": "s2",
     "event_time": "2023-07-20T10:00:00Z", "tags": ["pets"], "metadata": {"dia": "D2:2"}},
    {"content": "My pottery teacher says my glazing improved.", "role": "Melanie", "session_id": "s2",
     "event_time": "2023-07-20T10:00:00Z", "tags": ["hobby"], "metadata": {"dia": "D2:3"}},
]


@pytest.fixture
def chat(client: TestClient, cube_id: str, auth: Auth) -> list[dict[str, Any]]:
    return add(client, cube_id, auth, CHAT)


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_modes_find_the_memory(client: TestClient, cube_id: str, auth: Auth, chat: Any, mode: str) -> None:
    found = contents(search(client, cube_id, auth, "a dog called Oscar was adopted", mode=mode, top_k=3))
    assert "I adopted a dog named Oscar last week." in found


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tags": ["pets"]}, {"D2:1", "D2:2"}),
        ({"kind": "plaintext", "session_id": "s1"}, {"D1:1", "D1:2", "D1:3"}),
        ({"metadata": {"dia": "D2:3"}}, {"D2:3"}),
        ({"role": "melanie"}, {"D1:1", "D1:3", "D2:3"}),
        ({"time_from": "2023-07-01T00:00:00Z"}, {"D2:1", "D2:2", "D2:3"}),
        ({"time_to": "2023-06-01T00:00:00Z", "role": "Caroline"}, {"D1:2"}),
    ],
)
@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_filters_are_applied(
    client: TestClient, cube_id: str, auth: Auth, chat: Any, filters: dict[str, Any], expected: set[str], mode: str
) -> None:
    # A query that matches every memory lexically ("I" is a stopword; "the"/"my" too, so use shared words).
    results = search(client, cube_id, auth, "pottery bowl dog Oscar glazing colour blue beach", top_k=10,
                     filters=filters, mode=mode)
    got = {r["memory"]["metadata"]["dia"] for r in results}
    assert got <= expected
    if mode != "lexical":
        assert got == expected  # dense ranks every memory under the filter


def test_deleted_memories_are_not_found(client: TestClient, cube_id: str, auth: Auth, chat: Any) -> None:
    oscar = next(m for m in chat if "adopted" in m["content"])
    assert client.delete(f"/v1/memories/{oscar['id']}", headers=auth).status_code in (200, 204)
    for mode in ("hybrid", "lexical", "dense"):
        assert oscar["id"] not in [r["memory"]["id"] for r in search(client, cube_id, auth, "adopted dog", mode=mode)]


def test_relative_dates_are_resolved_and_stored(chat: list[dict[str, Any]]) -> None:
    pottery = chat[0]
    assert pottery["metadata"]["dates"] == [{"text": "yesterday", "date": "2023-05-07", "granularity": "day"}]
    assert pottery["event_time"].startswith("2023-05-08")
    assert chat[3]["metadata"]["dates"][0]["granularity"] == "week"
    assert "dates" not in chat[1]["metadata"]


def test_when_question_prefers_dated_memories(client: TestClient, cube_id: str, auth: Auth, chat: Any) -> None:
    top = search(client, cube_id, auth, "When did Melanie make a bowl?", top_k=1)[0]
    assert top["memory"]["content"].startswith("I went to a pottery class yesterday")
    assert top["memory"]["event_time"].startswith("2023-05-08")  # the result says the date


def test_named_period_boosts_memories_in_it(client: TestClient, cube_id: str, auth: Auth, chat: Any) -> None:
    def scores(query: str) -> dict[str, float]:
        return {r["memory"]["metadata"]["dia"]: r["score"] for r in search(client, cube_id, auth, query, top_k=6)}

    may, july = scores("pottery in May 2023"), scores("pottery in July 2023")
    assert july["D2:3"] - may["D2:3"] > 0.1  # the July memory gains the period boost
    assert may["D1:1"] - july["D1:1"] > 0.1  # the May one loses it


def test_speaker_named_in_query_is_boosted(client: TestClient, cube_id: str, auth: Auth, chat: Any) -> None:
    assert search(client, cube_id, auth, "What did Melanie say about the bowl?", top_k=1)[0]["memory"]["role"] == \
        "Melanie"
    assert search(client, cube_id, auth, "What did Caroline say about the bowl?", top_k=1)[0]["memory"]["role"] == \
        "Caroline"


def test_expand_adds_session_neighbours_and_links(
    client: TestClient, cube_id: str, auth: Auth, chat: list[dict[str, Any]], app_state: Any
) -> None:
    hits = search(client, cube_id, auth, "white stripes", top_k=1, expand=True, neighbors=1, links=0)
    assert hits[0]["via"] == "search"
    assert hits[0]["memory"]["metadata"]["dia"] == "D1:3"
    assert {(h["via"], h["memory"]["metadata"]["dia"]) for h in hits[1:]} == {("neighbor", "D1:2")}
    # A link from the hit to another session's memory is followed (one hop).
    from memcube.db import tenant_session
    from memcube.repository import links as links_repo

    tenant_id = uuid.UUID(_tenant(client, auth))
    with tenant_session(app_state.sessions, tenant_id) as s:
        links_repo.upsert_links(s, [{
            "tenant_id": tenant_id, "cube_id": uuid.UUID(cube_id), "source_id": uuid.UUID(chat[2]["id"]),
            "target_id": uuid.UUID(chat[5]["id"]), "type": "related", "strength": 0.9, "reason": "test",
        }])
    hits = search(client, cube_id, auth, "white stripes", top_k=1, expand=True, neighbors=0, links=2)
    assert [(h["via"], h["memory"]["metadata"]["dia"]) for h in hits] == [("search", "D1:3"), ("link", "D2:3")]
    assert hits[1]["score"] < hits[0]["score"]


def _tenant(client: TestClient, auth: Auth) -> str:
    cubes = client.get("/v1/cubes", headers=auth).json()["cubes"]
    return str(cubes[0]["tenant_id"])


def test_mmr_drops_near_copies(client: TestClient, cube_id: str, auth: Auth) -> None:
    add(client, cube_id, auth, [
        {"content": "The quarterly report is due on Friday."},
        {"content": "The quarterly report is due on Friday!"},
        {"content": "Reminder: quarterly report due Friday."},
        {"content": "The budget review meeting is on Monday."},
    ])
    plain = contents(search(client, cube_id, auth, "when is the quarterly report due", top_k=2))
    diverse = contents(search(client, cube_id, auth, "when is the quarterly report due", top_k=2, diversity=0.3))
    assert set(plain) == {"The quarterly report is due on Friday.", "The quarterly report is due on Friday!"}
    assert len(diverse) == 2
    assert not {"The quarterly report is due on Friday.", "The quarterly report is due on Friday!"} <= set(diverse)


def test_weights_choose_the_signal(client: TestClient, cube_id: str, auth: Auth, chat: Any) -> None:
    lexical_only = search(client, cube_id, auth, "glazing", weights={"dense": 0, "lexical": 1}, top_k=1)
    assert lexical_only[0]["memory"]["metadata"]["dia"] == "D2:3"


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "   "},
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 10_000},
        {"query": "x", "mode": "fuzzy"},
        {"query": "x", "diversity": 1.5},
        {"query": "x", "weights": {"dense": 0, "lexical": 0}},
        {"query": "x", "neighbors": -1},
        {"query": "x", "filters": {"kind": "nope"}},
    ],
)
def test_bad_search_input_is_422(client: TestClient, cube_id: str, auth: Auth, body: dict[str, Any]) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/search", json=body, headers=auth)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_search_of_an_empty_cube_is_empty(client: TestClient, cube_id: str, auth: Auth) -> None:
    for mode in ("hybrid", "dense", "lexical"):
        assert search(client, cube_id, auth, "anything at all", mode=mode) == []
