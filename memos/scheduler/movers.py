"""How the tier manager reads and moves each kind of payload (``memos.scheduler.tiers.PayloadMover``)."""

from __future__ import annotations

from typing import Any

from memcube.blobs import BlobNotFound, BlobStore
from memos.activation.errors import SnapshotNotFound
from memos.activation.kv import KVSnapshot, deserialize_file


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

    def move(self, payload: Any, device: str) -> KVSnapshot:
        assert isinstance(payload, KVSnapshot)
        return payload.to(device)

    def nbytes(self, payload: Any) -> int:
        assert isinstance(payload, KVSnapshot)
        return payload.nbytes

    def stored_bytes(self, key: str) -> int | None:
        try:
            return self.blobs.size(key)
        except BlobNotFound:
            return None
