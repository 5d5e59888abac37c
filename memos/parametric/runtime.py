"""What a process keeps for parametric memory: the activation runtime (models, blob store), the adapter pool
and the mixed-adapter batcher, bounded by their settings. One per API process (on the app's state).

The pool holds its adapters on the activation runtime's tier manager: snapshots and adapters share the tiers'
byte budgets (``MEMOS_TIER_GPU_BYTES``, ``MEMOS_TIER_CPU_BYTES``), one policy ranks them all, and their moves
are one record (docs/scheduler.md)."""

from __future__ import annotations

from dataclasses import dataclass

from memos.activation.runtime import ActivationRuntime
from memos.parametric.batcher import MixedBatcher
from memos.parametric.pool import AdapterPool


@dataclass
class ParametricRuntime:
    activation: ActivationRuntime
    pool: AdapterPool
    batcher: MixedBatcher

    @classmethod
    def over(cls, activation: ActivationRuntime) -> ParametricRuntime:
        """Adapters on ``activation``'s models and blob store, nothing loaded yet."""
        s = activation.settings
        return cls(
            activation=activation,
            pool=AdapterPool(activation.blobs, max_count=s.adapter_pool_max_count, max_bytes=s.adapter_pool_max_bytes,
                             manager=activation.cache.manager),
            batcher=MixedBatcher(max_batch=s.adapter_batch_size, wait_ms=s.adapter_batch_wait_ms),
        )
