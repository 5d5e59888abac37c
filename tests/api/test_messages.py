"""Chat messages into a cube: stored as received; one memory per turn, with provenance pointing back."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from tests.api.helpers import list_all, search

Auth = dict[str, str]


def test_messages_become_memories_with_provenance(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session]
) -> None:
    turns: list[dict[str, str]] = [
        {"role": "user", "content": "I moved to Lisbon last spring", "name": "Caroline",
         "timestamp": "2024-05-08T13:56:00Z"},
        {"role": "assistant", "content": "How do you like Lisbon so far?"},
    ]
    body = {"session_id": "chat-42", "messages": turns}
    r = client.post(f"/v1/cubes/{cube_id}/messages", json=body, headers=auth)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert len(accepted["message_ids"]) == 2
    memories = accepted["memories"]
    assert len(memories) == 2

    for msg_id, msg, mem in zip(accepted["message_ids"], turns, memories, strict=True):
        assert mem["content"] == msg["content"]
        assert mem["session_id"] == "chat-42"
        assert mem["provenance"]["message_ids"] == [msg_id]
        assert mem["provenance"]["session_id"] == "chat-42"
        assert mem["metadata"]["message_role"] == msg["role"]
    assert memories[0]["role"] == "Caroline"
    assert memories[0]["provenance"]["source"] == "user"
    assert memories[0]["event_time"].startswith("2024-05-08T13:56:00")
    assert memories[1]["role"] == "assistant"
    assert memories[1]["provenance"]["source"] == "agent"

    # The messages themselves are stored as received.
    with sessions() as s:
        set_tenant(s, SYSTEM)
        rows = s.execute(
            text("SELECT id, role, name, content, session_id FROM messages WHERE cube_id = :c ORDER BY seq"),
            {"c": cube_id},
        ).all()
        s.rollback()
    assert [(str(r.id), r.role, r.name, r.content, r.session_id) for r in rows] == [
        (accepted["message_ids"][0], "user", "Caroline", "I moved to Lisbon last spring", "chat-42"),
        (accepted["message_ids"][1], "assistant", None, "How do you like Lisbon so far?", "chat-42"),
    ]

    # The memories are ordinary memories: listed, readable, searchable, filterable by session and role.
    assert [m["id"] for m in list_all(client, cube_id, auth)] == [m["id"] for m in memories]
    hits = search(client, cube_id, auth, "Where does Caroline live?", filters={"session_id": "chat-42",
                                                                               "role": "caroline"})
    assert [h["memory"]["id"] for h in hits] == [memories[0]["id"]]
    assert search(client, cube_id, auth, "Lisbon", filters={"session_id": "another"}) == []


def test_oversized_messages_write_nothing(client: TestClient, auth: Auth, cube_id: str,
                                          sessions: sessionmaker[Session]) -> None:
    body = {"messages": [{"role": "user", "content": "fine"}, {"role": "user", "content": "x" * 2001}]}
    r = client.post(f"/v1/cubes/{cube_id}/messages", json=body, headers=auth)
    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    r = client.post(f"/v1/cubes/{cube_id}/messages",
                    json={"messages": [{"role": "user", "content": "hi"}] * 51}, headers=auth)
    assert r.status_code == 413
    assert list_all(client, cube_id, auth) == []
    with sessions() as s:
        set_tenant(s, SYSTEM)
        n = s.execute(text("SELECT count(*) FROM messages WHERE cube_id = :c"), {"c": cube_id}).scalar_one()
        s.rollback()
    assert n == 0


def test_bad_messages_are_422(client: TestClient, auth: Auth, cube_id: str) -> None:
    for body in [
        {"messages": []},
        {"messages": [{"content": "no role"}]},
        {"messages": [{"role": "user"}]},
        {"messages": [{"role": "", "content": "x"}]},
        {"messages": [{"role": "user", "content": "x", "timestamp": "soon"}]},
        {"messages": "hello"},
    ]:
        r = client.post(f"/v1/cubes/{cube_id}/messages", json=body, headers=auth)
        assert r.status_code == 422, (body, r.text)
        assert isinstance(r.json()["detail"], list)
    assert list_all(client, cube_id, auth) == []
