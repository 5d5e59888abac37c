"""The snapshot mover under the tier manager: real safetensors blobs, a gpu tier on CUDA where there is one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from memcube.blobs import BlobStore
from memos.activation.errors import SnapshotNotFound
from memos.activation.kv import KVSnapshot, serialize
from memos.scheduler.movers import SnapshotMover
from memos.scheduler.policy import make_policy
from memos.scheduler.tiers import TierManager, TierSpec


def stored(blobs: BlobStore, n_tokens: int, seed: int) -> tuple[str, KVSnapshot]:
    g = torch.Generator().manual_seed(seed)
    keys = [torch.randn(1, 1, n_tokens, 8, generator=g) for _ in range(2)]
    values = [torch.randn(1, 1, n_tokens, 8, generator=g) for _ in range(2)]
    snap = KVSnapshot(list(range(n_tokens)), keys, values, fingerprint="f" * 64, model="fake")
    sha, _ = blobs.put(serialize(snap, model="fake", fingerprint=snap.fingerprint))
    return sha, snap


def test_snapshots_move_from_disk_through_the_tiers_unchanged(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    a, snap_a = stored(blobs, 10, 0)
    b, _ = stored(blobs, 10, 1)
    mover = SnapshotMover(blobs)
    assert mover.stored_bytes(a) == blobs.size(a)
    size = snap_a.nbytes
    m = TierManager([TierSpec("gpu", size, "cpu", emulated=True), TierSpec("cpu", size, "cpu")],
                    make_policy("lru", half_life=10), mover)
    got = m.get(a)
    assert torch.equal(got.keys[1], snap_a.keys[1])
    assert got.token_ids == snap_a.token_ids
    m.get(b)  # a goes down to the cpu tier
    assert (m.residency(a), m.residency(b)) == ("cpu", "gpu")
    assert torch.equal(m.get(a).values[0], snap_a.values[0])
    with pytest.raises(SnapshotNotFound):
        m.get("0" * 64)
    assert mover.stored_bytes("0" * 64) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_a_gpu_tier_holds_its_snapshots_in_device_memory(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path)
    a, snap = stored(blobs, 10, 0)
    b, _ = stored(blobs, 10, 1)
    m = TierManager([TierSpec("gpu", snap.nbytes, "cuda"), TierSpec("cpu", snap.nbytes, "cpu")],
                    make_policy("heat", half_life=10), SnapshotMover(blobs))
    assert m.get(a).keys[0].is_cuda
    m.get(b)
    assert m.residency(a) == "cpu"
    assert not m._held[a].payload.keys[0].is_cuda  # demoted to host memory
    assert m.get(a).keys[0].is_cuda  # promoted back
