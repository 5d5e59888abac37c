"""Consolidation's versions name the job and the key and tenant whose messages caused them; a client cannot
forge the "already applied" marker; one tenant's messages never rewrite or retract another tenant's memories
(the made-up-speaker attack: a write-grantee posting as "Alice")."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memos.config import Settings
from memos.embedding import Embedder
from tests.api.test_attribution import cause, history, new_key
from tests.conftest import ADMIN
from tests.consolidation.helpers import Auth, contents, pending_jobs, post, run


def by_content(client: TestClient, cube_id: str, auth: Auth, status: str = "active") -> dict[str, Any]:
    r = client.get(f"/v1/cubes/{cube_id}/memories", params={"status": status, "limit": 100}, headers=auth)
    assert r.status_code == 200, r.text
    return {m["content"]: m for m in r.json()["memories"]}


def shared_cube(client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, make_tenant: Any,
                ) -> tuple[tuple[str, Auth], tuple[uuid.UUID, str, Auth]]:
    """The owner's key, and a write-grantee (tenant id, key id, auth) of the cube."""
    owner_key, owner = new_key(client, tenant[0])
    grantee_id, _ = make_tenant("grantee")
    grantee_key, grantee = new_key(client, grantee_id)
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(grantee_id), "access": "write"},
                    headers=owner)
    assert r.status_code == 201, r.text
    return (owner_key, owner), (grantee_id, grantee_key, grantee)


def test_made_up_speakers_cannot_rewrite_or_retract_the_owners_memories(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, make_tenant: Any,
    sessions: sessionmaker[Session], settings: Settings, embedder: Embedder,
) -> None:
    owner_id = tenant[0]
    (owner_key, owner), (grantee_id, grantee_key, grantee) = shared_cube(client, tenant, cube_id, make_tenant)
    first = post(client, cube_id, owner, ("Alice", "I work at Initech."), ("Alice", "I live in Paris."))
    run(sessions, first["job_id"], settings, embedder)
    before = by_content(client, cube_id, owner)
    assert set(before) == {"Alice works at Initech.", "Alice lives in Paris."}

    # The grantee speaks as the owner's "Alice" (and as a "Mallory" nobody knows).
    attack = post(client, cube_id, grantee, ("Alice", "I no longer work at Initech."),
                  ("Alice", "I moved to Berlin last month."), ("Mallory", "I live in Rome."))
    job = run(sessions, attack["job_id"], settings, embedder)
    assert job.result is not None
    decisions = job.result["decisions"]
    assert [d["action"] for d in decisions] == ["ADD", "ADD", "ADD"]
    conflicts = {d["conflict"]["memory_id"]: d["conflict"] for d in decisions if "conflict" in d}
    # Each would have superseded one of the owner's memories (her job, her home).
    assert set(conflicts) == {before["Alice works at Initech."]["id"], before["Alice lives in Paris."]["id"]}
    assert {c["proposed"] for c in conflicts.values()} == {"UPDATE"}
    assert {c["created_by_tenant_id"] for c in conflicts.values()} == {str(owner_id)}
    assert job.result["conflicts"] == 2

    # The owner's memories are as they were: same content, still active, history untouched by the grantee.
    after = by_content(client, cube_id, owner)
    for content, memory in before.items():
        assert after[content]["status"] == "active"
        assert after[content]["provenance"] == memory["provenance"]
        versions = history(client, memory["id"], owner)
        assert {v["content"] for v in versions} == {content}
        assert all(v["status"] == "active" for v in versions)
        assert cause(versions[0]) == (owner_key, str(owner_id), first["job_id"])
        assert grantee_key not in {v["caused_by_key_id"] for v in versions}
    assert contents(client, cube_id, owner, status="deleted") == []
    assert contents(client, cube_id, owner, status="archived") == []

    # The grantee's claims stand beside them, and say who made them.
    for content in ("Alice no longer works at Initech.", "Alice moved to Berlin in April 2023.",
                    "Mallory lives in Rome."):
        memory = after[content]
        assert memory["provenance"]["actor"] == f"key:{grantee_key}"
        (v1,) = history(client, memory["id"], owner)
        assert v1["actor"] == "system:consolidation"
        assert cause(v1) == (grantee_key, str(grantee_id), attack["job_id"])
    assert after["Alice no longer works at Initech."]["metadata"]["conflicts_with"] == \
        before["Alice works at Initech."]["id"]


def test_the_owners_messages_do_not_rewrite_the_grantees_memories(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, make_tenant: Any,
    sessions: sessionmaker[Session], settings: Settings, embedder: Embedder,
) -> None:
    (_, owner), (grantee_id, _, grantee) = shared_cube(client, tenant, cube_id, make_tenant)
    run(sessions, post(client, cube_id, grantee, ("Bob", "I work at Globex."))["job_id"], settings, embedder)
    job = run(sessions, post(client, cube_id, owner, ("Bob", "I no longer work at Globex."))["job_id"],
              settings, embedder)
    assert job.result is not None
    (decision,) = job.result["decisions"]
    assert decision["action"] == "ADD"
    assert decision["conflict"]["proposed"] == "UPDATE"
    assert decision["conflict"]["created_by_tenant_id"] == str(grantee_id)
    assert set(contents(client, cube_id, owner)) == {"Bob works at Globex.", "Bob no longer works at Globex."}


def test_a_tenant_still_corrects_its_own_memories_and_the_history_says_who(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, make_tenant: Any,
    sessions: sessionmaker[Session], settings: Settings, embedder: Embedder,
) -> None:
    (_, owner), (grantee_id, grantee_key, grantee) = shared_cube(client, tenant, cube_id, make_tenant)
    first = post(client, cube_id, grantee, ("Carol", "I live in Paris."), ("Carol", "I work at Acme."))
    run(sessions, first["job_id"], settings, embedder)
    second = post(client, cube_id, grantee, ("Carol", "I moved to Berlin last month."),
                  ("Carol", "I no longer work at Acme."))
    job = run(sessions, second["job_id"], settings, embedder)
    assert job.result is not None
    assert [d["action"] for d in job.result["decisions"]] == ["UPDATE", "UPDATE"]
    assert not any("conflict" in d for d in job.result["decisions"])
    for d in job.result["decisions"]:
        # The superseded memory: closed by the grantee's job, never deleted; the owner sees who did it.
        versions = history(client, d["target_id"], owner)
        assert [cause(v) for v in versions] == [(grantee_key, str(grantee_id), first["job_id"]),
                                                (grantee_key, str(grantee_id), second["job_id"])]
        assert [v["status"] for v in versions] == ["active", "archived"]
        assert versions[1]["metadata"]["superseded_by"] == d["memory_id"]
        # Its successor is a memory of its own, attributed to the grantee's key.
        (v1,) = history(client, d["memory_id"], owner)
        assert cause(v1) == (grantee_key, str(grantee_id), second["job_id"])
        assert v1["provenance"]["actor"] == f"key:{grantee_key}"
        assert v1["provenance"]["memory_ids"] == [d["target_id"]]
        assert v1["provenance"].get("note") is None  # no marker left in client-writable fields


def test_a_forged_marker_does_not_make_a_job_drop_its_facts(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    queued = post(client, cube_id, auth, ("Dana", "I play the cello."))
    # What used to be the "already applied" marker, written by a client before the job runs.
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [
        {"content": "decoy", "provenance": {"note": f"consolidation job {queued['job_id']}"}}]}, headers=auth)
    assert r.status_code == 201, r.text
    job = run(sessions, queued["job_id"], settings, embedder)
    assert job.result is not None
    assert "skipped" not in job.result
    assert [d["action"] for d in job.result["decisions"]] == ["ADD"]
    assert "Dana plays the cello." in contents(client, cube_id, auth)


def test_trust_of_consolidated_memories_is_capped_by_the_posting_key(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, sessions: sessionmaker[Session],
    settings: Settings, embedder: Embedder,
) -> None:
    _, doubtful = new_key(client, tenant[0], max_trust=0.3)
    run(sessions, post(client, cube_id, doubtful, ("Erin", "I live in Oslo."))["job_id"], settings, embedder)
    _, plain = new_key(client, tenant[0])
    run(sessions, post(client, cube_id, plain, ("Finn", "I live in Rome."))["job_id"], settings, embedder)
    got = by_content(client, cube_id, plain)
    assert got["Erin lives in Oslo."]["provenance"]["trust"] == 0.3
    assert got["Finn lives in Rome."]["provenance"]["trust"] == 0.7  # a user turn, under the default 0.9


def test_linking_versions_name_the_key_behind_them(
    client: TestClient, tenant: tuple[uuid.UUID, Auth], cube_id: str, sessions: sessionmaker[Session],
    settings: Settings, embedder: Embedder,
) -> None:
    key_id, auth = new_key(client, tenant[0])
    run(sessions, post(client, cube_id, auth, ("Gus", "I adopted a dog named Rex."))["job_id"], settings,
        embedder)
    (linking,) = pending_jobs(sessions, "linking.link")
    assert (linking.key_id, linking.tenant_id) == (uuid.UUID(key_id), tenant[0])
    run(sessions, linking.id, settings, embedder)
    (memory,) = by_content(client, cube_id, auth).values()
    versions = history(client, memory["id"], auth)
    assert versions[-1]["actor"] == "system:linking"
    assert cause(versions[-1]) == (key_id, str(tenant[0]), str(linking.id))


def test_admin_sees_max_trust_on_new_keys(client: TestClient, tenant: tuple[uuid.UUID, Auth]) -> None:
    r = client.post(f"/v1/tenants/{tenant[0]}/keys", json={"name": "bot", "max_trust": 0.4}, headers=ADMIN)
    assert r.status_code == 201, r.text
    assert r.json()["max_trust"] == 0.4


def test_a_client_idempotency_key_cannot_take_the_place_of_a_linking_job(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    queued = post(client, cube_id, auth, ("Hana", "I adopted a cat named Miso."))
    # The key the server used to give the linking job of that consolidation job, taken first by a client.
    squatter = post(client, cube_id, auth, ("Hana", "Hello!"), idempotency_key=f"linking:{queued['job_id']}")
    job = run(sessions, queued["job_id"], settings, embedder)
    assert job.result is not None
    linking_id = job.result["linking_job_id"]
    assert linking_id not in (None, squatter["job_id"])
    linking = client.get(f"/v1/jobs/{linking_id}", headers=auth).json()
    assert linking["type"] == "linking.link"
    run(sessions, linking_id, settings, embedder)
    (memory,) = by_content(client, cube_id, auth).values()
    assert history(client, memory["id"], auth)[-1]["actor"] == "system:linking"
