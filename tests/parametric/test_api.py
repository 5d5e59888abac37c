"""Parametric memories through the API: upload -> checked -> a parametric memory with a content-addressed
blob; bad uploads refused leaving nothing behind; generation with adapters (batched, after a snapshot,
streamed); versions and rollback; isolation. The tiny model; adapters written by PEFT's save_pretrained."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from safetensors.torch import load, save
from sqlalchemy.orm import Session, sessionmaker

from memos.activation.models import LoadedModel
from memos.config import Settings
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.api.helpers import add
from tests.consolidation.helpers import get_job
from tests.parametric.conftest import peft_adapter

Auth = dict[str, str]
Files = tuple[bytes, bytes]


def upload(client: TestClient, cube_id: str, auth: Auth, files: Files, *, model: str = "tiny",
           **form: str) -> Any:
    config, weights = files
    return client.post(f"/v1/cubes/{cube_id}/adapters", data={"model": model, **form}, headers=auth,
                       files={"config": ("adapter_config.json", config, "application/json"),
                              "weights": ("adapter_model.safetensors", weights, "application/octet-stream")})


def register(client: TestClient, cube_id: str, auth: Auth, files: Files, **form: str) -> dict[str, Any]:
    r = upload(client, cube_id, auth, files, **form)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def generate(client: TestClient, cube_id: str, auth: Auth, prompt: str = "Alice moved to", **body: Any) -> Any:
    r = client.post(f"/v1/cubes/{cube_id}/generate", headers=auth,
                    json={"model": "tiny", "prompt": prompt, "max_new_tokens": 8, **body})
    assert r.status_code == 200, r.text
    return r.json()


def blob_files(settings: Settings) -> list[Path]:
    root = settings.home / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_register_an_adapter(client: TestClient, auth: Auth, cube_id: str, settings: Settings,
                             adapter_files: dict[int, Files]) -> None:
    config, weights = adapter_files[1]
    adapter = register(client, cube_id, auth, adapter_files[1], name="alice")
    assert (adapter["state"], adapter["version"], adapter["source"], adapter["model"]) == ("ready", 1, "upload", "tiny")
    assert adapter["blob_sha256"] == hashlib.sha256(weights).hexdigest()
    assert (adapter["rank"], adapter["alpha"], adapter["target_modules"]) == (4, 8.0, ["q_proj", "v_proj"])
    assert adapter["bytes"] == len(weights)
    assert adapter["params"] > 0
    assert [p.name for p in blob_files(settings)] == [adapter["blob_sha256"]]

    memory = client.get(f"/v1/memories/{adapter['id']}", headers=auth).json()
    assert memory["kind"] == "parametric"
    assert memory["provenance"]["actor"].startswith("key:")
    assert memory["metadata"]["fingerprint"] == adapter["fingerprint"]
    listed = client.get(f"/v1/cubes/{cube_id}/adapters", headers=auth).json()["adapters"]
    assert [a["id"] for a in listed] == [adapter["id"]]
    assert client.get(f"/v1/adapters/{adapter['id']}", headers=auth).json()["name"] == "alice"
    # plaintext search never returns an adapter
    found = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "LoRA adapter"}, headers=auth).json()
    assert all(r["memory"]["id"] != adapter["id"] for r in found["results"])


def _corrupt(files: Files) -> Files:
    return files[0], files[1][: len(files[1]) // 2]


def _config(files: Files, **changes: Any) -> Files:
    return json.dumps({**json.loads(files[0]), **changes}).encode(), files[1]


def _tensors(files: Files, change: Any) -> Files:
    tensors = dict(load(files[1]))
    change(tensors)
    return files[0], save(tensors)


def _drop_first(t: dict[str, torch.Tensor]) -> None:
    del t[sorted(t)[0]]


def _widen(t: dict[str, torch.Tensor]) -> None:
    key = next(k for k in sorted(t) if k.endswith("lora_A.weight"))
    t[key] = torch.zeros((t[key].shape[0], t[key].shape[1] + 8))


def _nan(t: dict[str, torch.Tensor]) -> None:
    key = sorted(t)[0]
    t[key] = torch.full_like(t[key], float("nan"))


BAD: dict[str, tuple[Any, int, str]] = {
    "truncated weights": (_corrupt, 422, "invalid_adapter"),
    "config not json": (lambda f: (b"{not json", f[1]), 422, "invalid_adapter"),
    "not lora": (lambda f: _config(f, peft_type="IA3"), 422, "invalid_adapter"),
    "dora": (lambda f: _config(f, use_dora=True), 422, "invalid_adapter"),
    "modules_to_save": (lambda f: _config(f, modules_to_save=["lm_head"]), 422, "invalid_adapter"),
    "unknown target": (lambda f: _config(f, target_modules=["gate_xyz"]), 422, "adapter_mismatch"),
    "other targets": (lambda f: _config(f, target_modules=["k_proj", "o_proj"]), 422, "adapter_mismatch"),
    "rank differs": (lambda f: _config(f, r=8), 422, "adapter_mismatch"),
    "missing tensor": (lambda f: _tensors(f, _drop_first), 422, "adapter_mismatch"),
    "wrong shape": (lambda f: _tensors(f, _widen), 422, "adapter_mismatch"),
    "nan weights": (lambda f: _tensors(f, _nan), 422, "invalid_adapter"),
    "empty weights": (lambda f: (f[0], b""), 422, "invalid_adapter"),
    "rank not a number": (lambda f: _config(f, r="eight"), 422, "invalid_adapter"),
    "bad target regex": (lambda f: _config(f, target_modules="(("), 422, "invalid_adapter"),
    "no targets": (lambda f: _config(f, target_modules=None), 422, "invalid_adapter"),
    "config nested deep": (lambda f: (b"[" * 100_000 + b"]" * 100_000, f[1]), 422, "invalid_adapter"),
    "pissa init": (lambda f: _config(f, init_lora_weights="pissa"), 422, "invalid_adapter"),
    "rank pattern unlike the weights": (lambda f: _config(f, rank_pattern={"q_proj": 2}), 422, "adapter_mismatch"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_uploads_are_refused_and_leave_nothing(client: TestClient, auth: Auth, cube_id: str, settings: Settings,
                                                   adapter_files: dict[int, Files], case: str) -> None:
    change, status, error = BAD[case]
    r = upload(client, cube_id, auth, change(adapter_files[1]))
    assert r.status_code == status, r.text
    assert r.json()["error"] == error
    assert client.get(f"/v1/cubes/{cube_id}/adapters", headers=auth).json()["adapters"] == []
    assert blob_files(settings) == []


def test_unknown_model_and_missing_parts(client: TestClient, auth: Auth, cube_id: str,
                                         adapter_files: dict[int, Files]) -> None:
    r = upload(client, cube_id, auth, adapter_files[1], model="nope")
    assert (r.status_code, r.json()["error"]) == (404, "unknown_model")
    r = client.post(f"/v1/cubes/{cube_id}/adapters", data={"model": "tiny"}, headers=auth,
                    files={"config": ("adapter_config.json", adapter_files[1][0], "application/json")})
    assert r.status_code == 422
    assert client.get(f"/v1/cubes/{cube_id}/adapters", headers=auth).json()["adapters"] == []


def test_a_plain_parametric_memory_points_to_the_adapters_route(client: TestClient, auth: Auth, cube_id: str) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", headers=auth,
                    json={"memories": [{"content": "weights", "kind": "parametric"}]})
    assert r.status_code == 422
    assert "/adapters" in r.text


def test_two_adapters_generate_differently(client: TestClient, auth: Auth, cube_id: str,
                                           adapter_files: dict[int, Files]) -> None:
    a = register(client, cube_id, auth, adapter_files[1])
    b = register(client, cube_id, auth, adapter_files[2])
    base = generate(client, cube_id, auth)
    out_a = generate(client, cube_id, auth, adapter_id=a["id"])
    out_b = generate(client, cube_id, auth, adapter_id=b["id"])
    assert len({base["text"], out_a["text"], out_b["text"]}) == 3
    assert (out_a["used"]["adapter_id"], out_a["used"]["adapter_version"]) == (a["id"], 1)
    assert out_a["used"]["batched"] >= 1
    assert base["used"]["adapter_id"] is None
    assert out_a["used"]["adapter_loaded"] is False
    assert out_a["timings"]["adapter_ms"] > 0
    # the same adapter again: the same text (greedy), now from the loaded pool
    again = generate(client, cube_id, auth, adapter_id=a["id"])
    assert again["text"] == out_a["text"]
    assert again["used"]["adapter_loaded"] is True
    (tiny,) = [m for m in client.get("/v1/models", headers=auth).json()["models"] if m["name"] == "tiny"]
    assert tiny["adapters_loaded"] == 2


def test_adapter_with_a_snapshot_and_streamed(client: TestClient, sessions: sessionmaker[Session], ctx: JobContext,
                                              auth: Auth, cube_id: str, adapter_files: dict[int, Files]) -> None:
    a = register(client, cube_id, auth, adapter_files[1])
    r = client.post(f"/v1/cubes/{cube_id}/activations", json={"model": "tiny", "text": "Alice moved to Lyon."},
                    headers=auth)
    assert r.status_code == 202, r.text
    assert run_job(sessions, r.json()["job_id"], ctx) == "succeeded"
    activation_id = r.json()["activation"]["id"]

    plain = generate(client, cube_id, auth, "Where does she live?", activation_id=activation_id)
    both = generate(client, cube_id, auth, "Where does she live?", activation_id=activation_id, adapter_id=a["id"])
    assert both["used"]["activation_id"] == activation_id
    assert both["used"]["adapter_id"] == a["id"]
    assert both["timings"]["cached_tokens"] == plain["timings"]["cached_tokens"] > 0
    assert both["text"] != plain["text"]

    batched = generate(client, cube_id, auth, adapter_id=a["id"])
    r = client.post(f"/v1/cubes/{cube_id}/generate", headers=auth, json={
        "model": "tiny", "prompt": "Alice moved to", "max_new_tokens": 8, "adapter_id": a["id"], "stream": True})
    assert r.status_code == 200, r.text
    done = json.loads(r.text.split("event: done\ndata: ")[1].strip())
    assert done["text"] == batched["text"]  # the batched path and the backend's path agree
    assert done["used"]["adapter_id"] == a["id"]


def test_versions_and_rollback_switch_the_serving_weights(client: TestClient, auth: Auth, cube_id: str,
                                                          adapter_files: dict[int, Files]) -> None:
    a = register(client, cube_id, auth, adapter_files[1])
    first = generate(client, cube_id, auth, adapter_id=a["id"])["text"]
    config, weights = adapter_files[2]
    r = client.post(f"/v1/adapters/{a['id']}/versions", headers=auth,
                    files={"config": ("adapter_config.json", config), "weights": ("w.safetensors", weights)})
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["blob_sha256"]) == (2, hashlib.sha256(weights).hexdigest())
    second = generate(client, cube_id, auth, adapter_id=a["id"])
    assert second["text"] != first
    assert second["used"]["adapter_version"] == 2

    r = client.post(f"/v1/adapters/{a['id']}/rollback", json={"version": 1}, headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["version"], r.json()["blob_sha256"]) == (3, a["blob_sha256"])
    again = generate(client, cube_id, auth, adapter_id=a["id"])
    assert (again["text"], again["used"]["adapter_version"]) == (first, 3)

    history = client.get(f"/v1/memories/{a['id']}/history", headers=auth).json()["versions"]
    assert [v["reason"] for v in history][-3:] == ["uploaded", "uploaded", "rollback to version 1"]
    assert client.post(f"/v1/adapters/{a['id']}/rollback", json={"version": 9}, headers=auth).status_code == 404
    # a bad new version is refused and the adapter stays as it was
    r = client.post(f"/v1/adapters/{a['id']}/versions", headers=auth,
                    files={"config": ("c.json", config), "weights": ("w.safetensors", weights[:100])})
    assert r.status_code == 422
    assert client.get(f"/v1/adapters/{a['id']}", headers=auth).json()["version"] == 3
    # only these routes change an adapter
    r = client.patch(f"/v1/memories/{a['id']}", json={"metadata": {"blob_sha256": "0" * 64}}, headers=auth)
    assert r.status_code == 409
    assert client.post(f"/v1/memories/{a['id']}/rollback", json={"version": 2}, headers=auth).status_code == 409


def test_adapters_stay_in_their_tenant(client: TestClient, auth: Auth, cube_id: str, make_tenant: Any,
                                       adapter_files: dict[int, Files]) -> None:
    a = register(client, cube_id, auth, adapter_files[1])
    _, other = make_tenant("other")
    other_cube = client.post("/v1/cubes", json={"name": "theirs"}, headers=other).json()["id"]
    assert client.get(f"/v1/adapters/{a['id']}", headers=other).status_code == 404
    assert client.get(f"/v1/cubes/{cube_id}/adapters", headers=other).status_code == 404
    r = client.post(f"/v1/cubes/{other_cube}/generate", headers=other,
                    json={"model": "tiny", "prompt": "hi", "adapter_id": a["id"]})
    assert r.status_code == 404
    assert client.post(f"/v1/adapters/{a['id']}/rollback", json={"version": 1}, headers=other).status_code == 404
    assert upload(client, cube_id, other, adapter_files[2]).status_code == 404
    # an adapter of another cube of the same tenant is not this cube's
    mine2 = client.post("/v1/cubes", json={"name": "second"}, headers=auth).json()["id"]
    r = client.post(f"/v1/cubes/{mine2}/generate", headers=auth, json={"model": "tiny", "prompt": "hi",
                                                                       "adapter_id": a["id"]})
    assert r.status_code == 404


def test_training_from_memories(client: TestClient, sessions: sessionmaker[Session], ctx: JobContext, auth: Auth,
                                cube_id: str, tiny: LoadedModel, parametric: Any) -> None:
    from memos.parametric import training

    texts = ["Alice moved to Lyon in May and works as a baker.", "Bob plays the cello every Sunday morning."]
    memories = add(client, cube_id, auth, *texts)
    r = client.post(f"/v1/cubes/{cube_id}/adapters/train", headers=auth,
                    json={"model": "tiny", "memory_ids": [m["id"] for m in memories], "steps": 30, "name": "people"})
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["adapter"]["state"] == "training"
    r = client.post(f"/v1/cubes/{cube_id}/generate", headers=auth,
                    json={"model": "tiny", "prompt": "hi", "adapter_id": accepted["adapter"]["id"]})
    assert (r.status_code, r.json()["error"]) == (409, "adapter_not_ready")

    assert run_job(sessions, accepted["job_id"], ctx) == "succeeded"
    job = get_job(sessions, accepted["job_id"])
    assert job.result is not None
    losses = job.result["losses"]
    assert len(losses) == 30
    assert job.result["final_loss"] < losses[0]
    adapter = client.get(f"/v1/adapters/{accepted['adapter']['id']}", headers=auth).json()
    assert (adapter["state"], adapter["version"], adapter["source"]) == ("ready", 2, "training")
    assert adapter["source_memory_ids"] == [m["id"] for m in memories]
    assert adapter["source_memory_versions"] == [1, 1]
    assert adapter["losses"] == losses
    assert run_job(sessions, accepted["job_id"], ctx) == "succeeded"  # a redelivery writes nothing more
    assert client.get(f"/v1/adapters/{adapter['id']}", headers=auth).json()["version"] == 2

    # measured apart from the job: the adapter lowers the loss on its memories' text, clearly
    ref = parametric.pool.load(tiny, adapter["blob_sha256"], adapter["lora_config"])
    serving = parametric.pool.serving(tiny)
    base = training.text_loss(tiny, texts)
    tuned = training.text_loss(tiny, texts, lambda **kw: serving.forward([ref.name] * len(kw["input_ids"]), **kw))
    assert tuned < base - 1.0, (base, tuned)
    assert generate(client, cube_id, auth, adapter_id=adapter["id"])["used"]["adapter_version"] == 2

    # retraining (other memories, by tag) is the adapter's next version
    tagged = add(client, cube_id, auth, "Carol collects blue stamps.", tags=["carol"])
    r = client.post(f"/v1/cubes/{cube_id}/adapters/train", headers=auth,
                    json={"model": "tiny", "tags": ["carol"], "steps": 5, "adapter_id": adapter["id"]})
    assert r.status_code == 202, r.text
    assert r.json()["adapter"]["state"] == "ready"  # the current weights serve until the new ones are written
    assert run_job(sessions, r.json()["job_id"], ctx) == "succeeded"
    again = client.get(f"/v1/adapters/{adapter['id']}", headers=auth).json()
    assert again["version"] == 3
    assert again["source_memory_ids"] == [tagged[0]["id"]]
    assert again["blob_sha256"] != adapter["blob_sha256"]


def test_training_bad_input(client: TestClient, auth: Auth, cube_id: str, settings: Settings) -> None:
    def train(**body: Any) -> Any:
        return client.post(f"/v1/cubes/{cube_id}/adapters/train", headers=auth, json={"model": "tiny", **body})

    assert train().status_code == 422  # an empty cube: nothing to train on
    add(client, cube_id, auth, "something")
    assert train(model="nope").status_code == 404
    assert train(steps=settings.adapter_train_max_steps + 1).status_code == 422
    assert train(memory_ids=["00000000-0000-0000-0000-000000000000"]).status_code == 404
    assert train(tags=["x"], memory_ids=["00000000-0000-0000-0000-000000000000"]).status_code == 422


def test_other_rank_and_modules(client: TestClient, auth: Auth, cube_id: str, tiny: LoadedModel,
                                tmp_path: Path) -> None:
    files = peft_adapter(tiny, tmp_path, seed=3, r=2, targets=("k_proj", "o_proj", "down_proj"))
    a = register(client, cube_id, auth, files)
    assert a["target_modules"] == ["down_proj", "k_proj", "o_proj"]
    assert a["rank"] == 2
    assert generate(client, cube_id, auth, adapter_id=a["id"])["used"]["adapter_id"] == a["id"]
