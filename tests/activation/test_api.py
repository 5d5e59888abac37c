"""Activation memories through the API: create -> build job -> ready, list, generate (exact against the text),
fingerprint and state checks, staleness and rebuild, extension, isolation and bad input. The tiny model;
jobs run in-process through the real runner."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.state import AppState
from memcube.blobs import BlobStore
from memcube.db import SYSTEM, tenant_session
from memcube.models import Memory, PayloadBlob
from memos.activation.backend import TransformersBackend
from memos.activation.cache import SnapshotCache
from memos.activation.kv import deserialize, prefill
from memos.activation.models import ModelRegistry
from memos.activation.runtime import ActivationRuntime
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.api.helpers import add, add_one, search
from tests.consolidation.helpers import get_job, pending_jobs, post
from tests.consolidation.helpers import run as run_consolidation

Auth = dict[str, str]


@pytest.fixture
def runtime(settings: Settings, registry: ModelRegistry) -> ActivationRuntime:
    """The session's tiny model, this test's blob store and cache (shared by the API and the jobs, as a
    deployment shares MEMOS_HOME)."""
    blobs = BlobStore(settings.home / "blobs")
    return ActivationRuntime(settings=settings, registry=registry, backend=TransformersBackend(), blobs=blobs,
                             cache=SnapshotCache(blobs, max_bytes=64 * 1024 * 1024))


@pytest.fixture
def app_state(app_state: AppState, runtime: ActivationRuntime) -> AppState:
    app_state._activation = runtime
    return app_state


@pytest.fixture
def ctx(settings: Settings, embedder: Embedder, runtime: ActivationRuntime) -> JobContext:
    return JobContext(settings=settings, embedder=embedder, resources={"activation": runtime})


def create(client: TestClient, cube_id: str, auth: Auth, **body: Any) -> dict[str, Any]:
    r = client.post(f"/v1/cubes/{cube_id}/activations", json={"model": "tiny", **body}, headers=auth)
    assert r.status_code == 202, r.text
    out: dict[str, Any] = r.json()
    return out


def run(sessions: sessionmaker[Session], ctx: JobContext, job_id: str) -> dict[str, Any]:
    status = run_job(sessions, job_id, ctx)
    job = get_job(sessions, job_id)
    assert status == "succeeded", (status, job.error)
    assert job.result is not None
    return job.result


def activation(client: TestClient, auth: Auth, activation_id: str) -> dict[str, Any]:
    r = client.get(f"/v1/activations/{activation_id}", headers=auth)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def generate(client: TestClient, cube_id: str, auth: Auth, prompt: str, **body: Any) -> dict[str, Any]:
    r = client.post(f"/v1/cubes/{cube_id}/generate", json={"model": "tiny", "prompt": prompt, "max_new_tokens": 8,
                                                           **body}, headers=auth)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.fixture
def built(client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth,
          cube_id: str) -> dict[str, Any]:
    """An activation built from two memories of the cube."""
    memories = add(client, cube_id, auth, "Alice moved to Lyon in May.", "Bob plays the cello every Sunday.")
    accepted = create(client, cube_id, auth, memory_ids=[m["id"] for m in memories], name="people")
    run(sessions, ctx, accepted["job_id"])
    return {"memories": memories, **activation(client, auth, accepted["activation"]["id"])}


def test_models_are_listed(client: TestClient, auth: Auth) -> None:
    r = client.get("/v1/models", headers=auth)
    assert r.status_code == 200, r.text
    (tiny,) = [m for m in r.json()["models"] if m["name"] == "tiny"]
    assert tiny["source"] == "builtin"
    assert client.get("/v1/models").status_code == 401


def test_create_build_list_and_history(client: TestClient, sessions: sessionmaker[Session], ctx: JobContext,
                                       auth: Auth, cube_id: str) -> None:
    memories = add(client, cube_id, auth, "Alice moved to Lyon in May.", "Bob plays the cello every Sunday.")
    accepted = create(client, cube_id, auth, memory_ids=[m["id"] for m in reversed(memories)], name="people")
    act = accepted["activation"]
    assert (act["state"], act["version"], act["model"], act["name"]) == ("building", 1, "tiny", "people")
    result = run(sessions, ctx, accepted["job_id"])
    assert run_job(sessions, accepted["job_id"], ctx) == "succeeded"  # a redelivery writes nothing more

    got = activation(client, auth, act["id"])
    assert (got["state"], got["version"], got["stale"]) == ("ready", 2, False)
    assert got["tokens"] == result["tokens"] == result["prefilled_tokens"] > 5
    assert got["bytes"] > 0
    assert got["blob_sha256"] == result["blob_sha256"]
    listed = client.get(f"/v1/cubes/{cube_id}/activations", headers=auth).json()["activations"]
    assert [a["id"] for a in listed] == [act["id"]]

    # The memory routes read it: the rendered text (oldest first), and a version per build.
    memory = client.get(f"/v1/memories/{act['id']}", headers=auth).json()
    assert memory["kind"] == "activation"
    assert memory["content"] == "Alice moved to Lyon in May.\nBob plays the cello every Sunday."
    versions = client.get(f"/v1/memories/{act['id']}/history", headers=auth).json()["versions"]
    assert [v["metadata"]["state"] for v in versions] == ["building", "ready"]
    prov = versions[-1]["provenance"]
    assert prov["memory_ids"] == [m["id"] for m in reversed(memories)]
    assert prov["memory_versions"] == [1, 1]
    assert versions[-1]["job_id"] == accepted["job_id"]
    with tenant_session(sessions, SYSTEM) as s:
        blob = s.scalar(select(PayloadBlob).where(PayloadBlob.sha256 == got["blob_sha256"]))
        assert blob is not None
        assert (blob.size_bytes, blob.model_id, blob.fingerprint, blob.residency) == (
            got["bytes"], "tiny", got["fingerprint"], "disk")


def test_generation_with_the_snapshot_equals_generation_from_its_text(
        client: TestClient, auth: Auth, cube_id: str, built: dict[str, Any]) -> None:
    prompt = "Where does Alice live?"
    with_snapshot = generate(client, cube_id, auth, prompt, activation_id=built["id"])
    memory = client.get(f"/v1/memories/{built['id']}", headers=auth).json()
    without = generate(client, cube_id, auth, memory["content"] + " " + prompt)
    assert with_snapshot["text"] == without["text"]
    assert with_snapshot["used"] == {"activation_id": built["id"], "version": 2, "stale": False, "model": "tiny",
                                     "fingerprint": built["fingerprint"], "recompute_ratio": None,
                                     "activations": [{"activation_id": built["id"], "version": 2, "stale": False}],
                                     "adapter_id": None, "adapter_version": None, "batched": None,
                                     "adapter_loaded": None}
    assert with_snapshot["timings"]["cached_tokens"] == built["tokens"]
    assert with_snapshot["timings"]["prefill_tokens"] < without["timings"]["prefill_tokens"]
    assert without["used"]["activation_id"] is None


def test_streaming_sends_tokens_then_the_result(client: TestClient, auth: Auth, cube_id: str,
                                                built: dict[str, Any]) -> None:
    body = {"model": "tiny", "prompt": "Who plays the cello?", "activation_id": built["id"], "max_new_tokens": 6,
            "stream": True}
    with client.stream("POST", f"/v1/cubes/{cube_id}/generate", json=body, headers=auth) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = [dict(line.split(": ", 1) for line in block.split("\n")) for block in raw.strip().split("\n\n")]
    assert events[-1]["event"] == "done"
    done = json.loads(events[-1]["data"])
    assert "".join(json.loads(e["data"]) for e in events[:-1]) == done["text"]
    plain = generate(client, cube_id, auth, "Who plays the cello?", activation_id=built["id"], max_new_tokens=6)
    assert done["text"] == plain["text"]


def test_a_snapshot_of_another_model_is_a_409(client: TestClient, sessions: sessionmaker[Session], auth: Auth,
                                              cube_id: str, built: dict[str, Any]) -> None:
    with tenant_session(sessions, SYSTEM) as s:
        head = s.get(Memory, uuid.UUID(built["id"]))
        assert head is not None
        s.execute(update(Memory).where(Memory.id == head.id).values(meta={**head.meta, "fingerprint": "0" * 64}))
    r = client.post(f"/v1/cubes/{cube_id}/generate", json={"model": "tiny", "prompt": "hi",
                                                           "activation_id": built["id"]}, headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "fingerprint_mismatch"


def test_a_snapshot_not_built_yet_is_a_409_with_its_state(client: TestClient, auth: Auth, cube_id: str) -> None:
    accepted = create(client, cube_id, auth, text="Carol keeps bees on her roof.")
    r = client.post(f"/v1/cubes/{cube_id}/generate", json={"model": "tiny", "prompt": "hi",
                                                           "activation_id": accepted["activation"]["id"]},
                    headers=auth)
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["state"] == "building"


def test_a_changed_source_makes_it_stale_and_a_job_rebuilds_it(
        client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str,
        built: dict[str, Any]) -> None:
    alice = built["memories"][0]
    r = client.patch(f"/v1/memories/{alice['id']}", json={"content": "Alice moved to Nantes in June."},
                     headers=auth)
    assert r.status_code == 200, r.text
    stale = activation(client, auth, built["id"])
    assert (stale["state"], stale["stale"], stale["version"]) == ("stale", True, 2)
    # The old snapshot stays usable meanwhile, and says so.
    assert generate(client, cube_id, auth, "hi", activation_id=built["id"])["used"]["stale"] is True
    (job,) = [j for j in pending_jobs(sessions, "activation.build") if j.payload["activation_id"] == built["id"]]
    assert str(job.id) == stale["job_id"]
    run(sessions, ctx, str(job.id))
    rebuilt = activation(client, auth, built["id"])
    assert (rebuilt["state"], rebuilt["version"]) == ("ready", 3)
    assert rebuilt["blob_sha256"] != built["blob_sha256"]
    memory = client.get(f"/v1/memories/{built['id']}", headers=auth).json()
    assert "Nantes" in memory["content"]
    assert memory["provenance"]["memory_versions"] == [2, 1]


def test_a_consolidation_update_of_a_source_rebuilds_it(
        client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, settings: Settings,
        embedder: Embedder, auth: Auth, cube_id: str) -> None:
    first = post(client, cube_id, auth, ("Alice", "My favourite color is blue."))
    run_consolidation(sessions, first["job_id"], settings, embedder)
    (blue,) = client.get(f"/v1/cubes/{cube_id}/memories", headers=auth).json()["memories"]
    accepted = create(client, cube_id, auth, memory_ids=[blue["id"]])
    run(sessions, ctx, accepted["job_id"])
    second = post(client, cube_id, auth, ("Alice", "My favourite color is now green."))
    job = run_consolidation(sessions, second["job_id"], settings, embedder)
    assert job.result is not None
    assert job.result["counts"]["UPDATE"] == 1
    stale = activation(client, auth, accepted["activation"]["id"])
    assert stale["state"] == "stale"
    run(sessions, ctx, stale["job_id"])
    memory = client.get(f"/v1/memories/{stale['id']}", headers=auth).json()
    assert (memory["metadata"]["state"], memory["version"]) == ("ready", 3)
    assert "green" in memory["content"]
    assert "blue" not in memory["content"]
    # The update wrote a new fact and closed the old one: the snapshot now names the successor, so a later
    # change of it marks the snapshot stale again.
    closed = client.get(f"/v1/memories/{blue['id']}", headers=auth).json()
    successor = closed["metadata"]["superseded_by"]
    assert memory["provenance"]["memory_ids"] == [successor]
    r = client.patch(f"/v1/memories/{successor}", json={"content": "Alice's favourite color is red."}, headers=auth)
    assert r.status_code == 200, r.text
    assert activation(client, auth, stale["id"])["state"] == "stale"


def test_a_write_grantee_changing_a_source_queues_the_rebuild_as_itself(
        client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, make_tenant: Any, auth: Auth,
        cube_id: str, built: dict[str, Any]) -> None:
    partner_id, partner = make_tenant("partner")
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(partner_id), "access": "write"},
                    headers=auth)
    assert r.status_code == 201, r.text
    bob = built["memories"][1]
    r = client.patch(f"/v1/memories/{bob['id']}", json={"content": "Bob plays the viola."}, headers=partner)
    assert r.status_code == 200, r.text
    stale = activation(client, partner, built["id"])
    assert stale["state"] == "stale"
    job = get_job(sessions, stale["job_id"])
    assert job.tenant_id == partner_id
    assert job.key_id is not None
    run(sessions, ctx, stale["job_id"])
    assert "viola" in client.get(f"/v1/memories/{built['id']}", headers=auth).json()["content"]


def test_a_change_that_leaves_the_text_alone_leaves_the_snapshot_alone(
        client: TestClient, sessions: sessionmaker[Session], auth: Auth, built: dict[str, Any]) -> None:
    alice = built["memories"][0]
    r = client.patch(f"/v1/memories/{alice['id']}", json={"tags": ["moves"]}, headers=auth)
    assert r.status_code == 200, r.text
    assert activation(client, auth, built["id"])["state"] == "ready"
    assert [j for j in pending_jobs(sessions, "activation.build") if j.payload["activation_id"] == built["id"]] == []


def test_deleting_every_source_fails_the_rebuild_with_a_safe_error(
        client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth,
        built: dict[str, Any]) -> None:
    for m in built["memories"]:
        assert client.delete(f"/v1/memories/{m['id']}", headers=auth).status_code == 200
    job_id = activation(client, auth, built["id"])["job_id"]
    assert run_job(sessions, job_id, ctx) == "failed"
    failed = activation(client, auth, built["id"])
    assert failed["state"] == "failed"
    assert failed["error"] == "invalid_input: none of the activation's source memories is live any more"


def test_extension_prefills_only_the_new_tokens_and_equals_a_fresh_build(
        client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, runtime: ActivationRuntime,
        auth: Auth, cube_id: str, built: dict[str, Any]) -> None:
    carol = add_one(client, cube_id, auth, "Carol keeps bees on her roof.")
    r = client.post(f"/v1/activations/{built['id']}/extend", json={"memory_ids": [carol["id"]]}, headers=auth)
    assert r.status_code == 202, r.text
    result = run(sessions, ctx, r.json()["job_id"])
    assert 0 < result["prefilled_tokens"] < result["tokens"] - built["tokens"] + 1
    extended = activation(client, auth, built["id"])
    assert (extended["state"], extended["version"], extended["tokens"]) == ("ready", 3, result["tokens"])
    assert extended["source_memory_ids"] == [*(m["id"] for m in built["memories"]), carol["id"]]

    snap, _ = deserialize(runtime.blobs.get(extended["blob_sha256"]))
    text = client.get(f"/v1/memories/{built['id']}", headers=auth).json()["content"]
    assert text.endswith("\nCarol keeps bees on her roof.")
    lm = runtime.registry.load("tiny")
    fresh = prefill(lm, lm.encode(text))
    assert snap.token_ids == fresh.token_ids
    for a, b in zip([*snap.keys, *snap.values], [*fresh.keys, *fresh.values], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_activations_are_not_search_hits(client: TestClient, auth: Auth, cube_id: str,
                                         built: dict[str, Any]) -> None:
    hits = search(client, cube_id, auth, "cello Sunday")
    assert hits
    assert all(h["memory"]["kind"] == "plaintext" for h in hits)
    r = client.post(f"/v1/cubes/{cube_id}/context", json={"query": "cello Sunday"}, headers=auth)
    assert r.status_code == 200, r.text
    assert all(m["kind"] == "plaintext" for m in r.json()["memories"])


def test_other_tenants_see_nothing(client: TestClient, make_tenant: Any, auth: Auth, cube_id: str,
                                   built: dict[str, Any]) -> None:
    _, other = make_tenant("other")
    own = client.post("/v1/cubes", json={"name": "mine"}, headers=other).json()["id"]
    assert client.get(f"/v1/activations/{built['id']}", headers=other).status_code == 404
    assert client.get(f"/v1/memories/{built['id']}", headers=other).status_code == 404
    assert client.get(f"/v1/cubes/{cube_id}/activations", headers=other).status_code == 404
    r = client.post(f"/v1/cubes/{own}/generate", json={"model": "tiny", "prompt": "hi",
                                                       "activation_id": built["id"]}, headers=other)
    assert r.status_code == 404, r.text
    r = client.post(f"/v1/activations/{built['id']}/extend", json={"memory_ids": [str(uuid.uuid4())]},
                    headers=other)
    assert r.status_code == 404, r.text
    r = client.post(f"/v1/cubes/{own}/activations",
                    json={"model": "tiny", "memory_ids": [built["memories"][0]["id"]]}, headers=other)
    assert r.status_code == 404, r.text


@pytest.mark.parametrize(("body", "status"), [
    ({"model": "tiny"}, 422),
    ({"model": "tiny", "text": "x", "memory_ids": [str(uuid.uuid4())]}, 422),
    ({"model": "tiny", "text": "   "}, 422),
    ({"model": "no-such-model", "text": "x"}, 404),
    ({"model": "tiny", "memory_ids": [str(uuid.uuid4())]}, 404),
    ({"model": "tiny", "text": "x" * 2_001}, 413),
])
def test_bad_creations_are_refused(client: TestClient, auth: Auth, cube_id: str, body: dict[str, Any],
                                   status: int) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/activations", json=body, headers=auth)
    assert r.status_code == status, r.text
    assert client.get(f"/v1/cubes/{cube_id}/activations", headers=auth).json()["activations"] == []


def test_bad_generations_and_direct_changes_are_refused(client: TestClient, settings: Settings, auth: Auth,
                                                        cube_id: str, built: dict[str, Any]) -> None:
    url = f"/v1/cubes/{cube_id}/generate"
    too_many = settings.max_new_tokens_limit + 1
    assert client.post(url, json={"model": "tiny", "prompt": "hi", "max_new_tokens": too_many},
                       headers=auth).status_code == 422
    assert client.post(url, json={"model": "nope", "prompt": "hi"}, headers=auth).status_code == 404
    assert client.post(url, json={"model": "tiny", "prompt": ""}, headers=auth).status_code == 422
    assert client.post(url, json={"model": "tiny", "prompt": "x" * 2_001}, headers=auth).status_code == 413
    assert client.post(url, json={"model": "tiny", "prompt": "hi", "activation_id": str(uuid.uuid4())},
                       headers=auth).status_code == 404
    r = client.patch(f"/v1/memories/{built['id']}", json={"content": "edited"}, headers=auth)
    assert r.status_code == 409, r.text
    r = client.post(f"/v1/memories/{built['id']}/rollback", json={"version": 1}, headers=auth)
    assert r.status_code == 409, r.text
    plain = built["memories"][0]["id"]
    r = client.post(f"/v1/activations/{plain}/extend", json={"memory_ids": [plain]}, headers=auth)
    assert r.status_code == 404, r.text


def test_an_activation_leaves_the_cubes_text_statistics_alone(
    client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth, cube_id: str
) -> None:
    """BM25 statistics count plaintext only: a snapshot's text repeats its sources' terms."""
    from sqlalchemy import text

    def stats() -> tuple[int, int, int]:
        with tenant_session(sessions, SYSTEM) as s:
            docs = s.execute(text("SELECT docs FROM cube_text_stats WHERE cube_id = :c"), {"c": cube_id}).scalar()
            df = s.execute(text("SELECT df FROM cube_lexemes WHERE cube_id = :c AND lexeme = 'cello'"),
                           {"c": cube_id}).scalar()
            indexed = s.execute(text("SELECT count(*) FROM memories WHERE cube_id = :c AND tsv IS NOT NULL"),
                                {"c": cube_id}).scalar()
            return int(docs or 0), int(df or 0), int(indexed or 0)

    memories = add(client, cube_id, auth, "Alice moved to Lyon in May.", "Bob plays the cello every Sunday.")
    before = stats()
    assert before == (2, 1, 2)
    accepted = create(client, cube_id, auth, memory_ids=[m["id"] for m in memories])
    run(sessions, ctx, accepted["job_id"])
    assert activation(client, auth, accepted["activation"]["id"])["state"] == "ready"
    assert stats() == before
