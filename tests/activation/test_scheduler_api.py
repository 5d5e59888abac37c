"""The tier scheduler through the API: status of the process's tiers, pinning an activation's snapshot (kept on
the record and in the tiers), the move log a tenant may read, and bad requests. The tiny model; the build job
runs in-process through the real runner."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.state import AppState
from memcube.blobs import BlobStore
from memcube.db import SYSTEM, tenant_session
from memcube.models import Memory
from memos.activation.backend import TransformersBackend
from memos.activation.cache import SnapshotCache
from memos.activation.models import ModelRegistry
from memos.activation.runtime import ActivationRuntime
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from tests.api.helpers import add
from tests.conftest import ADMIN, TenantFactory

from .test_api import Auth, activation, create, generate, run

MB = 1 << 20


def tiered(settings: Settings, registry: ModelRegistry, **tiers: Any) -> ActivationRuntime:
    """The runtime a serving process builds from its settings: gpu (emulated here) and cpu tiers, heat."""
    s = settings.model_copy(update={"tier_gpu_bytes": 1 * MB, "tier_cpu_bytes": 4 * MB, **tiers})
    blobs = BlobStore(s.home / "blobs")
    return ActivationRuntime(settings=s, registry=registry, backend=TransformersBackend(), blobs=blobs,
                             cache=SnapshotCache.from_settings(blobs, s))


@pytest.fixture
def runtime(settings: Settings, registry: ModelRegistry) -> ActivationRuntime:
    return tiered(settings, registry)


@pytest.fixture
def app_state(app_state: AppState, runtime: ActivationRuntime) -> AppState:
    app_state._activation = runtime
    return app_state


@pytest.fixture
def ctx(settings: Settings, embedder: Embedder, runtime: ActivationRuntime) -> JobContext:
    return JobContext(settings=settings, embedder=embedder, resources={"activation": runtime})


def build(client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
          *texts: str) -> dict[str, Any]:
    memories = add(client, cube_id, auth, *texts)
    accepted = create(client, cube_id, auth, memory_ids=[m["id"] for m in memories])
    run(sessions, ctx, accepted["job_id"])
    return activation(client, auth, accepted["activation"]["id"])


def test_status_reports_the_tiers_and_their_policy(client: TestClient, auth: Auth) -> None:
    assert client.get("/v1/scheduler/status").status_code == 401
    r = client.get("/v1/scheduler/status", headers=auth)
    assert r.status_code == 200, r.text
    st = r.json()
    assert st["policy"] == "heat"
    gpu, cpu = st["tiers"]
    assert (gpu["name"], gpu["budget_bytes"], cpu["name"], cpu["budget_bytes"]) == ("gpu", MB, "cpu", 4 * MB)
    assert gpu["emulated"] is True  # no CUDA on this machine: the gpu tier is a budget on the CPU device
    assert gpu["device"] == "cpu"


def test_pin_keeps_a_snapshot_in_memory_and_on_the_record(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    runtime: ActivationRuntime,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "Alice moved to Lyon in May.")
    runtime.cache.evict(act["blob_sha256"])  # on disk only, as after a restart
    r = client.post(f"/v1/memories/{act['id']}/pin", headers=auth)
    assert r.status_code == 200, r.text
    pinned = r.json()
    assert pinned["pinned"] is True
    assert pinned["residency"] in {"gpu", "cpu"}  # loaded at once
    assert pinned["payload"] == act["blob_sha256"]
    with tenant_session(sessions, SYSTEM) as s:
        assert s.scalar(select(Memory.pinned_at).where(Memory.id == act["id"])) is not None
    assert sum(t["pinned"] for t in client.get("/v1/scheduler/status", headers=auth).json()["tiers"]) == 1

    # Other snapshots pushed through the tiers do not push a pinned one to disk.
    for i in range(6):
        other = build(client, sessions, ctx, auth, cube_id, f"Note {i}: " + "the quick brown fox " * (20 + 10 * i))
        generate(client, cube_id, auth, "Where?", activation_id=other["id"], max_new_tokens=1)
    assert runtime.cache.manager.residency(act["blob_sha256"]) != "disk"
    used = client.get("/v1/scheduler/status", headers=auth).json()["tiers"]
    assert all(t["used_bytes"] <= t["budget_bytes"] for t in used)

    r = client.post(f"/v1/memories/{act['id']}/unpin", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["pinned"] is False
    assert not runtime.cache.manager.is_pinned(act["blob_sha256"])


def test_a_pin_beyond_the_budgets_is_refused_and_leaves_nothing(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    app_state: AppState, settings: Settings, registry: ModelRegistry,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "Alice moved to Lyon in May.")
    app_state._activation = tiered(settings, registry, tier_gpu_bytes=0, tier_cpu_bytes=1024)
    r = client.post(f"/v1/memories/{act['id']}/pin", headers=auth)
    assert r.status_code == 409, r.text
    assert "budgets" in r.json()["detail"]
    with tenant_session(sessions, SYSTEM) as s:
        assert s.scalar(select(Memory.pinned_at).where(Memory.id == act["id"])) is None


def test_pins_refuse_other_kinds_other_tenants_and_unknown_ids(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    make_tenant: TenantFactory,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "Alice moved to Lyon in May.")
    (plain,) = add(client, cube_id, auth, "Bob plays the cello.")
    r = client.post(f"/v1/memories/{plain['id']}/pin", headers=auth)
    assert r.status_code == 409, r.text
    assert "no payload" in r.json()["detail"]
    _, other = make_tenant("other")
    assert client.post(f"/v1/memories/{act['id']}/pin", headers=other).status_code == 404
    assert client.post("/v1/memories/00000000-0000-0000-0000-000000000000/pin", headers=auth).status_code == 404
    assert client.post(f"/v1/memories/{act['id']}/pin", headers=ADMIN).status_code == 403


def test_a_tenant_reads_the_moves_of_its_own_payloads_only(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    make_tenant: TenantFactory, runtime: ActivationRuntime,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "Alice moved to Lyon in May.")
    runtime.cache.evict(act["blob_sha256"])
    generate(client, cube_id, auth, "Where?", activation_id=act["id"], max_new_tokens=1)  # a load from disk
    moves = client.get("/v1/scheduler/events?limit=50", headers=auth).json()
    assert moves, "the load and the eviction are recorded"
    assert {m["payload"] for m in moves} == {act["blob_sha256"]}
    assert all(m["memory_ids"] == [act["id"]] for m in moves)
    assert any(m["source"] == "disk" and m["target"] == "gpu" for m in moves)
    _, other = make_tenant("other")
    assert client.get("/v1/scheduler/events", headers=other).json() == []
    everything = client.get("/v1/scheduler/events", headers=ADMIN).json()
    assert {m["payload"] for m in everything} >= {act["blob_sha256"]}
    assert client.get("/v1/scheduler/events?limit=0", headers=auth).status_code == 422


def test_a_search_that_recalls_an_activations_sources_prefetches_its_snapshot(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    runtime: ActivationRuntime,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "Alice moved to Lyon in May.", "Bob plays the cello.")
    add(client, cube_id, auth, "The weather in Oslo was grey all week.")
    runtime.cache.evict(act["blob_sha256"])
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "the grey weather in Oslo", "top_k": 1},
                    headers=auth)
    assert r.status_code == 200, r.text
    assert runtime.cache.manager.residency(act["blob_sha256"]) == "disk"  # recalled nothing of its sources
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "Where did Alice move?", "top_k": 1},
                    headers=auth)
    assert r.status_code == 200, r.text
    assert runtime.cache.manager.residency(act["blob_sha256"]) != "disk"  # prefetched before it is asked for
    generate(client, cube_id, auth, "Where?", activation_id=act["id"], max_new_tokens=1)
    st = client.get("/v1/scheduler/status", headers=auth).json()
    assert st["prefetches"] == 1
    assert st["prefetch_hits"] == 1


def test_a_pin_made_elsewhere_is_applied_at_the_first_use(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    app_state: AppState, settings: Settings, registry: ModelRegistry,
) -> None:
    act = build(client, sessions, ctx, auth, cube_id, "Alice moved to Lyon in May.")
    assert client.post(f"/v1/memories/{act['id']}/pin", headers=auth).status_code == 200
    fresh = app_state._activation = tiered(settings, registry)  # another process, or this one restarted
    assert not fresh.cache.manager.is_pinned(act["blob_sha256"])
    generate(client, cube_id, auth, "Where?", activation_id=act["id"], max_new_tokens=1)
    assert fresh.cache.manager.is_pinned(act["blob_sha256"])


def test_memories_carried_together_often_get_an_activation(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
    app_state: AppState, settings: Settings,
) -> None:
    from memos.scheduler.transform import ACTOR, snapshot_co_used

    add(client, cube_id, auth, "Alice moved to Lyon in May.", "Alice works at a bakery in Lyon.",
        "Bob plays the cello.")
    transform = settings.model_copy(update={"transform_model": "tiny", "transform_min_uses": 3,
                                            "transform_set_size": 2})
    for i in range(3):
        r = client.post(f"/v1/cubes/{cube_id}/context", json={"query": "Where does Alice live and work?",
                                                              "top_k": 2}, headers=auth)
        assert r.status_code == 200, r.text
        app_state.access.flush()
        if i < 2:
            assert snapshot_co_used(sessions, transform) == 0  # not used often enough yet
    assert snapshot_co_used(sessions, settings) == 0  # off without MEMOS_TRANSFORM_MODEL
    assert snapshot_co_used(sessions, transform) == 1
    assert snapshot_co_used(sessions, transform) == 0  # once per set

    (made,) = client.get(f"/v1/cubes/{cube_id}/activations", headers=auth).json()["activations"]
    history = client.get(f"/v1/memories/{made['id']}/history", headers=auth).json()
    versions = history["versions"] if isinstance(history, dict) else history
    assert versions[0]["actor"] == ACTOR
    assert versions[0]["reason"].startswith("transformation: 2 memories carried together by 3 contexts")
    memory = client.get(f"/v1/memories/{made['id']}", headers=auth).json()
    assert "Alice" in memory["content"]
    run(sessions, ctx, memory["metadata"]["job_id"])  # the build job it enqueued, as a worker runs it
    assert activation(client, auth, made["id"])["state"] == "ready"
