"""Wall-clock phase timings for job results (what a pass spent where, in milliseconds)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class PhaseTimer:
    """``with timer.phase("embed"): ...`` adds the block's duration to ``timer.ms["embed"]`` (from any
    thread: phases that overlap in time are each counted in full)."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._lock = threading.Lock()

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, (time.perf_counter() - start) * 1000)

    def add(self, name: str, ms: float) -> None:
        """Add ``ms`` to the phase ``name`` (a duration measured by the caller)."""
        with self._lock:
            self.ms[name] = round(self.ms.get(name, 0.0) + ms, 1)
