"""Which payload a full tier gives up: the replacement policies the tier manager can run, swapped by setting.

A policy sees every access (``touch``) and every drop to disk (``dropped``), and ranks the residents of a tier
(``priority``: the lowest goes first). It never moves bytes itself; ``memos.scheduler.tiers`` does.

* ``lru``: least recently used.
* ``lfu``: least frequently used, counted over the whole history (a payload that was evicted keeps its count,
  "perfect" LFU, the stronger of the two textbook variants), ties broken by recency.
* ``heat`` (ours): priority = F * cost / size, where F is an exponentially decayed access count (LRFU, Lee et
  al. 2001, "LRFU: a spectrum of policies that subsumes LRU and LFU") kept for evicted payloads too and size the
  bytes held: the frequency-per-byte rule of GreedyDual-Size-Frequency (Cherkasova 1998), with the decay doing
  the ageing GDSF's inflation term does. ``cost`` depends on the objective (``MEMOS_TIER_OBJECTIVE``): with
  ``hits`` (the default) every miss costs the same, so the budget goes to the payloads that serve the most
  requests per byte (a request that waits on the disk is what sets tail latency, whatever the payload's size);
  with ``time`` it is the estimated reload time, which minimises the total time spent loading (large payloads
  then weigh as much as their bytes; on a page-cache read, where load time is nearly proportional to size, this
  is frequency alone). (We tried GDSF's
  inflation term on the development trace, seed 0 of ``bench/tiers.py``: 0.756 against 0.832 hit rate on Zipf
  0.8, because it lets recency swamp the frequency of the many lukewarm payloads.) Small, often used,
  expensive-to-reload payloads stay; a scan of one-off payloads carries F = 1 and leaves first; a hot set that
  shifts decays out within a few half-lives. Predicted use (``hint``) adds a short-lived boost: a payload
  announced for the next ``horizon`` requests is worth, for that while, ``weight * half_life / horizon`` uses
  (the rate its announcement implies, in the units of F); the boost decays with a half-life of ``horizon`` and is
  spent by the use it announced, so false announcements do not linger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol


class Policy(Protocol):
    """The interface the tier manager drives. ``now`` is any monotonic clock (seconds in the service,
    access counts in a trace replay); the same unit as the policy's half-life."""

    name: str

    def touch(self, key: str, *, size: int, cost: float, now: float) -> None:
        """``key`` was used (a hit or a miss that loaded it)."""

    def hint(self, key: str, *, weight: float, size: int, cost: float, now: float) -> None:
        """``key`` (``size`` bytes, ``cost`` seconds to load) is predicted to be used soon, with confidence
        ``weight`` in [0, 1]."""

    def dropped(self, key: str, *, now: float) -> None:
        """``key`` left the last memory tier (it is on disk only now)."""

    def priority(self, key: str, *, now: float) -> float:
        """Keep-worthiness of a resident: the lowest is evicted (or demoted) first."""

    def forget(self, key: str) -> None:
        """``key`` no longer exists (its record was deleted): drop its history."""


@dataclass
class _Seen:
    last: float = 0.0
    count: float = 0.0
    boost: float = 0.0  # heat: predicted use not yet seen
    boost_at: float = 0.0
    size: int = 1
    cost: float = 1.0


class LRU:
    """Least recently used first."""

    name = "lru"

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def touch(self, key: str, *, size: int, cost: float, now: float) -> None:
        self._last[key] = now

    def hint(self, key: str, *, weight: float, size: int, cost: float, now: float) -> None:
        return None  # recency knows nothing of the future

    def dropped(self, key: str, *, now: float) -> None:
        self._last.pop(key, None)

    def priority(self, key: str, *, now: float) -> float:
        return self._last.get(key, -math.inf)

    def forget(self, key: str) -> None:
        self._last.pop(key, None)


class LFU:
    """Least frequently used first, counts kept across evictions ("perfect" LFU), ties by recency."""

    name = "lfu"

    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}

    def touch(self, key: str, *, size: int, cost: float, now: float) -> None:
        seen = self._seen.setdefault(key, _Seen())
        seen.count += 1
        seen.last = now

    def hint(self, key: str, *, weight: float, size: int, cost: float, now: float) -> None:
        return None

    def dropped(self, key: str, *, now: float) -> None:
        return None  # the count outlives residency: that is what makes it "perfect"

    def priority(self, key: str, *, now: float) -> float:
        seen = self._seen.get(key)
        if seen is None:
            return -math.inf
        # The count dominates; recency (scaled into (0, 1)) only breaks ties.
        return seen.count + (1.0 - 1.0 / (2.0 + max(seen.last, 0.0)))

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)


class Heat:
    """Decayed frequency per byte, times the reload cost with the ``time`` objective (see the module docstring)."""

    name = "heat"

    def __init__(self, *, half_life: float, horizon: float = 16.0, objective: str = "hits",
                 max_history: int = 100_000) -> None:
        if half_life <= 0 or horizon <= 0:
            raise ValueError("half_life and horizon must be positive")
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; one of {', '.join(OBJECTIVES)}")
        self.by_time = objective == "time"
        self.half_life = half_life
        self.horizon = horizon
        self.max_history = max_history
        self._seen: dict[str, _Seen] = {}

    def _decayed(self, seen: _Seen, now: float) -> float:
        return seen.count * math.pow(2.0, -max(now - seen.last, 0.0) / self.half_life)

    def touch(self, key: str, *, size: int, cost: float, now: float) -> None:
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = _Seen()
            self._trim()
        seen.count = self._decayed(seen, now) + 1.0
        seen.last = now
        seen.boost = 0.0  # the use it predicted came
        seen.size = max(size, 1)
        seen.cost = max(cost, 1e-9) if self.by_time else 1.0

    def hint(self, key: str, *, weight: float, size: int, cost: float, now: float) -> None:
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = _Seen(size=max(size, 1), cost=max(cost, 1e-9) if self.by_time else 1.0)
            self._trim()
        seen.boost = self._boost(seen, now) + max(0.0, min(weight, 1.0)) * self.half_life / self.horizon
        seen.boost_at = now

    def dropped(self, key: str, *, now: float) -> None:
        return None  # the decayed count outlives residency, so a payload that comes back is known

    def priority(self, key: str, *, now: float) -> float:
        seen = self._seen.get(key)
        return -math.inf if seen is None else self._value(seen, now)

    def _value(self, seen: _Seen, now: float) -> float:
        return (self._decayed(seen, now) + self._boost(seen, now)) * seen.cost / seen.size

    def _boost(self, seen: _Seen, now: float) -> float:
        if not seen.boost:
            return 0.0
        return seen.boost * math.pow(2.0, -max(now - seen.boost_at, 0.0) / self.horizon)

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)

    def _trim(self) -> None:
        """Bound the history of evicted payloads: past ``max_history`` keys, forget the coldest half."""
        if len(self._seen) <= self.max_history:
            return
        ranked = sorted(self._seen, key=lambda k: self._seen[k].last)
        for key in ranked[: len(ranked) // 2]:
            del self._seen[key]


POLICIES = ("heat", "lru", "lfu")
OBJECTIVES = ("hits", "time")


def make_policy(name: str, *, half_life: float, horizon: float = 16.0, objective: str = "hits") -> Policy:
    """The policy called ``name`` (``MEMOS_TIER_POLICY``)."""
    if name == "heat":
        return Heat(half_life=half_life, horizon=horizon, objective=objective)
    if name == "lru":
        return LRU()
    if name == "lfu":
        return LFU()
    raise ValueError(f"unknown tier policy {name!r}; one of {', '.join(POLICIES)}")
