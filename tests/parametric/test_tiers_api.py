"""Adapters on the tier scheduler through the API: generation moves them between the serving model (gpu), host
memory (cpu) and disk under the shared budgets, the status counts them, a tenant reads the moves of its own
adapters only, and a parametric memory is pinned like an activation (on the record, applied at first use by a
process that has not applied it). The tiny model; adapters written by PEFT's save_pretrained."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.state import AppState
from memcube.db import SYSTEM, tenant_session
from memcube.models import Memory
from memos.activation.models import LoadedModel, ModelRegistry
from memos.activation.runtime import ActivationRuntime
from memos.config import Settings
from memos.parametric.pool import adapter_key
from memos.parametric.runtime import ParametricRuntime
from tests.activation.test_scheduler_api import tiered
from tests.conftest import ADMIN, TenantFactory
from tests.parametric.conftest import peft_adapter
from tests.parametric.test_api import Auth, generate, register

ADAPTER = 57_344  # LoRA bytes of a rank-4 q_proj/v_proj adapter of the tiny model


@pytest.fixture
def runtime(settings: Settings, registry: ModelRegistry) -> ActivationRuntime:
    # What a serving process builds from its settings: room for two adapters in the gpu tier (emulated on the
    # CPU), two more in host memory, heat.
    return tiered(settings, registry, tier_gpu_bytes=2 * ADAPTER, tier_cpu_bytes=2 * ADAPTER)


@pytest.fixture
def adapters(client: TestClient, auth: Auth, cube_id: str, tiny: LoadedModel, tmp_path: Path) -> list[dict[str, Any]]:
    return [register(client, cube_id, auth, peft_adapter(tiny, tmp_path, seed=seed)) for seed in range(1, 6)]


def test_generation_moves_adapters_through_the_tiers_under_the_budgets(
        client: TestClient, auth: Auth, cube_id: str, adapters: list[dict[str, Any]],
        parametric: ParametricRuntime) -> None:
    texts = [generate(client, cube_id, auth, adapter_id=a["id"])["text"] for a in adapters]
    st = client.get("/v1/scheduler/status", headers=auth).json()
    gpu, cpu = st["tiers"]
    assert (gpu["adapters"], cpu["adapters"]) == (2, 2)  # the fifth went back to disk
    assert all(t["used_bytes"] <= t["budget_bytes"] for t in st["tiers"])
    assert gpu["emulated"] is True
    assert st["misses"] == 5
    where = [parametric.pool.residency("tiny", a["blob_sha256"]) for a in adapters]
    assert sorted(where) == ["cpu", "cpu", "disk", "gpu", "gpu"]
    # Each comes back from wherever it is with the same output; those in the serving model with no load.
    order = sorted(range(5), key=lambda i: ["gpu", "cpu", "disk"].index(where[i]))
    again = {i: generate(client, cube_id, auth, adapter_id=adapters[i]["id"]) for i in order}
    assert [again[i]["text"] for i in range(5)] == texts
    assert [again[i]["used"]["adapter_loaded"] for i in order] == [True, True, False, False, False]
    (tiny,) = [m for m in client.get("/v1/models", headers=auth).json()["models"] if m["name"] == "tiny"]
    assert tiny["adapters_loaded"] == 2


def test_a_tenant_reads_the_moves_of_its_own_adapters_only(
        client: TestClient, auth: Auth, cube_id: str, adapters: list[dict[str, Any]],
        make_tenant: TenantFactory) -> None:
    for a in adapters[:3]:
        generate(client, cube_id, auth, adapter_id=a["id"])
    moves = client.get("/v1/scheduler/events?limit=100", headers=auth).json()
    ids = {a["blob_sha256"]: a["id"] for a in adapters}
    assert {m["kind"] for m in moves} == {"parametric"}
    assert {m["payload"] for m in moves} == {a["blob_sha256"] for a in adapters[:3]}
    assert all(m["memory_ids"] == [ids[m["payload"]]] for m in moves)
    first = adapters[0]["blob_sha256"]
    assert any(m["payload"] == first and (m["source"], m["target"]) == ("disk", "gpu") for m in moves)
    assert any(m["payload"] == first and (m["source"], m["target"]) == ("gpu", "cpu") for m in moves)
    _, other = make_tenant("other")
    assert client.get("/v1/scheduler/events", headers=other).json() == []
    everything = client.get("/v1/scheduler/events", headers=ADMIN).json()
    assert {m["payload"] for m in everything} >= {a["blob_sha256"] for a in adapters[:3]}


def test_pinning_a_parametric_memory(
        client: TestClient, sessions: sessionmaker[Session], auth: Auth, cube_id: str,
        adapters: list[dict[str, Any]], parametric: ParametricRuntime, make_tenant: TenantFactory) -> None:
    a = adapters[0]
    generate(client, cube_id, auth)  # the model is loaded in this process: the pin applies at once
    r = client.post(f"/v1/memories/{a['id']}/pin", headers=auth)
    assert r.status_code == 200, r.text
    pinned = r.json()
    assert (pinned["kind"], pinned["pinned"], pinned["payload"]) == ("parametric", True, a["blob_sha256"])
    assert pinned["residency"] == "gpu"
    with tenant_session(sessions, SYSTEM) as s:
        assert s.scalar(select(Memory.pinned_at).where(Memory.id == a["id"])) is not None
    for other in adapters[1:]:  # four others through tiers with room for four
        generate(client, cube_id, auth, adapter_id=other["id"])
    assert parametric.pool.residency("tiny", a["blob_sha256"]) != "disk"
    _, stranger = make_tenant("other")
    assert client.post(f"/v1/memories/{a['id']}/pin", headers=stranger).status_code == 404
    r = client.post(f"/v1/memories/{a['id']}/unpin", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["pinned"] is False
    assert not parametric.pool.is_pinned("tiny", a["blob_sha256"])


def test_a_pin_made_elsewhere_is_applied_at_the_first_use(
        client: TestClient, auth: Auth, cube_id: str, adapters: list[dict[str, Any]], app_state: AppState,
        settings: Settings, registry: ModelRegistry) -> None:
    a = adapters[0]
    assert client.post(f"/v1/memories/{a['id']}/pin", headers=auth).status_code == 200
    fresh = app_state._activation = tiered(settings, registry, tier_gpu_bytes=2 * ADAPTER,
                                           tier_cpu_bytes=2 * ADAPTER)  # another process, or this one restarted
    app_state._parametric = None
    key = adapter_key("tiny", a["blob_sha256"])
    assert not fresh.cache.manager.is_pinned(key)
    generate(client, cube_id, auth, adapter_id=a["id"])
    assert fresh.cache.manager.is_pinned(key)
    assert client.post(f"/v1/memories/{a['id']}/unpin", headers=auth).status_code == 200
    generate(client, cube_id, auth, adapter_id=a["id"])
    assert not fresh.cache.manager.is_pinned(key)


def test_a_pin_beyond_the_budgets_is_refused(
        client: TestClient, sessions: sessionmaker[Session], auth: Auth, cube_id: str,
        adapters: list[dict[str, Any]], app_state: AppState, settings: Settings, registry: ModelRegistry) -> None:
    app_state._activation = tiered(settings, registry, tier_gpu_bytes=0, tier_cpu_bytes=1024)
    app_state._parametric = None
    generate(client, cube_id, auth)  # the model loaded here
    r = client.post(f"/v1/memories/{adapters[0]['id']}/pin", headers=auth)
    assert r.status_code == 409, r.text
    assert "budgets" in r.json()["detail"]
    with tenant_session(sessions, SYSTEM) as s:
        assert s.scalar(select(Memory.pinned_at).where(Memory.id == adapters[0]["id"])) is None
