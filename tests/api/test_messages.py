"""Chat messages into a cube: stored as received; a consolidation job turns them into memories whose
provenance points back."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.api.helpers import list_all, search

Auth = dict[str, str]


def test_messages_become_memories_with_provenance(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
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
    # Memories are made by a consolidation job, not inline.
    assert accepted["memories"] == []
    assert accepted["job_id"]
    assert list_all(client, cube_id, auth) == []
    status = run_job(sessions, accepted["job_id"], JobContext(settings=settings, embedder=embedder))
    assert status == "succeeded"

    # One fact: the user's turn, speaker resolved; the assistant's question is not a fact.
    (memory,) = list_all(client, cube_id, auth)
    assert memory["content"] == "Caroline moved to Lisbon last spring."
    assert memory["session_id"] == "chat-42"
    assert memory["provenance"]["message_ids"] == [accepted["message_ids"][0]]
    assert memory["provenance"]["session_id"] == "chat-42"
    assert memory["provenance"]["source"] == "consolidation"
    assert memory["metadata"]["message_role"] == "user"
    assert memory["role"] == "Caroline"
    assert memory["event_time"].startswith("2024-05-08T13:56:00")

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

    # The memories are ordinary memories: searchable, filterable by session and role.
    hits = search(client, cube_id, auth, "Where does Caroline live?", filters={"session_id": "chat-42",
                                                                               "role": "caroline"})
    assert [h["memory"]["id"] for h in hits] == [memory["id"]]
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
