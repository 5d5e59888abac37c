"""Payload tiers of one serving process: memory tiers (``gpu``, ``cpu``) under byte budgets above the disk.

``get`` serves a payload from the fastest tier holding it and promotes it to the top tier; a miss loads it
from disk (the blob store). Whatever no longer fits is demoted one tier down, and out of the last memory tier
to disk, in the order the policy (``memos.scheduler.policy``) ranks the residents. Pinned payloads are never
dropped to disk. ``prefetch`` loads a payload predicted to be used, but only into room the policy would give
it. Every move is counted per tier and kept in a bounded event log; the costs recorded are measured times.

The manager moves bytes through a ``PayloadMover`` (what a payload is, how it is read and moved between tiers),
so activation snapshots and LoRA adapters share one manager and one set of budgets (``memos.scheduler.movers.
PayloadMovers`` sends each key to the mover of its kind). Without CUDA the ``gpu`` tier is a second budget on the
CPU device (``TierSpec.emulated``), which the status says.

``use`` holds a payload in the top tier while a request works with it (an adapter in the serving model while a
batch runs through it): a payload in use is never moved, demoted or dropped, whatever the budgets say, and is
admitted to the top tier even past its budget; the budgets are enforced again when it is released.

Thread-safe: one lock over the bookkeeping; loads and moves run outside it, one at a time per payload.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from memos.scheduler.policy import Policy

DISK = "disk"


class PayloadMover(Protocol):
    """How the manager reads and moves one kind of payload."""

    def load(self, key: str, device: str) -> Any:
        """Read payload ``key`` from disk onto ``device``. Raises if it does not exist."""

    def move(self, key: str, payload: Any, tier: TierSpec) -> Any:
        """The payload as ``tier`` holds it (a copy on its device, or the same object when it is there already).
        Called whenever a payload enters a memory tier, from disk or from another tier."""

    def nbytes(self, key: str, payload: Any) -> int:
        """Bytes the payload holds in memory."""

    def stored_bytes(self, key: str) -> int | None:
        """Size on disk, without reading it (used to decide a prefetch); ``None`` if unknown."""

    def drop(self, key: str, payload: Any) -> None:
        """The manager no longer holds ``payload`` (it went back to disk): release what it occupies outside the
        manager (an adapter's layers in a serving model). Nothing to do for a plain tensor payload."""


class LoadCost:
    """Seconds to load a payload of n bytes from disk, ``fixed + n * per_byte``, fitted to the loads measured
    (least squares over a decayed window), so the policy ranks by a stable estimate rather than one noisy
    timing. ``frozen`` keeps the starting figures (trace replays, for repeatable runs)."""

    def __init__(self, *, fixed: float = 1e-3, per_byte: float = 1e-9, frozen: bool = False,
                 decay: float = 0.98) -> None:
        self.fixed, self.per_byte, self.frozen, self.decay = fixed, per_byte, frozen, decay
        self._n = self._sx = self._sy = self._sxx = self._sxy = 0.0

    def predict(self, nbytes: int) -> float:
        return self.fixed + nbytes * self.per_byte

    def observe(self, nbytes: int, seconds: float) -> None:
        if self.frozen:
            return
        d = self.decay
        x, y = float(nbytes), seconds
        self._n = self._n * d + 1
        self._sx = self._sx * d + x
        self._sy = self._sy * d + y
        self._sxx = self._sxx * d + x * x
        self._sxy = self._sxy * d + x * y
        var = self._n * self._sxx - self._sx * self._sx
        if self._n >= 3 and var > 0:
            slope = (self._n * self._sxy - self._sx * self._sy) / var
            if slope > 0:
                self.per_byte = slope
                self.fixed = max((self._sy - slope * self._sx) / self._n, 0.0)


@dataclass(frozen=True)
class TierSpec:
    """One memory tier: its name, byte budget and the torch device its payloads live on."""

    name: str
    budget: int
    device: str
    emulated: bool = False  # a "gpu" tier on the CPU device because there is no CUDA


@dataclass
class TierCounters:
    hits: int = 0  # requests served from this tier
    promotions: int = 0  # payloads moved into this tier from a slower one (or loaded from disk)
    demotions: int = 0  # payloads moved out of it to a slower one
    bytes_in: int = 0
    bytes_out: int = 0
    seconds_in: float = 0.0  # time spent moving payloads in


@dataclass(frozen=True)
class TierEvent:
    """One move: ``key`` went from tier ``source`` to ``target`` (``disk`` at either end)."""

    at: float  # time.time()
    key: str
    source: str
    target: str
    nbytes: int
    seconds: float
    reason: str  # request | prefetch | budget | pin | evict


@dataclass
class _Resident:
    payload: Any
    tier: int
    nbytes: int
    prefetched: bool = False  # loaded by a prefetch and not used since


@dataclass
class ManagerCounters:
    misses: int = 0  # requests that had to load from disk
    prefetches: int = 0  # payloads loaded ahead of use
    prefetch_hits: int = 0  # requests served by a payload a prefetch brought in
    load_seconds: float = 0.0
    load_bytes: int = 0  # read from disk, by misses and prefetches
    per_tier: dict[str, TierCounters] = field(default_factory=dict)


class TierManager:
    """Residency of payloads across ``tiers`` (fastest first) and disk; see the module docstring."""

    def __init__(
        self,
        tiers: Sequence[TierSpec],
        policy: Policy,
        mover: PayloadMover,
        *,
        clock: Callable[[], float] | None = None,
        max_events: int = 1000,
        load_cost: LoadCost | None = None,
    ) -> None:
        if not tiers:
            raise ValueError("at least one memory tier is needed")
        self.tiers = list(tiers)
        self.policy = policy
        self.mover = mover
        # The policy's clock: by default one tick per request (``get``/``lookup``), so half-lives are counted in
        # requests whatever the traffic; a caller may pass its own (a trace replay, a test).
        self._requests = 0
        self._ticks = clock is None
        self.clock: Callable[[], float] = clock or (lambda: float(self._requests))
        self.evictions = 0  # payloads dropped to disk by ``evict``
        self.counters = ManagerCounters(per_tier={t.name: TierCounters() for t in self.tiers})
        self.events: deque[TierEvent] = deque(maxlen=max_events)
        self._held: dict[str, _Resident] = {}
        self._used = [0] * len(self.tiers)
        self._pinned: set[str] = set()
        self._busy: dict[str, int] = {}  # key -> requests using it now (``use``)
        self.load_cost = load_cost or LoadCost()
        self._lock = threading.Lock()
        self._gates: dict[str, tuple[threading.Lock, int]] = {}  # key -> (gate, waiters)

    # -- requests ------------------------------------------------------------------------------------------

    def get(self, key: str) -> Any:
        """The payload, from the fastest tier holding it (promoted to the top tier) or loaded from disk."""
        self._tick()
        return self._get(key)

    def _get(self, key: str) -> Any:
        with self._gate(key):
            found = self._lookup(key)
            if found is not None:
                return found
            return self._load(key, reason="request")

    @contextmanager
    def use(self, key: str) -> Iterator[Any]:
        """The payload in the top tier (promoted or loaded as ``get`` does), held there until the block ends:
        nothing moves it meanwhile, and it is kept even past the budgets, which hold again once it is released.
        For payloads a request works *in place* (an adapter inside the serving model)."""
        self._tick()
        with self._lock:
            self._busy[key] = self._busy.get(key, 0) + 1
        try:
            yield self._get(key)
        finally:
            with self._lock:
                left = self._busy[key] - 1
                if left:
                    self._busy[key] = left
                else:
                    del self._busy[key]
                if key in self._held:
                    self._enforce_budgets(self.clock(), reason="budget")

    def in_use(self, key: str) -> bool:
        with self._lock:
            return key in self._busy

    def lookup(self, key: str) -> Any | None:
        """The payload if a memory tier holds it (promoted to the top tier, counted as a hit), else ``None``:
        for callers that read the payload from disk themselves (streaming it) and then ``admit`` it."""
        self._tick()
        with self._gate(key):
            return self._lookup(key)

    def admit(self, key: str, payload: Any, *, load_seconds: float | None) -> None:
        """Hold ``payload``, which the caller read from disk in ``load_seconds`` (after a ``lookup`` missed), or
        made here (``None``: no load to count, e.g. a snapshot just built)."""
        with self._gate(key):
            with self._lock:
                if key in self._held:
                    return
            self._place(key, payload, load_seconds or 0.0, reason="request" if load_seconds is not None else "made")

    def _tick(self) -> None:
        if self._ticks:
            with self._lock:
                self._requests += 1

    def _lookup(self, key: str) -> Any | None:
        now = self.clock()
        with self._lock:
            found = self._held.get(key)
            if found is None:
                return None
            self.counters.per_tier[self.tiers[found.tier].name].hits += 1
            if found.prefetched:
                self.counters.prefetch_hits += 1
                found.prefetched = False
            self.policy.touch(key, size=found.nbytes, cost=self.load_cost.predict(found.nbytes), now=now)
            if found.tier == 0:
                return found.payload
            source = found.tier
        return self._promote(key, found, source, reason="request")

    def prefetch(self, key: str, *, weight: float = 1.0) -> bool:
        """Load ``key`` ahead of use if the policy ranks it above what it would displace; True if it is in
        memory afterwards. A payload already held only has its predicted use noted."""
        now = self.clock()
        size = self._known_size(key)
        with self._lock:
            self.policy.hint(key, weight=weight, size=size or 1, cost=self.load_cost.predict(size or 1), now=now)
            if key in self._held:
                return True
            if size is None or not self._worth_loading(key, size, now):
                return False
        with self._gate(key):
            with self._lock:
                if key in self._held:
                    return True
            try:
                self._load(key, reason="prefetch")
            except Exception:
                return False
            return True

    # -- pinning and explicit moves -----------------------------------------------------------------------

    def pin(self, key: str) -> None:
        """Keep ``key`` in memory (loading it now if needed) until ``unpin``. ``ValueError`` if pinned
        payloads would not fit in the memory tiers' budgets together."""
        size = self._known_size(key)
        with self._lock:
            if key in self._pinned:
                return
            pinned = sum(self._held[k].nbytes for k in self._pinned if k in self._held)
            if size is not None and pinned + size > sum(t.budget for t in self.tiers):
                raise ValueError(f"pinning {key} ({size} bytes) would put {pinned + size} bytes beyond the"
                                 f" memory tiers' budgets ({sum(t.budget for t in self.tiers)} bytes)")
            self._pinned.add(key)
        self.get(key)

    def unpin(self, key: str) -> None:
        with self._lock:
            self._pinned.discard(key)
            self._enforce_budgets(self.clock(), reason="budget")

    def evict(self, key: str, *, forget: bool = False) -> bool:
        """Drop ``key`` from memory (its bytes stay on disk), unless a request is using it; ``forget`` also
        drops its access history (the record was deleted). Whether it was in memory and is not now."""
        with self._lock:
            if key in self._busy:
                if forget:
                    self.policy.forget(key)
                return False
            found = self._held.pop(key, None)
            self._pinned.discard(key)
            if found is not None:
                self._used[found.tier] -= found.nbytes
                self.evictions += 1
                self.mover.drop(key, found.payload)
                self._record(key, found.tier, None, found.nbytes, 0.0, "evict")
            if forget:
                self.policy.forget(key)
            elif found is not None:
                self.policy.dropped(key, now=self.clock())
            return found is not None

    def demote(self, key: str) -> bool:
        """Move ``key`` one tier down (out of the last memory tier: to disk), as a full tier would; not while a
        request uses it. Whether it moved."""
        with self._lock:
            found = self._held.get(key)
            if found is None or key in self._busy:
                return False
            if found.tier < len(self.tiers) - 1:
                self._demote(key, found, found.tier, "demote")
                return True
        return self.evict(key)

    def residency(self, key: str) -> str:
        with self._lock:
            found = self._held.get(key)
            return DISK if found is None else self.tiers[found.tier].name

    def is_pinned(self, key: str) -> bool:
        with self._lock:
            return key in self._pinned

    def ranked(self, keys: Sequence[str]) -> list[str]:
        """``keys`` in the order the policy would let them go (the first goes first)."""
        with self._lock:
            now = self.clock()
            return sorted(keys, key=lambda k: self.policy.priority(k, now=now))

    def resident(self) -> dict[str, tuple[str, int]]:
        """key -> (tier, bytes) of every payload in memory, the first the policy would let go first."""
        with self._lock:
            now = self.clock()
            ranked = sorted(self._held.items(), key=lambda kr: self.policy.priority(kr[0], now=now))
            return {k: (self.tiers[r.tier].name, r.nbytes) for k, r in ranked}

    def used_bytes(self, tier: str | None = None) -> int:
        with self._lock:
            if tier is None:
                return sum(self._used)
            return self._used[self._index(tier)]

    def status(self) -> dict[str, Any]:
        """Per tier: budget, bytes used, items, hits, promotions, demotions, bytes moved; the policy; misses."""
        with self._lock:
            tiers = []
            for i, spec in enumerate(self.tiers):
                c = self.counters.per_tier[spec.name]
                tiers.append({
                    "name": spec.name, "device": spec.device, "emulated": spec.emulated,
                    "budget_bytes": spec.budget, "used_bytes": self._used[i],
                    "items": sum(1 for r in self._held.values() if r.tier == i),
                    "pinned": sum(1 for k in self._pinned if k in self._held and self._held[k].tier == i),
                    "hits": c.hits, "promotions": c.promotions, "demotions": c.demotions,
                    "bytes_in": c.bytes_in, "bytes_out": c.bytes_out, "seconds_in": round(c.seconds_in, 6),
                })
            m = self.counters
            return {"policy": self.policy.name, "tiers": tiers, "misses": m.misses, "prefetches": m.prefetches,
                    "prefetch_hits": m.prefetch_hits, "load_bytes": m.load_bytes,
                    "load_seconds": round(m.load_seconds, 6)}

    # -- moves ---------------------------------------------------------------------------------------------

    def _load(self, key: str, *, reason: str) -> Any:
        """Read ``key`` from disk onto the top tier's device and hold it (the caller holds its gate)."""
        t0 = time.perf_counter()
        payload = self.mover.load(key, self.tiers[0].device)
        return self._place(key, payload, time.perf_counter() - t0, reason=reason)

    def _place(self, key: str, payload: Any, seconds: float, *, reason: str) -> Any:
        """Count a load of ``payload`` and put it in the fastest tier it fits (demoting others to make room)."""
        size = self.mover.nbytes(key, payload)
        now = self.clock()
        with self._lock:
            if reason != "made":
                self.load_cost.observe(size, seconds)
                self.counters.load_seconds += seconds
                self.counters.load_bytes += size
            if reason == "prefetch":
                self.counters.prefetches += 1
            else:
                if reason != "made":
                    self.counters.misses += 1
                self.policy.touch(key, size=size, cost=self.load_cost.predict(size), now=now)
            busy = key in self._busy
            target = 0 if busy else self._first_fitting(size)
            if target is None or (key not in self._pinned and not busy and not self._worth_loading(key, size, now)):
                # Larger than every tier, or ranked below everything it would push to disk: served, not kept
                # (admission, as Belady's optimum bypasses a payload whose next use is farthest).
                return payload
            payload = self.mover.move(key, payload, self.tiers[target])  # a no-op where it already is
            self._admit(key, payload, target, size, seconds, source=None, reason=reason,
                        prefetched=reason == "prefetch")
            self._enforce_budgets(now, reason="budget", keep=key)
        return payload

    def _promote(self, key: str, found: _Resident, source: int, *, reason: str) -> Any:
        t0 = time.perf_counter()
        payload = self.mover.move(key, found.payload, self.tiers[0])
        seconds = time.perf_counter() - t0
        with self._lock:
            if self._held.get(key) is not found:  # evicted meanwhile: serve what was moved, keep nothing
                if payload is not found.payload:
                    self.mover.drop(key, payload)
                return payload
            self._used[found.tier] -= found.nbytes
            del self._held[key]
            self._admit(key, payload, 0, found.nbytes, seconds, source=source, reason=reason)
            self._enforce_budgets(self.clock(), reason="budget", keep=key)
        return payload

    def _admit(self, key: str, payload: Any, tier: int, size: int, seconds: float, *, source: int | None,
               reason: str, prefetched: bool = False) -> None:
        old = self._held.pop(key, None)
        if old is not None:  # two loads raced past their gates: keep the newer, count the bytes once
            self._used[old.tier] -= old.nbytes
        self._held[key] = _Resident(payload, tier, size, prefetched)
        self._used[tier] += size
        c = self.counters.per_tier[self.tiers[tier].name]
        c.promotions += 1
        c.bytes_in += size
        c.seconds_in += seconds
        self._record(key, source, tier, size, seconds, reason)

    def _enforce_budgets(self, now: float, *, reason: str, keep: str | None = None) -> None:
        """Demote the lowest-ranked residents of each over-budget tier one tier down; out of the last memory
        tier, to disk. ``keep`` (the payload just served) goes last; pinned payloads never go to disk."""
        for i, spec in enumerate(self.tiers):
            last = i == len(self.tiers) - 1
            while self._used[i] > spec.budget:
                victim = self._victim(i, now, keep=keep, allow_pinned=not last)
                if victim is None:
                    break  # only pinned (or the kept) payloads left: over budget until unpinned
                found = self._held[victim]
                if last:
                    del self._held[victim]
                    self._used[i] -= found.nbytes
                    self.counters.per_tier[spec.name].demotions += 1
                    self.counters.per_tier[spec.name].bytes_out += found.nbytes
                    self.policy.dropped(victim, now=now)
                    self.mover.drop(victim, found.payload)
                    self._record(victim, i, None, found.nbytes, 0.0, reason)
                else:
                    self._demote(victim, found, i, reason)

    def _demote(self, key: str, found: _Resident, tier: int, reason: str) -> None:
        # Under the lock: a device copy of a payload that fits a budget is short, and releasing the lock here
        # would let another request see the tiers over budget.
        t0 = time.perf_counter()
        payload = self.mover.move(key, found.payload, self.tiers[tier + 1])
        seconds = time.perf_counter() - t0
        self._used[tier] -= found.nbytes
        self.counters.per_tier[self.tiers[tier].name].demotions += 1
        self.counters.per_tier[self.tiers[tier].name].bytes_out += found.nbytes
        del self._held[key]
        self._admit(key, payload, tier + 1, found.nbytes, seconds, source=tier, reason=reason,
                    prefetched=found.prefetched)

    def _victim(self, tier: int, now: float, *, keep: str | None, allow_pinned: bool) -> str | None:
        best: tuple[float, str] | None = None
        for key, r in self._held.items():
            if r.tier != tier or key == keep or key in self._busy or (key in self._pinned and not allow_pinned):
                continue
            rank = self.policy.priority(key, now=now)
            if best is None or rank < best[0]:
                best = (rank, key)
        if best is None and keep is not None and keep in self._held and self._held[keep].tier == tier \
                and keep not in self._busy and (allow_pinned or keep not in self._pinned):
            return keep  # it alone overflows the tier: it moves on down
        return None if best is None else best[1]

    def _worth_loading(self, key: str, size: int, now: float) -> bool:
        """A prefetch is worth it if the payload fits in free memory, or outranks the residents it would push
        out of the last memory tier."""
        free = sum(t.budget for t in self.tiers) - sum(self._used)
        if size <= free:
            return True
        rank = self.policy.priority(key, now=now)
        need = size - free
        for other, r in sorted(((k, r) for k, r in self._held.items() if k not in self._pinned and k not in self._busy),
                               key=lambda kr: self.policy.priority(kr[0], now=now)):
            if self.policy.priority(other, now=now) >= rank:
                return False
            need -= r.nbytes
            if need <= 0:
                return True
        return False

    def _first_fitting(self, size: int) -> int | None:
        for i, spec in enumerate(self.tiers):
            if size <= spec.budget:
                return i
        return None

    def _known_size(self, key: str) -> int | None:
        with self._lock:
            found = self._held.get(key)
            if found is not None:
                return found.nbytes
        return self.mover.stored_bytes(key)

    def _record(self, key: str, source: int | None, target: int | None, nbytes: int, seconds: float,
                reason: str) -> None:
        self.events.append(TierEvent(time.time(), key, self._name(source), self._name(target), nbytes, seconds,
                                     reason))

    def _name(self, tier: int | None) -> str:
        return DISK if tier is None else self.tiers[tier].name

    def _index(self, tier: str) -> int:
        for i, spec in enumerate(self.tiers):
            if spec.name == tier:
                return i
        raise KeyError(tier)

    @contextmanager
    def _gate(self, key: str) -> Iterator[None]:
        """One load or promotion of ``key`` at a time; others wait and then find it held."""
        with self._lock:
            gate, waiters = self._gates.get(key, (threading.Lock(), 0))
            self._gates[key] = (gate, waiters + 1)
        try:
            with gate:
                yield
        finally:
            with self._lock:
                gate, waiters = self._gates[key]
                if waiters == 1:
                    del self._gates[key]
                else:
                    self._gates[key] = (gate, waiters - 1)
