"""SnapshotCache: memory under a byte budget, least recently used out first, disk behind it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from memcube.blobs import BlobStore
from memos.activation.cache import SnapshotCache
from memos.activation.errors import SnapshotNotFound
from memos.activation.kv import KVSnapshot, serialize


def fake_snapshot(n_tokens: int, seed: int) -> KVSnapshot:
    """A 2-layer snapshot of n_tokens (no model needed to test caching): 2 x 2 x 1 x 8 floats per token."""
    g = torch.Generator().manual_seed(seed)
    keys = [torch.randn(1, 1, n_tokens, 8, generator=g) for _ in range(2)]
    values = [torch.randn(1, 1, n_tokens, 8, generator=g) for _ in range(2)]
    return KVSnapshot(list(range(n_tokens)), keys, values, fingerprint="f" * 64, model="fake")


def stored(blobs: BlobStore, n_tokens: int, seed: int) -> tuple[str, KVSnapshot]:
    snap = fake_snapshot(n_tokens, seed)
    sha, _ = blobs.put(serialize(snap, model="fake", fingerprint=snap.fingerprint))
    return sha, snap


def test_get_loads_from_disk_then_serves_from_memory(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha, snap = stored(blobs, 10, 0)
    cache = SnapshotCache(blobs, max_bytes=1 << 20)
    cold = cache.get(sha)
    assert torch.equal(cold.keys[1], snap.keys[1])
    assert cold.token_ids == snap.token_ids
    assert cache.get(sha) is cold
    assert (cache.stats.misses, cache.stats.hits) == (1, 1)
    assert cache.resident() == {sha: snap.nbytes} == {sha: 10 * 4 * 8 * 4}


def test_the_byte_budget_evicts_the_least_recently_used(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    a, b, c = (stored(blobs, 10, seed)[0] for seed in range(3))
    size = 10 * 4 * 8 * 4
    cache = SnapshotCache(blobs, max_bytes=2 * size + size // 2)
    cache.get(a)
    cache.get(b)
    cache.get(a)  # a is used again: b is now the oldest
    cache.get(c)
    assert list(cache.resident()) == [a, c]
    assert cache.used_bytes == 2 * size <= cache.max_bytes
    assert cache.stats.evictions == 1
    cache.get(b)  # back from disk, evicting a
    assert list(cache.resident()) == [c, b]
    cache.evict(c)
    assert list(cache.resident()) == [b]
    assert cache.used_bytes == size


def test_a_snapshot_over_the_whole_budget_is_served_but_not_kept(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    small, _ = stored(blobs, 2, 0)
    big, _ = stored(blobs, 100, 1)
    cache = SnapshotCache(blobs, max_bytes=1000)
    cache.get(small)
    assert cache.get(big).n_tokens == 100
    assert list(cache.resident()) == [small]


def test_a_missing_blob_is_a_404(tmp_path: Path) -> None:
    cache = SnapshotCache(BlobStore(tmp_path), max_bytes=1000)
    with pytest.raises(SnapshotNotFound) as raised:
        cache.get("0" * 64)
    assert raised.value.status_code == 404


def test_concurrent_gets_of_a_cold_snapshot_read_it_once(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha, _ = stored(blobs, 50, 0)
    cache = SnapshotCache(blobs, max_bytes=1 << 20)
    got: list[KVSnapshot] = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(sha))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 6
    assert all(s is got[0] for s in got)
    assert (cache.stats.misses, cache.stats.hits) == (1, 5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_a_gpu_tier_holds_snapshots_on_the_gpu(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    sha, snap = stored(blobs, 10, 0)
    cache = SnapshotCache(blobs, max_bytes=1 << 20, device="cuda")
    assert cache.get(sha).device.startswith("cuda")
    cache.put(sha, snap)
    assert cache.get(sha).keys[0].cpu().equal(snap.keys[0])
