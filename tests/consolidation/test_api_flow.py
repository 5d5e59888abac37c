"""Messages -> one job -> memories, through the API and the real runner."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memos.config import Settings
from memos.embedding import Embedder
from tests.consolidation.helpers import Auth, contents, pending_jobs, post, run


def test_messages_enqueue_one_job_and_consolidate(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    accepted = post(client, cube_id, auth, ("Alice", "Hi! I live in Paris and I went hiking yesterday."),
                    ("Alice", "My favourite color is blue."), session_id="s1")
    assert accepted["memories"] == []
    assert len(accepted["message_ids"]) == 2
    assert client.get(f"/v1/jobs/{accepted['job_id']}", headers=auth).json()["status"] == "queued"
    assert contents(client, cube_id, auth) == []  # nothing inline

    job = run(sessions, accepted["job_id"], settings, embedder)
    assert job.result is not None
    assert job.result["path"] == "offline"
    assert job.result["counts"] == {"ADD": 2, "UPDATE": 0, "DELETE": 0, "NOOP": 0}
    assert job.llm_calls == 0
    got = client.get(f"/v1/cubes/{cube_id}/memories", headers=auth).json()["memories"]
    by_content = {m["content"]: m for m in got}
    hiking = by_content["Alice lives in Paris and Alice went hiking on 7 May 2023."]
    assert hiking["metadata"]["dates"] == [{"text": "yesterday", "date": "2023-05-07", "granularity": "day"}]
    assert hiking["event_time"].startswith("2023-05-07")
    assert hiking["provenance"]["source"] == "consolidation"
    assert hiking["provenance"]["message_ids"] == [accepted["message_ids"][0]]
    assert hiking["session_id"] == "s1"
    assert hiking["role"] == "Alice"
    assert "Alice's favourite color is blue." in by_content

    # The job asked for linking of what it created: one linking job, in the same transaction.
    (link_job,) = pending_jobs(sessions, "linking.link")
    assert sorted(link_job.payload["memory_ids"]) == sorted(m["id"] for m in got)
    assert job.result["linking_job_id"] == str(link_job.id)


def test_same_idempotency_key_same_job_messages_stored_once(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Bob", "I work at Initech."), idempotency_key="batch-1")
    again = post(client, cube_id, auth, ("Bob", "I work at Initech."), idempotency_key="batch-1")
    assert again["job_id"] == first["job_id"]
    assert again["message_ids"] == first["message_ids"]
    assert len(pending_jobs(sessions, "consolidation.messages")) == 1
    run(sessions, first["job_id"], settings, embedder)
    assert contents(client, cube_id, auth) == ["Bob works at Initech."]


def test_idempotency_key_of_another_cube_is_a_conflict(
    client: TestClient, auth: Auth, cube_id: str
) -> None:
    post(client, cube_id, auth, ("Bob", "I work at Initech."), idempotency_key="k")
    other = client.post("/v1/cubes", json={"name": "other"}, headers=auth).json()["id"]
    r = client.post(f"/v1/cubes/{other}/messages", json={"messages": [{"role": "user", "content": "x y z"}],
                                                         "idempotency_key": "k"}, headers=auth)
    assert r.status_code == 409
    assert r.json()["error"] == "conflict"


def test_an_update_finds_the_speakers_own_fact_in_a_crowded_cube(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    """Fourteen namesakes ("Alice Johnson moved to Lisbon.") are nearer to Alice's "I moved to Lisbon." than her
    own "Alice lives in Oslo.", by vector and by BM25: the cube's nearest alone miss it (an ADD, keeping
    both homes); the nearest of her own memories (``role``) find it."""
    from memos.consolidation.service import DENSE_K, LEXICAL_K
    from tests.api.helpers import add

    surnames = ["Johnson", "Okafor", "Silva", "Nakamura", "Petrov", "Garcia", "Rossi", "Novak", "Haddad", "Kim",
                "Dubois", "Larsen", "Costa", "Walsh"]
    assert len(surnames) > DENSE_K + LEXICAL_K
    for surname in surnames:
        add(client, cube_id, auth, f"Alice {surname} moved to Lisbon.", role=f"Alice {surname}")
    (own,) = add(client, cube_id, auth, "Alice lives in Oslo.", role="Alice")
    job = run(sessions, post(client, cube_id, auth, ("Alice", "I moved to Lisbon."))["job_id"], settings, embedder)
    assert job.result is not None
    (decision,) = job.result["decisions"]
    assert (decision["action"], decision["target_id"]) == ("UPDATE", own["id"])
    assert "Alice moved to Lisbon." in contents(client, cube_id, auth)
    assert "Alice lives in Oslo." not in contents(client, cube_id, auth)
