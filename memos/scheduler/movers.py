"""How the tier manager reads and moves each kind of payload (``memos.scheduler.tiers.PayloadMover``).

One manager holds every payload of a serving process, so snapshots and adapters share the tiers' budgets;
``PayloadMovers`` sends each key to the mover of its kind: a KV snapshot's key is its blob's sha256, an
adapter's starts with ``lora/`` (``memos.parametric.pool.adapter_key``), whose mover the adapter pool adds.
"""

from __future__ import annotations

from typing import Any

from memcube.blobs import BlobNotFound, BlobStore
from memos.activation.errors import SnapshotNotFound
from memos.activation.kv import KVSnapshot, deserialize_file
from memos.scheduler.tiers import PayloadMover, TierSpec


class SnapshotMover:
    """KV snapshots: safetensors blobs on disk, ``KVSnapshot`` tensors on a device in memory."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs

    def load(self, key: str, device: str) -> KVSnapshot:
        path = self.blobs.path(key)
        if not path.is_file():
            raise SnapshotNotFound(f"no snapshot blob {key}")
        snap, _ = deserialize_file(str(path))
        return snap.to(device)

    def move(self, key: str, payload: Any, tier: TierSpec) -> KVSnapshot:
        assert isinstance(payload, KVSnapshot)
        return payload.to(tier.device)

    def nbytes(self, key: str, payload: Any) -> int:
        assert isinstance(payload, KVSnapshot)
        return payload.nbytes

    def stored_bytes(self, key: str) -> int | None:
        try:
            return self.blobs.size(key)
        except BlobNotFound:
            return None

    def drop(self, key: str, payload: Any) -> None:
        return None  # the tensors go with the last reference


class PayloadMovers:
    """The mover of a manager that holds several kinds of payload: keys starting with a registered prefix go to
    that prefix's mover, every other key to ``default``."""

    def __init__(self, default: PayloadMover) -> None:
        self.default = default
        self._by_prefix: dict[str, PayloadMover] = {}

    def add(self, prefix: str, mover: PayloadMover) -> None:
        """Send keys starting with ``prefix`` to ``mover`` (a later ``add`` of the same prefix replaces it)."""
        self._by_prefix[prefix] = mover

    def kind(self, key: str) -> PayloadMover:
        for prefix, mover in self._by_prefix.items():
            if key.startswith(prefix):
                return mover
        return self.default

    def load(self, key: str, device: str) -> Any:
        return self.kind(key).load(key, device)

    def move(self, key: str, payload: Any, tier: TierSpec) -> Any:
        return self.kind(key).move(key, payload, tier)

    def nbytes(self, key: str, payload: Any) -> int:
        return self.kind(key).nbytes(key, payload)

    def stored_bytes(self, key: str) -> int | None:
        return self.kind(key).stored_bytes(key)

    def drop(self, key: str, payload: Any) -> None:
        self.kind(key).drop(key, payload)
