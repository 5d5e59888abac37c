"""The adapter pool and mixed-adapter batches, on the tiny model and real blobs: load on demand, eviction by
count and by bytes, pinning, the load/unload interface, the registry's model left untouched, batched rows
equal to the same rows generated alone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from torch import nn

from memcube.blobs import BlobStore
from memos.activation.backend import TransformersBackend
from memos.activation.models import LoadedModel
from memos.parametric import lora
from memos.parametric.batcher import BASE, MixedBatcher, generate_batch
from memos.parametric.errors import AdapterNotFound
from memos.parametric.pool import AdapterPool
from tests.parametric.conftest import Stored, store_adapters


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.fixture
def stored(tiny: LoadedModel, tmp_path: Path, blobs: BlobStore) -> list[Stored]:
    """Three adapters in the blob store, read and checked as the API does."""
    return store_adapters(tiny, tmp_path, blobs, (1, 2, 3))


def shas(pool: AdapterPool) -> list[str]:
    return [r.sha256 for r in pool.resident()]


def test_loads_on_demand_and_evicts_past_the_count(tiny: LoadedModel, blobs: BlobStore, stored: list[Stored]) -> None:
    pool = AdapterPool(blobs, max_count=2, max_bytes=1 << 40)
    (a, ca, size), (b, cb, _), (c, cc, _) = stored
    assert pool.load(tiny, a, ca).bytes == size
    pool.load(tiny, b, cb)
    pool.load(tiny, a, ca)  # a hit: a becomes the most recently used
    pool.load(tiny, c, cc)
    assert shas(pool) == [a, c]  # b, least recently used, went
    assert (pool.stats.hits, pool.stats.misses, pool.stats.evictions) == (1, 3, 1)
    assert pool.loaded_bytes == 2 * size
    serving = pool.serving(tiny)
    assert serving is not None
    assert set(serving.peft.peft_config) == {"idle", *(r.name for r in pool.resident())}  # b's layers are gone


def test_evicts_past_the_byte_budget(tiny: LoadedModel, blobs: BlobStore, stored: list[Stored]) -> None:
    size = stored[0][2]
    pool = AdapterPool(blobs, max_count=100, max_bytes=int(size * 1.5))
    for sha, config, _ in stored:
        pool.load(tiny, sha, config)
    assert shas(pool) == [stored[2][0]]
    assert pool.loaded_bytes == size


def test_pinned_adapters_are_never_evicted(tiny: LoadedModel, blobs: BlobStore, stored: list[Stored]) -> None:
    pool = AdapterPool(blobs, max_count=1, max_bytes=1 << 40)
    (a, ca, _), (b, cb, _), _ = stored
    with pool.acquire(tiny, a, ca) as (_, name_a), pool.acquire(tiny, b, cb) as (serving, name_b):
        assert set(shas(pool)) == {a, b}  # over the count while both are in use
        assert not pool.unload("tiny", a)
        ids = torch.tensor([tiny.encode("Alice moved to")] * 2)
        logits = serving.forward([name_a, name_b], input_ids=ids).logits
        assert not torch.allclose(logits[0], logits[1])
    assert len(pool.resident()) == 1  # back under the budget once released
    (left,) = shas(pool)
    assert pool.unload("tiny", left)
    assert not pool.unload("tiny", left)
    assert pool.resident() == []


def test_missing_blob_is_a_not_found(tiny: LoadedModel, blobs: BlobStore, stored: list[Stored]) -> None:
    pool = AdapterPool(blobs, max_count=4, max_bytes=1 << 40)
    with pytest.raises(AdapterNotFound):
        pool.load(tiny, "0" * 64, stored[0][1])
    assert pool.resident() == []


def test_the_registry_model_is_untouched(tiny: LoadedModel, blobs: BlobStore, stored: list[Stored],
                                         backend: TransformersBackend) -> None:
    prompt = tiny.encode("Bob plays the cello")
    before = backend.generate(tiny, prompt, max_new_tokens=6).token_ids
    pool = AdapterPool(blobs, max_count=4, max_bytes=1 << 40)
    for sha, config, _ in stored:
        pool.load(tiny, sha, config)
    assert all(type(m) is nn.Linear for m in tiny.model.modules() if isinstance(m, nn.Linear))
    assert backend.generate(tiny, prompt, max_new_tokens=6).token_ids == before
    serving = pool.serving(tiny)
    assert serving is not None
    shared = dict(serving.peft.base_model.model.named_parameters())
    weight = tiny.model.get_parameter("model.layers.0.mlp.up_proj.weight")
    assert shared["model.layers.0.mlp.up_proj.weight"] is weight  # one copy of the base weights
    (row,) = generate_batch(serving, [BASE], [prompt], [6])
    assert row.token_ids == before  # "__base__" rows are the base model


def test_mixed_batches_equal_one_at_a_time(tiny: LoadedModel, blobs: BlobStore, stored: list[Stored]) -> None:
    pool = AdapterPool(blobs, max_count=8, max_bytes=1 << 40)
    names = [pool.load(tiny, sha, config).name for sha, config, _ in stored]
    serving = pool.serving(tiny)
    assert serving is not None
    prompts = [tiny.encode(t) for t in ("Alice moved to", "The capital of Peru is a city by the sea", "Hi")]
    adapters = [names[0], names[1], names[2], BASE, names[0]]
    rows = [prompts[0], prompts[1], prompts[2], prompts[1], prompts[2]]
    lengths = [8, 5, 8, 8, 3]
    batched = generate_batch(serving, adapters, rows, lengths)
    alone = [generate_batch(serving, [a], [r], [n])[0] for a, r, n in zip(adapters, rows, lengths, strict=True)]
    assert [b.token_ids for b in batched] == [a.token_ids for a in alone]
    assert [len(b.token_ids) for b in batched] == [min(n, len(a.token_ids)) for n, a in zip(lengths, alone,
                                                                                            strict=True)]
    assert {b.batch_size for b in batched} == {5}
    assert batched[0].token_ids != batched[1].token_ids


def test_the_batcher_serves_concurrent_requests_together(tiny: LoadedModel, blobs: BlobStore,
                                                         stored: list[Stored]) -> None:
    pool = AdapterPool(blobs, max_count=8, max_bytes=1 << 40)
    names = [pool.load(tiny, sha, config).name for sha, config, _ in stored]
    serving = pool.serving(tiny)
    assert serving is not None
    batcher = MixedBatcher(max_batch=8, wait_ms=200)  # generous: the test's threads start one by one
    prompt = tiny.encode("Alice moved to")
    expected = {n: generate_batch(serving, [n], [prompt], [6])[0].token_ids for n in names}
    results: dict[int, list[int]] = {}
    gate = threading.Barrier(6)

    def ask(i: int) -> None:
        gate.wait()
        results[i] = batcher.submit(serving, names[i % 3], prompt, 6).result(timeout=60).token_ids

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: expected[names[i % 3]] for i in range(6)}
    assert batcher.rows == 6
    assert batcher.batches < 6  # some requests shared a batch


def _reference_logits(lm: LoadedModel, directory: Path, ids: torch.Tensor) -> torch.Tensor:
    """The adapter as PEFT itself loads a saved one (PeftModel.from_pretrained on a fresh copy)."""
    from peft import PeftModel

    from memos.parametric.pool import shared_copy

    model = PeftModel.from_pretrained(shared_copy(lm.model), str(directory))  # type: ignore[arg-type]
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits  # type: ignore[no-any-return]


def test_loaded_adapters_compute_what_peft_computes(tiny: LoadedModel, tmp_path: Path, blobs: BlobStore) -> None:
    from peft import LoraConfig, get_peft_model

    from memos.activation.models import fingerprint
    from memos.parametric.pool import shared_copy

    ids = torch.tensor([tiny.encode("Alice moved to Lyon in May")])
    pool = AdapterPool(blobs, max_count=8, max_bytes=1 << 40)
    specs = {  # the first goes through PEFT's add_adapter, the others into the existing LoRA layers
        "plain": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        "patterns": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                               rank_pattern={"q_proj": 2}, alpha_pattern={"v_proj": 3}),
        "gaussian init": LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                    init_lora_weights="gaussian"),
        "other modules": LoraConfig(r=2, lora_alpha=2, target_modules=["o_proj"], init_lora_weights=False),
    }
    for i, (label, config) in enumerate(specs.items()):
        config.task_type = "CAUSAL_LM"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(100 + i)
            model = get_peft_model(shared_copy(tiny.model), config)  # type: ignore[arg-type]
            for p in model.parameters():  # a zero B would hide a wrong scaling: make every adapter act
                if p.requires_grad:
                    p.data.normal_(0, 0.05)
        directory = tmp_path / label.replace(" ", "-")
        model.save_pretrained(str(directory))
        parsed = lora.read((directory / "adapter_config.json").read_bytes(),
                           (directory / "adapter_model.safetensors").read_bytes())
        lora.check_against(parsed, tiny.model, "tiny")
        sha, _ = blobs.put(parsed.weights)
        name = pool.load(tiny, sha, parsed.config).name
        serving = pool.serving(tiny)
        assert serving is not None
        got = serving.forward([name], input_ids=ids).logits
        want = _reference_logits(tiny, directory, ids)
        assert torch.allclose(got, want, atol=1e-5), label
    assert fingerprint(tiny.model, tiny.tokenizer) == tiny.fingerprint  # the shared base weights are untouched
