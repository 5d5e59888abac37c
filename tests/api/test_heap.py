"""The start-up heap is frozen out of the collector's full passes (api/heap.py)."""

from __future__ import annotations

import gc

from api.heap import settle_heap


def test_settle_heap_freezes_what_is_alive_and_collects_garbage_first() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the collector frees it

    Node()
    kept = [[i] for i in range(100)]  # tracked containers
    try:
        frozen = settle_heap()
        assert frozen == gc.get_freeze_count() > len(kept)
        assert not any(isinstance(o, Node) for o in gc.get_objects())  # collected before the freeze
        oldest = {id(o) for o in gc.get_objects(generation=2)}
        assert not any(id(k) in oldest for k in kept)  # frozen: out of the full passes' walk
    finally:
        gc.unfreeze()
    assert gc.get_freeze_count() == 0
