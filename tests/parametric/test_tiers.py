"""Adapters on the payload tiers (the tier manager shared with KV snapshots), on the tiny model and real blobs:
the top tier is the serving model, the next host memory, the last the disk; moves go by the configured policy
and are recorded; an adapter a batch runs with is never moved; snapshots and adapters share the budgets."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

from memcube.blobs import BlobStore
from memos.activation.kv import prefill, serialize
from memos.activation.models import LoadedModel
from memos.parametric import lora
from memos.parametric.batcher import MixedBatcher
from memos.parametric.pool import AdapterPool, adapter_key
from memos.scheduler.movers import PayloadMovers, SnapshotMover
from memos.scheduler.policy import make_policy
from memos.scheduler.tiers import DISK, TierManager, TierSpec
from tests.parametric.conftest import Stored, peft_adapter, store_adapters


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.fixture
def stored(tiny: LoadedModel, tmp_path: Path, blobs: BlobStore) -> list[Stored]:
    """Five adapters in the blob store, read and checked as the API does (all of one size)."""
    return store_adapters(tiny, tmp_path, blobs, range(1, 6))


def tiers(blobs: BlobStore, *, gpu: int, cpu: int, policy: str = "lru") -> TierManager:
    """The manager a serving process builds (gpu emulated on the CPU device above cpu), shared by snapshots."""
    return TierManager([TierSpec("gpu", gpu, "cpu", emulated=True), TierSpec("cpu", cpu, "cpu")],
                       make_policy(policy, half_life=100), PayloadMovers(SnapshotMover(blobs)))


def names_in(pool: AdapterPool, lm: LoadedModel) -> set[str]:
    serving = pool.serving(lm)
    assert serving is not None
    return set(serving.peft.peft_config) - {"idle"}


def logits(pool: AdapterPool, lm: LoadedModel, stored: Stored) -> torch.Tensor:
    sha, config, _ = stored
    ids = torch.tensor([lm.encode("Alice moved to Lyon")])
    with pool.acquire(lm, sha, config) as (serving, name):
        return serving.forward([name], input_ids=ids).logits  # type: ignore[no-any-return]


def test_adapters_move_serving_model_host_memory_disk_and_back_unchanged(
        tiny: LoadedModel, blobs: BlobStore, stored: list[Stored]) -> None:
    size = stored[0][2]
    manager = tiers(blobs, gpu=2 * size, cpu=2 * size)
    pool = AdapterPool(blobs, max_count=64, max_bytes=1 << 40, manager=manager)
    firsts = [logits(pool, tiny, s) for s in stored]
    first = firsts[0]
    where = [pool.residency("tiny", sha) for sha, _, _ in stored]
    assert where == [DISK, "cpu", "cpu", "gpu", "gpu"]  # least recently used furthest down
    assert names_in(pool, tiny) == {r.name for r in pool.resident()}  # only the gpu tier is in the model
    assert len(pool.resident()) == 2
    assert manager.used_bytes("gpu") <= 2 * size
    assert manager.used_bytes("cpu") <= 2 * size
    # Back from disk, and from host memory: the same logits as when first loaded.
    assert torch.equal(logits(pool, tiny, stored[0]), first)
    second = stored[2]  # stored[1] went on to disk to make room for stored[0]
    assert [pool.residency("tiny", sha) for sha, _, _ in stored] == ["gpu", DISK, "cpu", "cpu", "gpu"]
    before = pool.stats.misses
    out = logits(pool, tiny, second)
    assert pool.stats.misses == before + 1
    assert pool.residency("tiny", second[0]) == "gpu"
    assert pool.resident()[-1].sha256 == second[0]
    assert torch.equal(out, firsts[2])  # its own modules put back from host memory
    assert not torch.equal(out, first)
    # The modules of an adapter in host memory are not in the model, and are the ones put back.
    in_host = next(adapter_key("tiny", sha) for sha, _, _ in stored if pool.residency("tiny", sha) == "cpu")
    host = manager._held[in_host].payload
    assert host.layers is not None
    module = next(iter(host.layers.values()))["lora_A"]
    serving = pool.serving(tiny)
    assert serving is not None
    assert all(module is not layer.lora_A[n] for layer in serving.lora_layers for n in layer.lora_A)
    moves = [(e.key, e.source, e.target) for e in manager.events]
    key = adapter_key("tiny", second[0])
    assert (key, DISK, "gpu") in moves
    assert (key, "gpu", "cpu") in moves
    assert (key, "cpu", "gpu") in moves
    assert (adapter_key("tiny", stored[0][0]), "cpu", DISK) in moves


def test_an_adapter_a_batch_runs_with_is_never_moved(tiny: LoadedModel, blobs: BlobStore,
                                                      stored: list[Stored]) -> None:
    size = stored[0][2]
    pool = AdapterPool(blobs, max_count=1, max_bytes=1 << 40, manager=tiers(blobs, gpu=size, cpu=size))
    (a, ca, _), *others = stored
    batcher = MixedBatcher(max_batch=8, wait_ms=1)
    prompt = tiny.encode("Alice moved to")
    with pool.acquire(tiny, a, ca) as (serving, name):
        alone = batcher.submit(serving, name, prompt, 6).result(timeout=60).token_ids
    started, release = threading.Event(), threading.Event()
    result: list[list[int]] = []

    def in_flight() -> None:
        with pool.acquire(tiny, a, ca) as (serving, name):
            started.set()
            release.wait(timeout=60)
            result.append(batcher.submit(serving, name, prompt, 6).result(timeout=60).token_ids)

    thread = threading.Thread(target=in_flight)
    thread.start()
    assert started.wait(timeout=60)
    for sha, config, _ in others:  # each pushes the tiers past their budgets and the pool past its count
        pool.load(tiny, sha, config)
        assert pool.residency("tiny", a) == "gpu"
        assert pool.is_loaded("tiny", a)
    assert not pool.unload("tiny", a)
    assert not pool.manager.demote(adapter_key("tiny", a))
    release.set()
    thread.join()
    assert result == [alone]  # its weights were all there for the whole batch
    # Released: the budgets hold again.
    assert pool.manager.used_bytes("gpu") <= size
    assert pool.manager.used_bytes("cpu") <= size
    assert len(pool.resident()) == 1


def test_the_count_cap_sends_adapters_to_host_memory_not_to_disk(tiny: LoadedModel, blobs: BlobStore,
                                                                 stored: list[Stored]) -> None:
    pool = AdapterPool(blobs, max_count=2, max_bytes=1 << 40, manager=tiers(blobs, gpu=1 << 30, cpu=1 << 30))
    for sha, config, _ in stored:
        pool.load(tiny, sha, config)
    assert [pool.residency("tiny", sha) for sha, _, _ in stored] == ["cpu", "cpu", "cpu", "gpu", "gpu"]
    assert len(names_in(pool, tiny)) == 2
    assert pool.stats.evictions == 3


def test_the_configured_policy_chooses_what_goes_down(tiny: LoadedModel, blobs: BlobStore,
                                                      stored: list[Stored]) -> None:
    """The same requests under LRU and LFU: an adapter asked for often stays in the serving model under LFU,
    and goes down under LRU once two others were asked for after it."""
    size = stored[0][2]
    (hot, ch, _), (b, cb, _), (c, cc, _) = stored[:3]
    where = {}
    for policy in ("lru", "lfu"):
        pool = AdapterPool(blobs, max_count=64, max_bytes=1 << 40,
                           manager=tiers(blobs, gpu=2 * size, cpu=4 * size, policy=policy))
        for _ in range(5):
            pool.load(tiny, hot, ch)
        pool.load(tiny, b, cb)
        pool.load(tiny, c, cc)
        where[policy] = pool.residency("tiny", hot)
    assert where == {"lru": "cpu", "lfu": "gpu"}


def test_snapshots_and_adapters_share_the_budgets(tiny: LoadedModel, blobs: BlobStore,
                                                  stored: list[Stored]) -> None:
    snap = prefill(tiny, tiny.encode("Alice moved to Lyon in May. " * 4))
    snap_sha, _ = blobs.put(serialize(snap, model="tiny", fingerprint=tiny.fingerprint))
    size = stored[0][2]
    manager = tiers(blobs, gpu=snap.nbytes + size, cpu=4 * size)
    pool = AdapterPool(blobs, max_count=64, max_bytes=1 << 40, manager=manager)
    sha, config, _ = stored[0]
    pool.load(tiny, sha, config)
    manager.get(snap_sha)  # the snapshot and the adapter fill the gpu tier together
    assert (manager.residency(snap_sha), pool.residency("tiny", sha)) == ("gpu", "gpu")
    pool.load(tiny, sha, config)  # the snapshot is now the least recently used
    pool.load(tiny, *stored[1][:2])  # one more adapter: the snapshot goes down to make room
    assert manager.residency(snap_sha) == "cpu"
    assert manager.used_bytes("gpu") <= snap.nbytes + size
    assert {k for k, (tier, _) in manager.resident().items() if tier == "gpu"} == {
        adapter_key("tiny", sha), adapter_key("tiny", stored[1][0])}


def test_a_pinned_adapter_stays_in_memory(tiny: LoadedModel, blobs: BlobStore, stored: list[Stored]) -> None:
    size = stored[0][2]
    pool = AdapterPool(blobs, max_count=64, max_bytes=1 << 40, manager=tiers(blobs, gpu=size, cpu=size))
    (a, ca, _), *others = stored
    pool.pin(tiny, a, ca)
    assert pool.is_pinned("tiny", a)
    assert pool.residency("tiny", a) == "gpu"
    for sha, config, _ in others:
        pool.load(tiny, sha, config)
        assert pool.residency("tiny", a) != DISK  # it may go to host memory, never to disk
    with pytest.raises(ValueError, match="budgets"):
        pool.pin(tiny, others[0][0], others[0][1])  # two would not fit the memory tiers together
    pool.unpin("tiny", a)
    for sha, config, _ in others:
        pool.load(tiny, sha, config)
    assert pool.residency("tiny", a) == DISK


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_on_cuda_the_gpu_tier_is_device_memory_and_the_cpu_tier_host_memory(tmp_path: Path) -> None:
    from memos.activation.models import build_tiny

    lm = build_tiny(device="cuda")
    blobs = BlobStore(tmp_path / "blobs")
    stored = []
    for seed in (1, 2):
        config, weights = peft_adapter(lm, tmp_path, seed=seed)
        sha, _ = blobs.put(weights)
        stored.append((sha, json.loads(config), lora.nbytes(lora.read(config, weights).tensors)))
    size = stored[0][2]
    manager = TierManager([TierSpec("gpu", size, "cuda"), TierSpec("cpu", size, "cpu")],
                          make_policy("lru", half_life=100), PayloadMovers(SnapshotMover(blobs)))
    pool = AdapterPool(blobs, max_count=8, max_bytes=1 << 40, manager=manager)
    first = logits(pool, lm, stored[0])
    assert first.is_cuda
    logits(pool, lm, stored[1])
    held = manager._held[adapter_key(lm.name, stored[0][0])].payload
    assert pool.residency(lm.name, stored[0][0]) == "cpu"
    assert not any(t.is_cuda for t in held.tensors.values())  # demoted to host memory
    assert torch.equal(logits(pool, lm, stored[0]), first)  # promoted back into the serving copy on the GPU
