"""The scheduler's plaintext -> parametric transformation: a cube's stable, heavily used memories are proposed
for a LoRA adapter, which is trained only once the cube's owner approves it (or closed when rejected); each
step a version with its actor. The tiny model; the training job runs in-process through the real runner."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, tenant_session
from memcube.models import Memory
from memcube.repository.memories import add_access_counts
from memos.config import Settings
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from memos.parametric.runtime import ParametricRuntime
from memos.scheduler.propose import propose_adapters
from memos.scheduler.transform import ACTOR
from tests.api.helpers import add
from tests.conftest import TenantFactory

Auth = dict[str, str]
FACTS = ["Alice moved to Lyon in May.", "Alice works as a baker.", "Alice's bakery opens at 6 am.",
         "Bob plays the cello every Sunday."]


def settle(sessions: sessionmaker[Session], ids: list[str], *, uses: int, days: float) -> None:
    """As if searches had returned these memories ``uses`` times and nobody had changed them for ``days``."""
    with tenant_session(sessions, SYSTEM) as s:
        s.execute(update(Memory).where(Memory.id.in_([uuid.UUID(i) for i in ids]))
                  .values(updated_at=datetime.now(UTC) - timedelta(days=days)))
        add_access_counts(s, {uuid.UUID(i): uses for i in ids}, datetime.now(UTC))


def proposing(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"propose_model": "tiny", "propose_min_uses": 20, "propose_stable_days": 7,
                                       "propose_min_memories": 3, **changes})


def adapters_of(client: TestClient, cube_id: str, auth: Auth) -> list[dict[str, Any]]:
    r = client.get(f"/v1/cubes/{cube_id}/adapters", headers=auth)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["adapters"]
    return items


def history(client: TestClient, memory_id: str, auth: Auth) -> list[dict[str, Any]]:
    body = client.get(f"/v1/memories/{memory_id}/history", headers=auth).json()
    versions: list[dict[str, Any]] = body["versions"] if isinstance(body, dict) else body
    return versions


def test_stable_heavily_used_memories_are_proposed_and_trained_once_approved(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, ctx: JobContext, auth: Auth,
    cube_id: str, make_tenant: TenantFactory,
) -> None:
    memories = add(client, cube_id, auth, *FACTS)
    used = [m["id"] for m in memories[:3]]
    settle(sessions, used, uses=25, days=10)
    settle(sessions, [memories[3]["id"]], uses=2, days=10)  # stable but rarely used: not proposed
    assert propose_adapters(sessions, proposing(settings, propose_model="")) == 0  # off by default
    assert propose_adapters(sessions, proposing(settings, propose_min_memories=4)) == 0  # too few
    assert propose_adapters(sessions, proposing(settings)) == 1
    assert propose_adapters(sessions, proposing(settings)) == 0  # one open proposal per cube

    (proposal,) = adapters_of(client, cube_id, auth)
    assert proposal["state"] == "proposed"
    assert proposal["source"] == "proposal"
    assert sorted(proposal["source_memory_ids"]) == sorted(used)
    (v1,) = history(client, proposal["id"], auth)
    assert v1["actor"] == ACTOR
    assert v1["reason"].startswith("proposed: 3 memories used at least 25 times each")
    r = client.post(f"/v1/cubes/{cube_id}/generate", headers=auth,
                    json={"model": "tiny", "prompt": "hi", "adapter_id": proposal["id"]})
    assert (r.status_code, r.json()["error"]) == (409, "adapter_not_ready")  # nothing trained yet

    # Only the cube's owner decides; another tenant does not even see it.
    _, other = make_tenant()
    assert client.post(f"/v1/adapters/{proposal['id']}/approve", json={}, headers=other).status_code == 404
    r = client.post(f"/v1/adapters/{proposal['id']}/approve", headers=auth,
                    json={"steps": 3, "note": "the bakery facts are settled"})
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["adapter"]["state"] == "training"
    assert client.post(f"/v1/adapters/{proposal['id']}/approve", json={}, headers=auth).status_code == 409
    assert client.post(f"/v1/adapters/{proposal['id']}/reject", json={}, headers=auth).status_code == 409
    approval = history(client, proposal["id"], auth)[-1]
    assert approval["actor"].startswith("key:")
    assert approval["reason"] == "proposal approved (3 of 3 memories still live): the bakery facts are settled"

    assert run_job(sessions, accepted["job_id"], ctx) == "succeeded"
    adapter = client.get(f"/v1/adapters/{proposal['id']}", headers=auth).json()
    assert adapter["state"] == "ready"
    assert sorted(adapter["source_memory_ids"]) == sorted(used)
    r = client.post(f"/v1/cubes/{cube_id}/generate", headers=auth,
                    json={"model": "tiny", "prompt": "Alice", "adapter_id": proposal["id"], "max_new_tokens": 2})
    assert r.status_code == 200, r.text


def test_a_rejected_proposal_is_kept_and_not_made_again_soon(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, auth: Auth, cube_id: str,
) -> None:
    memories = add(client, cube_id, auth, *FACTS[:3])
    settle(sessions, [m["id"] for m in memories], uses=30, days=8)
    assert propose_adapters(sessions, proposing(settings)) == 1
    (proposal,) = adapters_of(client, cube_id, auth)
    for bad in ({"steps": 0}, {"note": "x" * 2001}, {"rank": 0}):
        assert client.post(f"/v1/adapters/{proposal['id']}/approve", json=bad, headers=auth).status_code == 422
    r = client.post(f"/v1/adapters/{proposal['id']}/approve", headers=auth,
                    json={"steps": settings.adapter_train_max_steps + 1})
    assert r.status_code == 422
    r = client.post(f"/v1/adapters/{proposal['id']}/reject", json={"note": "too personal"}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "rejected"
    assert history(client, proposal["id"], auth)[-1]["reason"] == "proposal rejected: too personal"
    assert propose_adapters(sessions, proposing(settings)) == 0  # not within the stable period
    assert propose_adapters(sessions, proposing(settings, propose_stable_days=0)) == 1  # once it has passed


def test_approval_needs_the_owner_and_live_memories(
    client: TestClient, sessions: sessionmaker[Session], settings: Settings, auth: Auth, cube_id: str,
    make_tenant: TenantFactory,
) -> None:
    memories = add(client, cube_id, auth, *FACTS[:3])
    settle(sessions, [m["id"] for m in memories], uses=30, days=8)
    assert propose_adapters(sessions, proposing(settings)) == 1
    (proposal,) = adapters_of(client, cube_id, auth)
    # A tenant with write access to the cube may not decide.
    grantee_id, grantee = make_tenant()
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(grantee_id), "access": "write"},
                    headers=auth)
    assert r.status_code in (200, 201), r.text
    assert client.post(f"/v1/adapters/{proposal['id']}/approve", json={}, headers=grantee).status_code == 403
    # Every proposed memory deleted since: nothing left to learn.
    for m in memories:
        assert client.delete(f"/v1/memories/{m['id']}", headers=auth).status_code == 200
    r = client.post(f"/v1/adapters/{proposal['id']}/approve", json={}, headers=auth)
    assert r.status_code == 409
    assert "reject" in r.json()["detail"]
    assert client.post("/v1/adapters/00000000-0000-0000-0000-000000000000/approve", json={},
                       headers=auth).status_code == 404


def test_a_search_that_recalls_an_adapters_sources_prefetches_it(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    parametric: ParametricRuntime,
) -> None:
    # Predicted use covers adapters as it does snapshots: what a search recalls names the adapter learned from it.
    alice = add(client, cube_id, auth, "Alice moved to Lyon in May.", "Alice bakes sourdough bread.")
    add(client, cube_id, auth, "The weather in Oslo was grey all week.")
    r = client.post(f"/v1/cubes/{cube_id}/adapters/train", headers=auth,
                    json={"model": "tiny", "memory_ids": [m["id"] for m in alice], "steps": 2})
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert run_job(sessions, accepted["job_id"], ctx) == "succeeded"
    sha = client.get(f"/v1/adapters/{accepted['adapter']['id']}", headers=auth).json()["blob_sha256"]
    assert parametric.pool.residency("tiny", sha) == "disk"  # trained by the job, never served here

    client.post(f"/v1/cubes/{cube_id}/search", json={"query": "the grey weather in Oslo", "top_k": 1}, headers=auth)
    assert parametric.pool.residency("tiny", sha) == "disk"  # recalled nothing it learned
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "Where did Alice move?", "top_k": 1},
                    headers=auth)
    assert r.status_code == 200, r.text
    assert parametric.pool.residency("tiny", sha) != "disk"  # prefetched before it is asked for
    moves = client.get("/v1/scheduler/events", headers=auth).json()
    assert any(m["kind"] == "parametric" and m["reason"] == "prefetch" for m in moves)
