"""Snapshots: serialization, validation, and never injecting one into another model."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch
from safetensors.torch import save

from memos.activation.backend import TransformersBackend
from memos.activation.errors import FingerprintMismatch, InvalidSnapshot
from memos.activation.kv import (
    FORMAT,
    METADATA_KEY,
    KVSnapshot,
    deserialize,
    prefill,
    serialize,
    tensor_names,
    to_cache,
)
from memos.activation.models import LoadedModel, fingerprint
from memos.errors import InvalidInput

TEXT = "Jon lost his job as a banker and opened a dance studio in the spring."


@pytest.fixture(scope="module")
def snap(tiny: LoadedModel) -> KVSnapshot:
    return prefill(tiny, tiny.encode(TEXT))


def test_a_snapshot_has_the_model_shape_and_its_fingerprint(tiny: LoadedModel, snap: KVSnapshot) -> None:
    config = tiny.model.config
    head_dim = config.hidden_size // config.num_attention_heads
    assert snap.n_tokens == len(tiny.encode(TEXT))
    assert len(snap.keys) == len(snap.values) == config.num_hidden_layers
    assert all(t.shape == (1, config.num_key_value_heads, snap.n_tokens, head_dim) for t in snap.keys + snap.values)
    # 4 layers x keys and values x 2 KV heads x 64 dims x 4 bytes per token
    assert snap.nbytes == snap.n_tokens * 4 * 2 * 2 * 64 * 4 == snap.n_tokens * tiny.kv_bytes_per_token
    assert (snap.fingerprint, snap.model, snap.dtype) == (tiny.fingerprint, "tiny", "float32")


def test_serialization_round_trips_and_is_deterministic(tiny: LoadedModel, snap: KVSnapshot) -> None:
    data = serialize(snap, model=tiny.name, fingerprint=tiny.fingerprint)
    # The same snapshot, serialized again (or computed again), gets the same bytes: the same blob address.
    assert serialize(prefill(tiny, tiny.encode(TEXT)), model=tiny.name, fingerprint=tiny.fingerprint) == data
    restored, meta = deserialize(data)
    assert restored.token_ids == snap.token_ids
    assert all(torch.equal(a, b) for a, b in zip(restored.keys + restored.values, snap.keys + snap.values, strict=True))
    assert (restored.fingerprint, restored.model) == (tiny.fingerprint, tiny.name)
    assert meta["model"] == "tiny"
    assert meta["fingerprint"] == tiny.fingerprint
    assert meta["dtype"] == "float32"
    assert meta["n_tokens"] == str(snap.n_tokens)
    assert meta["format"] == FORMAT == "memos.kv/2"


def test_extras_survive_serialization(tiny: LoadedModel, snap: KVSnapshot) -> None:
    tagged = dataclasses.replace(snap, meta={"chunks": [[0, 5], [5, snap.n_tokens]]})
    restored, _ = deserialize(serialize(tagged, model=tiny.name, fingerprint=tiny.fingerprint))
    assert restored.meta == {"chunks": [[0, 5], [5, snap.n_tokens]]}


def test_bytes_that_are_no_snapshot_are_rejected(tiny: LoadedModel, snap: KVSnapshot) -> None:
    with pytest.raises(InvalidSnapshot):
        deserialize(b"not safetensors at all")
    with pytest.raises(InvalidSnapshot, match="memos.kv"):
        deserialize(save({"w": torch.zeros(2)}))
    data = serialize(snap, model=tiny.name, fingerprint=tiny.fingerprint)
    tensors = {name: t for name, t in zip(["token_ids"], [torch.tensor(snap.token_ids[:-1])], strict=True)}
    meta = json.loads(json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])["__metadata__"][METADATA_KEY])
    for i, (k, v) in enumerate(zip(snap.keys, snap.values, strict=True)):
        k_name, v_name = tensor_names(FORMAT, i)
        tensors[k_name], tensors[v_name] = k, v
    with pytest.raises(InvalidSnapshot, match="inconsistent"):
        deserialize(save(tensors, metadata={METADATA_KEY: json.dumps(meta)}))
    del meta["fingerprint"]
    with pytest.raises(InvalidSnapshot, match="incomplete"):
        deserialize(save(tensors, metadata={METADATA_KEY: json.dumps(meta)}))


def test_a_snapshot_of_another_model_is_never_injected(
    tiny: LoadedModel, snap: KVSnapshot, backend: TransformersBackend
) -> None:
    other_model = copy.deepcopy(tiny.model)
    with torch.no_grad():
        other_model.lm_head.weight.mul_(1.01)
    other = dataclasses.replace(tiny, model=other_model, fingerprint=fingerprint(other_model, tiny.tokenizer))
    ids = tiny.encode(" who opened a studio?")
    with pytest.raises(FingerprintMismatch) as raised:
        backend.generate(other, ids, prefix=snap)
    assert raised.value.status_code == 409
    assert raised.value.detail["snapshot_fingerprint"] == tiny.fingerprint
    with pytest.raises(FingerprintMismatch):
        to_cache(snap, other)
    with pytest.raises(FingerprintMismatch):
        prefill(other, ids, past=snap)
    with pytest.raises(FingerprintMismatch, match="another model"):
        backend.generate(tiny, ids, prefix=dataclasses.replace(snap, fingerprint=""))


def test_generation_limits_are_checked_before_any_work(
    tiny: LoadedModel, snap: KVSnapshot, backend: TransformersBackend
) -> None:
    with pytest.raises(InvalidInput):
        backend.generate(tiny, [], max_new_tokens=4)
    with pytest.raises(InvalidInput):
        backend.generate(tiny, tiny.encode("hi"), max_new_tokens=0)
    with pytest.raises(InvalidInput, match="positions"):
        backend.generate(tiny, tiny.encode("hi"), prefix=snap, max_new_tokens=tiny.max_positions)
    with pytest.raises(InvalidInput):
        prefill(tiny, [])


def test_a_snapshot_moves_between_devices_without_changing(snap: KVSnapshot) -> None:
    assert snap.to("cpu") is snap
    if torch.cuda.is_available():
        moved = snap.to("cuda")
        assert moved.device.startswith("cuda")
        assert moved.to("cpu").keys[0].equal(snap.keys[0])
