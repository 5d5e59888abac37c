"""Single-query embeddings: a bounded LRU of recent queries, and one inference thread that embeds the queries
waiting at the same moment in one batch."""

from __future__ import annotations

import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np


class QueryCache:
    """LRU of query vectors keyed by the exact text; thread-safe; ``size`` 0 keeps nothing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(text)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(text)
            self.hits += 1
        return vector.copy()  # callers may write to theirs

    def put(self, text: str, vector: np.ndarray) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[text] = vector.copy()
            self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


_STOP = object()


class QueryBatcher:
    """One thread runs ``encode`` on every text queued while the previous batch ran (up to ``max_batch``).

    Sixteen concurrent searches then cost a few batched forward passes instead of sixteen serial ones, and the
    forward pass always runs on the same thread. A caller blocks on its future (the GIL is free meanwhile); an
    exception of ``encode`` reaches every caller of that batch. The thread starts on first use, again after a
    fork (threads do not survive one) and after ``close``.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], *, max_batch: int = 64,
                 name: str = "memos-embed") -> None:
        self._encode = encode
        self._max_batch = max(1, max_batch)
        self._name = name
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def embed(self, text: str) -> np.ndarray:
        return self.submit(text).result()

    def submit(self, text: str) -> Future[np.ndarray]:
        future: Future[np.ndarray] = Future()
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._start()
            self._queue.put((text, future))
        return future

    def close(self) -> None:
        """Stop the thread after the queries already queued (idempotent)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None and self._pid == os.getpid() and thread.is_alive():
                self._queue.put(_STOP)
                thread.join()

    def _start(self) -> None:
        self._queue = queue.SimpleQueue()  # after a fork, the parent's queue may hold items no thread will take
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, args=(self._queue,), name=self._name, daemon=True)
        self._thread.start()

    def _run(self, jobs: queue.SimpleQueue[object]) -> None:
        while True:
            first = jobs.get()
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self._max_batch:
                try:
                    item = jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                batch.append(item)
            self._run_batch(batch)  # type: ignore[arg-type]
            if stop:
                return

    def _run_batch(self, batch: list[tuple[str, Future[np.ndarray]]]) -> None:
        live = [(text, f) for text, f in batch if f.set_running_or_notify_cancel()]
        if not live:
            return
        texts = list(dict.fromkeys(text for text, _ in live))  # the same query twice is embedded once
        try:
            vectors = self._encode(texts)
        except BaseException as exc:  # every caller of the batch gets it; the thread goes on
            for _, f in live:
                f.set_exception(exc)
            return
        row = {text: i for i, text in enumerate(texts)}
        for text, f in live:
            f.set_result(vectors[row[text]].copy())
