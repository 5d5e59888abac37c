"""The serving process's start-up heap, kept out of the garbage collector's full passes.

Start-up leaves ~450,000 long-lived objects in a web process (the embedding model's runtime, SQLAlchemy's
mappings, FastAPI's routes, every imported module). CPython's collector walks all of them in each full
(generation 2) pass, which the allocations of ordinary requests trigger every few hundred searches: measured
at 300-1,000 ms per pass in a loaded server (2026-12-08, /tmp-only harness timing ``gc.callbacks`` around a
10,000-memory search run), a pause every request in flight then waits out. ``gc.freeze()`` after start-up
moves them to the permanent generation, so full passes walk only what requests left behind (13 ms for the
same pass). Frozen objects are still freed by reference counting; only cycles among them are never
collected, and start-up objects live as long as the process anyway.
"""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect once, then freeze every object alive now; returns how many are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
