"""Predicted use: the queries arriving for a cube, matched against its payloads' source memories.

A search or context request names the memories it retrieved; an activation built from some of them is likely
to be asked for next (the agent generates with what it just recalled), so its snapshot is prefetched into the
memory tiers before the generation request comes, as MemOS's scheduler moves recalled memories into working
memory. The same goes for an adapter trained on them (onto a model the process has loaded). The matching runs
on a daemon thread, off the request path: ``note`` only queues (and drops when the
queue is full, which costs a prefetch, never a request). The weight of a prediction is the share of the
activation's sources that were retrieved.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from memcube.db import tenant_session
from memcube.repository import activations as repo
from memcube.repository import adapters as adapters_repo

if TYPE_CHECKING:  # torch and transformers load with the runtime, not with the API
    from memos.activation.runtime import ActivationRuntime
    from memos.parametric.runtime import ParametricRuntime

log = logging.getLogger(__name__)


class PayloadPredictor:
    """Queues (tenant, cube, retrieved memory ids) and prefetches the snapshots they predict."""

    def __init__(self, sessions: sessionmaker[Session], runtime: Callable[[], ActivationRuntime | None], *,
                 parametric: Callable[[], ParametricRuntime | None] = lambda: None, max_pending: int = 256,
                 inline: bool = False) -> None:
        # inline: match in the caller's thread (tests, whose sessions share one connection with the request)
        self.inline = inline
        self._sessions = sessions
        self._runtime = runtime
        self._parametric = parametric
        self._queue: queue.Queue[tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]] | None] = queue.Queue(max_pending)
        self._thread: threading.Thread | None = None
        self.predictions = 0  # prefetches asked for

    def start(self) -> None:
        if self._thread is None and not self.inline:
            self._thread = threading.Thread(target=self._run, name="memos-prefetch", daemon=True)
            self._thread.start()

    def note(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, memory_ids: Sequence[uuid.UUID]) -> None:
        """Called by search and context with what they retrieved; never blocks. Nothing is done until this
        process has served a snapshot (no runtime, nothing to prefetch into)."""
        if not memory_ids or self._runtime() is None:
            return
        if self.inline:
            self._process_logged((tenant_id, cube_id, list(memory_ids)))
            return
        with contextlib.suppress(queue.Full):  # a dropped prediction costs a prefetch, never a request
            self._queue.put_nowait((tenant_id, cube_id, list(memory_ids)))

    def process(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, memory_ids: Sequence[uuid.UUID]) -> int:
        """Prefetch the snapshots and adapters these retrieved memories predict; how many were asked for. An
        adapter is prefetched only onto a model this process has loaded (loading a model is no prefetch)."""
        runtime = self._runtime()
        if runtime is None:
            return 0
        parametric = self._parametric()
        with tenant_session(self._sessions, tenant_id) as session:
            found = repo.predicted(session, cube_id, memory_ids)
            learned = adapters_repo.predicted(session, cube_id, memory_ids) if parametric is not None else []
        for sha, sources, overlap in found:
            runtime.cache.manager.prefetch(sha, weight=overlap / max(sources, 1))
        loaded = set(runtime.registry.loaded())
        asked = len(found)
        for model, sha, config, sources, overlap in learned:
            if parametric is not None and model in loaded:
                parametric.pool.prefetch(runtime.registry.load(model), sha, config, weight=overlap / max(sources, 1))
                asked += 1
        self.predictions += asked
        return asked

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            self._process_logged(item)

    def _process_logged(self, item: tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]) -> None:
        try:
            self.process(*item)
        except Exception:  # a prediction is a hint: log and go on
            log.exception("prefetch prediction failed")

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None
