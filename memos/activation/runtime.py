"""What a process keeps for activation memory: the model registry, the generation backend, the blob store
and the snapshot cache, each bounded by its setting (``MEMOS_MAX_LOADED_MODELS``,
``MEMOS_TIER_GPU_BYTES`` + ``MEMOS_TIER_CPU_BYTES``). One per process: on the API's state, in a worker's
``JobContext``."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from memcube.blobs import BlobStore
from memos.activation.backend import TransformersBackend
from memos.activation.cache import SnapshotCache
from memos.activation.models import ModelRegistry
from memos.config import Settings

_RESOURCE = "activation"
_lock = threading.Lock()


@dataclass
class ActivationRuntime:
    settings: Settings
    registry: ModelRegistry
    backend: TransformersBackend
    blobs: BlobStore
    cache: SnapshotCache

    @classmethod
    def from_settings(cls, settings: Settings) -> ActivationRuntime:
        """Nothing is loaded yet: models on first use, snapshots from the blob store under ``MEMOS_HOME``."""
        blobs = BlobStore(blob_root(settings))
        return cls(
            settings=settings,
            registry=ModelRegistry(settings),
            backend=TransformersBackend(),
            blobs=blobs,
            cache=SnapshotCache.from_settings(blobs, settings),
        )


def blob_root(settings: Settings) -> Any:
    return settings.home / "blobs"


def runtime_in(resources: dict[str, Any], settings: Settings) -> ActivationRuntime:
    """The runtime kept in ``resources`` (a worker's ``JobContext.resources``), made on first use."""
    with _lock:
        runtime = resources.get(_RESOURCE)
        if runtime is None:
            runtime = resources[_RESOURCE] = ActivationRuntime.from_settings(settings)
        assert isinstance(runtime, ActivationRuntime)
        return runtime
