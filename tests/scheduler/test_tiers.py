"""The tier manager: budgets, promotion on demand, pinning, prefetch, and the policies' rankings."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memos.scheduler.offline import belady_hits, offline_hits
from memos.scheduler.policy import LFU, LRU, Heat, make_policy
from memos.scheduler.tiers import DISK, LoadCost, TierManager, TierSpec


class Sized:
    """A payload standing for ``n`` bytes, on a device."""

    def __init__(self, n: int, device: str) -> None:
        self.n, self.device = n, device


class SizedMover:
    def __init__(self, sizes: dict[str, int]) -> None:
        self.sizes = sizes
        self.loads: list[str] = []

    def load(self, key: str, device: str) -> Sized:
        if key not in self.sizes:
            raise FileNotFoundError(key)
        self.loads.append(key)
        return Sized(self.sizes[key], device)

    def move(self, key: str, payload: Any, tier: TierSpec) -> Sized:
        return payload if payload.device == tier.device else Sized(payload.n, tier.device)

    def nbytes(self, key: str, payload: Any) -> int:
        return int(payload.n)

    def stored_bytes(self, key: str) -> int | None:
        return self.sizes.get(key)

    def drop(self, key: str, payload: Any) -> None:
        return None


def manager(sizes: dict[str, int], *, gpu: int, cpu: int, policy: str = "heat") -> tuple[TierManager, list[float]]:
    clock = [0.0]

    def tick() -> float:
        clock[0] += 1
        return clock[0]

    m = TierManager([TierSpec("gpu", gpu, "gpu-device", emulated=True), TierSpec("cpu", cpu, "cpu")],
                    make_policy(policy, half_life=100), SizedMover(sizes), clock=tick,
                    load_cost=LoadCost(frozen=True))
    return m, clock


def test_a_miss_loads_into_the_top_tier_and_a_hit_does_not_load_again() -> None:
    m, _ = manager({"a": 10}, gpu=100, cpu=100)
    got = m.get("a")
    assert got.device == "gpu-device"
    assert m.residency("a") == "gpu"
    m.get("a")
    assert m.mover.loads == ["a"]  # type: ignore[attr-defined]
    st_ = m.status()
    assert st_["misses"] == 1
    assert st_["tiers"][0]["hits"] == 1
    assert st_["tiers"][0]["used_bytes"] == 10


def test_a_full_top_tier_demotes_to_the_next_and_a_use_promotes_back() -> None:
    m, _ = manager({"a": 60, "b": 60}, gpu=100, cpu=100)
    m.get("a")
    m.get("b")  # a no longer fits beside b: a goes down to the cpu tier
    assert m.residency("a") == "cpu"
    assert m.residency("b") == "gpu"
    assert m.get("a").device == "gpu-device"  # promoted on use, b demoted
    assert m.residency("b") == "cpu"
    assert m.mover.loads == ["a", "b"]  # type: ignore[attr-defined]  # moves between tiers never reread disk
    moves = [(e.key, e.source, e.target) for e in m.events]
    assert ("a", "gpu", "cpu") in moves
    assert ("a", "cpu", "gpu") in moves


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 11), min_size=1, max_size=80), st.sampled_from(["heat", "lru", "lfu"]))
def test_no_tier_ever_holds_more_than_its_budget(trace: list[int], policy: str) -> None:
    sizes = {f"p{i}": 5 + 7 * i for i in range(12)}  # 5..82 bytes
    m, _ = manager(sizes, gpu=60, cpu=120, policy=policy)
    for i in trace:
        m.get(f"p{i}")
        for tier in m.status()["tiers"]:
            assert tier["used_bytes"] <= tier["budget_bytes"]
        assert sum(n for _, n in m.resident().values()) == m.used_bytes()


def test_a_payload_larger_than_every_tier_is_served_but_not_kept() -> None:
    m, _ = manager({"big": 500}, gpu=100, cpu=200)
    assert m.get("big").n == 500
    assert m.residency("big") == DISK
    assert m.used_bytes() == 0


def test_pinned_payloads_are_never_dropped_to_disk() -> None:
    sizes = {"pinned": 50, **{f"x{i}": 40 for i in range(10)}}
    m, _ = manager(sizes, gpu=60, cpu=100)
    m.pin("pinned")
    for i in range(10):
        m.get(f"x{i}")
    assert m.residency("pinned") in {"gpu", "cpu"}
    assert m.is_pinned("pinned")
    m.unpin("pinned")
    for i in range(10):
        m.get(f"x{i}")
    assert m.residency("pinned") == DISK


def test_a_pin_beyond_the_memory_budgets_is_refused() -> None:
    m, _ = manager({"a": 90, "b": 90}, gpu=50, cpu=100)
    m.pin("a")
    with pytest.raises(ValueError, match="beyond the memory tiers' budgets"):
        m.pin("b")
    assert not m.is_pinned("b")


def test_a_missing_payload_raises_and_leaves_nothing_behind() -> None:
    m, _ = manager({}, gpu=50, cpu=50)
    with pytest.raises(FileNotFoundError):
        m.get("nope")
    assert m.resident() == {}
    assert m._gates == {}


def test_prefetch_uses_free_room_but_does_not_push_out_hotter_payloads() -> None:
    sizes = {"hot": 50, "cold": 50, "hinted": 50}
    m, _ = manager(sizes, gpu=50, cpu=50)
    for _ in range(20):
        m.get("hot")
    m.get("cold")
    assert m.prefetch("hinted", weight=1.0)  # worth more, soon, than the once-used cold payload
    assert m.residency("hinted") != DISK
    assert m.residency("cold") == DISK
    assert m.residency("hot") != DISK
    m.get("hinted")
    assert m.status()["prefetch_hits"] == 1
    assert m.status()["misses"] == 2


def test_heat_keeps_a_small_busy_payload_through_a_scan_where_lru_does_not() -> None:
    sizes = {"busy": 10, **{f"scan{i}": 30 for i in range(6)}}
    for policy, kept in (("heat", True), ("lru", False)):
        m, _ = manager(sizes, gpu=40, cpu=40, policy=policy)
        for _ in range(5):
            m.get("busy")
        for i in range(6):
            m.get(f"scan{i}")
        assert (m.residency("busy") != DISK) is kept, policy


def test_the_policies_rank_as_documented() -> None:
    lru, lfu, heat = LRU(), LFU(), Heat(half_life=10)
    for t, key in enumerate(["a", "a", "a", "b"]):
        for p in (lru, lfu, heat):
            p.touch(key, size=100, cost=1.0, now=float(t))
    assert lru.priority("b", now=4) > lru.priority("a", now=4)
    assert lfu.priority("a", now=4) > lfu.priority("b", now=4)
    assert heat.priority("a", now=4) > heat.priority("b", now=4)
    assert heat.priority("a", now=100) < heat.priority("a", now=4)  # decays
    heat.touch("small", size=10, cost=1.0, now=4)
    assert heat.priority("small", now=4) > heat.priority("b", now=4)  # per byte of reload


def test_belady_on_a_trace_worked_by_hand() -> None:
    sizes = dict.fromkeys("abc", 1)
    # Budget 2: a, b miss; a hits; c misses and is not kept (never used again: bypass); a and b hit.
    trace = list("abacab")
    assert belady_hits(trace, sizes, 2, size_aware=False) == 3
    # Without bypass LRU would have evicted b for c and missed b at the end: 2 hits.
    assert offline_hits(trace, sizes, 3) == 3  # everything fits: only the three first requests miss


def test_load_cost_fits_a_line_through_measured_loads() -> None:
    cost = LoadCost(fixed=0.0, per_byte=0.0, decay=1.0)
    for n in (1_000, 2_000, 4_000, 8_000):
        cost.observe(n, 0.002 + n * 1e-6)
    assert cost.predict(10_000) == pytest.approx(0.012, rel=1e-6)
    frozen = LoadCost(fixed=1.0, per_byte=0.0, frozen=True)
    frozen.observe(10, 99.0)
    assert frozen.predict(10) == 1.0
