"""Snapshots kept in memory tiers under byte budgets, loaded from the blob store on a miss.

This is the one place snapshots move between disk and memory. Residency, budgets, the ranking of what goes
first and the record of every move belong to the tier manager (``memos.scheduler.tiers``) the cache is built
on; the cache adds what is special to snapshots: ``open`` hands out a ``StreamedSnapshot`` at once on a miss,
whose layers arrive while the caller's prefill runs (``memos.activation.stream``), and requests for a snapshot
being read share that read. ``get`` returns the whole snapshot, ``put`` holds one just made, ``evict`` drops one
to disk, ``resident`` reports what is held. A snapshot larger than every tier is served but not kept.

``SnapshotCache(blobs, max_bytes=..., device=...)`` is one tier under LRU (what tests and tools want); the
service builds its cache from the tier settings (``from_settings``: a ``gpu`` tier, emulated on the CPU without
CUDA, above a ``cpu`` tier, ranked by ``MEMOS_TIER_POLICY``).

Snapshots handed out are shared between callers and must not be modified; generation never does, since it
works on a copy (``memos.activation.kv.to_cache``). One instance per process, on the app or worker state.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from memcube.blobs import BlobStore
from memos.activation.errors import SnapshotNotFound
from memos.activation.kv import KVSnapshot
from memos.activation.stream import StreamedSnapshot
from memos.config import Settings
from memos.scheduler.movers import PayloadMovers, SnapshotMover
from memos.scheduler.policy import LRU, make_policy
from memos.scheduler.tiers import TierManager, TierSpec


@dataclass
class CacheStats:
    """Counters since start: how often a read was served from memory, and what loading cost."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    bytes_loaded: int = 0


def tier_specs(settings: Settings) -> list[TierSpec]:
    """The memory tiers of a serving process: ``gpu`` (CUDA memory, or a budget on the CPU without CUDA, which
    the status says) above ``cpu``; a tier with a budget of 0 is left out."""
    from memos.activation.models import resolve_device

    device = resolve_device(settings.activation_device)
    tiers = []
    if settings.tier_gpu_bytes > 0:
        tiers.append(TierSpec("gpu", settings.tier_gpu_bytes, "cuda" if device == "cuda" else "cpu",
                              emulated=device != "cuda"))
    if settings.tier_cpu_bytes > 0 or not tiers:
        tiers.append(TierSpec("cpu", settings.tier_cpu_bytes, "cpu"))
    return tiers


class SnapshotCache:
    """Deserialized snapshots by blob sha256, held in the tiers of a ``TierManager``; thread-safe."""

    def __init__(self, blobs: BlobStore, *, max_bytes: int = 0, device: str = "cpu",
                 manager: TierManager | None = None) -> None:
        self.blobs = blobs
        self.manager = manager or TierManager(
            [TierSpec("gpu" if device != "cpu" else "cpu", max_bytes, device)], LRU(),
            PayloadMovers(SnapshotMover(blobs)))
        self._stats = CacheStats()
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._streams: dict[str, StreamedSnapshot] = {}  # being read from disk

    @classmethod
    def from_settings(cls, blobs: BlobStore, settings: Settings) -> SnapshotCache:
        manager = TierManager(tier_specs(settings),
                              make_policy(settings.tier_policy, half_life=settings.tier_half_life,
                                          horizon=settings.tier_horizon, objective=settings.tier_objective),
                              PayloadMovers(SnapshotMover(blobs)), clock=_RequestClock())
        return cls(blobs, manager=manager)

    @property
    def max_bytes(self) -> int:
        return sum(t.budget for t in self.manager.tiers)

    @property
    def device(self) -> str:
        """Where the fastest tier holds snapshots: requests read them from there."""
        return self.manager.tiers[0].device

    @property
    def stats(self) -> CacheStats:
        c = self.manager.counters
        last = self.manager.tiers[-1].name
        with self._lock:
            return CacheStats(hits=self._stats.hits, misses=self._stats.misses,
                              evictions=c.per_tier[last].demotions + self.manager.evictions,
                              bytes_loaded=self._stats.bytes_loaded)

    def get(self, sha256: str) -> KVSnapshot:
        """The snapshot stored as blob ``sha256``: from memory (warm) or read from disk (cold) and kept.
        ``SnapshotNotFound`` if the blob is missing; ``InvalidSnapshot`` if it is not a snapshot."""
        got = self.open(sha256)
        return got if isinstance(got, KVSnapshot) else got.snapshot()

    def open(self, sha256: str) -> KVSnapshot | StreamedSnapshot:
        """The snapshot from memory, or, on a miss, a ``StreamedSnapshot`` whose layers a background thread is
        reading from disk (kept once complete). Requests for a snapshot being read share that read.
        ``SnapshotNotFound`` if the blob is missing; ``InvalidSnapshot`` if its header is not a snapshot's
        (a file that breaks off later fails whoever waits for the missing layers)."""
        if (found := self._warm(sha256)) is not None:
            return found
        with self._lock:
            gate = self._loading.setdefault(sha256, threading.Lock())
        with gate:  # two requests for one cold snapshot read it once
            if (found := self._warm(sha256)) is not None:
                return found
            with self._lock:
                self._stats.misses += 1
            try:
                path = self.blobs.path(sha256)
                began = time.perf_counter()
                try:
                    stream = StreamedSnapshot(
                        str(path), device=self.device,
                        on_done=lambda snap: self._finished(sha256, stream, snap, time.perf_counter() - began))
                except FileNotFoundError:
                    raise SnapshotNotFound(f"no snapshot blob {sha256}") from None
                with self._lock:
                    self._streams[sha256] = stream
                return stream.start()
            finally:
                with self._lock:
                    self._loading.pop(sha256, None)

    def _warm(self, sha256: str) -> KVSnapshot | StreamedSnapshot | None:
        """Held in a tier (promoted to the fastest), or being read: a hit either way."""
        found: KVSnapshot | StreamedSnapshot | None = self.manager.lookup(sha256)
        with self._lock:
            if found is None:
                found = self._streams.get(sha256)
            if found is not None:
                self._stats.hits += 1
        return found

    def _finished(self, sha256: str, stream: StreamedSnapshot, snap: KVSnapshot | None, seconds: float) -> None:
        """Called by a stream's reader thread: keep the snapshot unless it was evicted meanwhile."""
        with self._lock:
            if self._streams.get(sha256) is not stream:
                return
            del self._streams[sha256]
            if snap is not None:
                self._stats.bytes_loaded += snap.nbytes
        if snap is not None:
            self.manager.admit(sha256, snap, load_seconds=seconds)

    def put(self, sha256: str, snap: KVSnapshot) -> None:
        """Hold ``snap`` as blob ``sha256`` (e.g. right after creating it), evicting others to fit."""
        self.manager.admit(sha256, snap, load_seconds=None)

    def evict(self, sha256: str) -> None:
        """Drop the snapshot from memory (its blob stays on disk); one being read is not kept when done."""
        with self._lock:
            self._streams.pop(sha256, None)
        self.manager.evict(sha256)

    def resident(self) -> dict[str, int]:
        """sha256 -> bytes of every snapshot in memory, the first to go first."""
        return {sha: size for sha, (_, size) in self.manager.resident().items()}

    @property
    def used_bytes(self) -> int:
        return self.manager.used_bytes()


class _RequestClock:
    """The policy's clock in the service: one tick per snapshot request, so half-lives are in requests (as in
    ``bench/tiers.py``) whatever the traffic."""

    def __init__(self) -> None:
        self._n = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            self._n += 1.0
            return self._n
