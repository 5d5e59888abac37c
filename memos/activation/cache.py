"""Snapshots kept in memory under a byte budget, loaded from the blob store on a miss.

This is the one place snapshots move between disk and memory, so the tier scheduler can drive it: ``get``
promotes (disk -> memory), ``open`` promotes too but hands out a ``StreamedSnapshot`` at once, whose layers
arrive while the caller's prefill runs (``memos.activation.stream``), ``evict`` demotes, ``resident`` reports
what is held and its size. Within the budget the least recently used snapshot goes first. A snapshot larger
than the whole budget is served but not kept.

Snapshots handed out are shared between callers and must not be modified; generation never does, since it
works on a copy (``memos.activation.kv.to_cache``). One instance per process, on the app or worker state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from memcube.blobs import BlobStore
from memos.activation.errors import SnapshotNotFound
from memos.activation.kv import KVSnapshot
from memos.activation.stream import StreamedSnapshot


@dataclass
class CacheStats:
    """Counters since start: how often ``get`` was served from memory, and what loading cost."""

    hits: int = 0
    misses: int = 0
    evictions: int = 0
    bytes_loaded: int = 0


class SnapshotCache:
    """Deserialized snapshots by blob sha256, least recently used evicted beyond ``max_bytes``; thread-safe."""

    def __init__(self, blobs: BlobStore, *, max_bytes: int, device: str = "cpu") -> None:
        self.blobs = blobs
        self.max_bytes = max_bytes
        # Where held snapshots live: "cpu" (the CPU tier), or a GPU ("cuda") so requests skip the copy to it.
        self.device = device
        self.stats = CacheStats()
        self._held: OrderedDict[str, KVSnapshot] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._streams: dict[str, StreamedSnapshot] = {}  # being read from disk

    def get(self, sha256: str) -> KVSnapshot:
        """The snapshot stored as blob ``sha256``: from memory (warm) or read from disk (cold) and kept.
        ``SnapshotNotFound`` if the blob is missing; ``InvalidSnapshot`` if it is not a snapshot."""
        got = self.open(sha256)
        return got if isinstance(got, KVSnapshot) else got.snapshot()

    def open(self, sha256: str) -> KVSnapshot | StreamedSnapshot:
        """The snapshot from memory, or, on a miss, a ``StreamedSnapshot`` whose layers a background thread is
        reading from disk (kept here once complete). Requests for a snapshot being read share that read.
        ``SnapshotNotFound`` if the blob is missing; ``InvalidSnapshot`` if its header is not a snapshot's
        (a file that breaks off later fails whoever waits for the missing layers)."""
        with self._lock:
            if (found := self._touch(sha256) or self._streams.get(sha256)) is not None:
                self.stats.hits += 1
                return found
            gate = self._loading.setdefault(sha256, threading.Lock())
        with gate:  # two requests for one cold snapshot read it once
            with self._lock:
                if (found := self._touch(sha256) or self._streams.get(sha256)) is not None:
                    self.stats.hits += 1
                    return found
                self.stats.misses += 1
            try:
                path = self.blobs.path(sha256)
                try:
                    stream = StreamedSnapshot(str(path), device=self.device,
                                              on_done=lambda snap: self._finished(sha256, stream, snap))
                except FileNotFoundError:
                    raise SnapshotNotFound(f"no snapshot blob {sha256}") from None
                with self._lock:
                    self._streams[sha256] = stream
                return stream.start()
            finally:
                with self._lock:
                    self._loading.pop(sha256, None)

    def _finished(self, sha256: str, stream: StreamedSnapshot, snap: KVSnapshot | None) -> None:
        """Called by a stream's reader thread: keep the snapshot unless it was evicted meanwhile."""
        with self._lock:
            if self._streams.get(sha256) is not stream:
                return
            del self._streams[sha256]
            if snap is not None:
                self.stats.bytes_loaded += snap.nbytes
        if snap is not None:
            self.put(sha256, snap)

    def put(self, sha256: str, snap: KVSnapshot) -> None:
        """Hold ``snap`` as blob ``sha256`` (e.g. right after creating it), evicting others to fit."""
        snap = snap.to(self.device)
        size = snap.nbytes
        with self._lock:
            if sha256 in self._held:
                self._held.move_to_end(sha256)
                return
            if size > self.max_bytes:
                return
            self._held[sha256] = snap
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._held.popitem(last=False)
                self._bytes -= dropped.nbytes
                self.stats.evictions += 1

    def evict(self, sha256: str) -> None:
        """Drop the snapshot from memory (its blob stays on disk); one being read is not kept when done."""
        with self._lock:
            self._streams.pop(sha256, None)
            dropped = self._held.pop(sha256, None)
            if dropped is not None:
                self._bytes -= dropped.nbytes
                self.stats.evictions += 1

    def resident(self) -> dict[str, int]:
        """sha256 -> bytes of every snapshot in memory, least recently used first."""
        with self._lock:
            return {sha: snap.nbytes for sha, snap in self._held.items()}

    @property
    def used_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def _touch(self, sha256: str) -> KVSnapshot | None:
        snap = self._held.get(sha256)
        if snap is not None:
            self._held.move_to_end(sha256)
        return snap
