"""Vectors of texts a consolidation worker has already encoded alone, kept across its passes.

The offline rules encode words, clauses and candidate sentences alone (``OfflineConsolidator._prefetch``);
the same words come back batch after batch, and a candidate sentence is often a fact this worker encoded in
an earlier pass. Encoding a text again gives the same vector (up to float rounding from the batch it is
padded with), so a bounded LRU per embedder saves those forward passes without changing a comparison.
(Not in ``Embedder.embed``: a bulk caller, such as a benchmark's raw embedding rate, must not be served
from it.)

``Encoder`` runs a pass's forward passes on a thread of their own, beside its statements and rules, and
encodes the facts of the cube's next jobs ahead of their pass (``look_ahead``).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from memos.embedding import Embedder

# ~1.5 KB a vector (384 float32): 16,384 texts are ~25 MB of the worker's memory.
MAX_TEXTS = 16_384


class TextVectors:
    """A bounded LRU of text -> its vector encoded alone (one per embedder: vectors of another model are not
    comparable)."""

    def __init__(self, max_texts: int = MAX_TEXTS) -> None:
        self.max_texts = max_texts
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def get_many(self, texts: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for t in texts:
                v = self._vectors.get(t)
                if v is not None:
                    self._vectors.move_to_end(t)
                    out[t] = v
        return out

    def put_many(self, items: Iterable[tuple[str, np.ndarray]]) -> None:
        with self._lock:
            for t, v in items:
                # A copy: a row of the caller's matrix would keep the whole matrix alive.
                self._vectors[t] = np.array(v, dtype=np.float32, copy=True)
                self._vectors.move_to_end(t)
            while len(self._vectors) > self.max_texts:
                self._vectors.popitem(last=False)


_by_embedder: weakref.WeakKeyDictionary[Embedder, TextVectors] = weakref.WeakKeyDictionary()
_registry_lock = threading.RLock()  # reentrant: an Encoder is made under it and looks up its cache


def for_embedder(embedder: Embedder) -> TextVectors:
    """The process's cache for ``embedder``."""
    with _registry_lock:
        cache = _by_embedder.get(embedder)
        if cache is None:
            cache = _by_embedder[embedder] = TextVectors()
        return cache


class Encoder:
    """The embedder's forward passes on one thread of its own (one per embedder and process), beside the
    consolidation pass's database and rule work.

    ONNX Runtime (the default backend) releases the GIL for a whole forward pass, so on two cores the encoder
    runs on one while the pass's statements and rules run on the other. ``submit`` runs the passes
    ``Embedder.embed`` would run (``Embedder.chunks``), so its vectors are the ones ``embed`` gives.
    ``look_ahead`` encodes the texts a later pass will ask for (the facts of the cube's next jobs) while this
    pass has no forward pass to run; they wait while a ``foreground`` encoding runs, and land in the
    process's ``TextVectors``. Under torch, which takes the GIL back between operators, nothing runs beside
    the caller: ``submit`` runs a pass when its result is asked for, and ``look_ahead`` does nothing.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.known = for_embedder(embedder)
        self._pool: ThreadPoolExecutor | None = None
        if embedder.backend_name == "onnx":
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memos-encoder")
        self._inflight: dict[str, tuple[Future[np.ndarray], int]] = {}  # look-ahead text -> (its pass, row)
        self._foreground = 0
        self._idle = threading.Condition()

    def submit(self, texts: Sequence[str], *, batch_size: int | None = None
               ) -> list[tuple[list[int], Future[np.ndarray]]]:
        """Start ``embed``'s forward passes over ``texts``: (indexes of the pass's texts, its vectors) per pass,
        in the order they run (after the look-ahead passes already queued)."""
        out = []
        for rows in self.embedder.chunks(texts, batch_size=batch_size):
            batch = [texts[i] for i in rows]
            out.append((rows, self._pool.submit(self.embedder.encode, batch) if self._pool is not None
                        else _Deferred(self.embedder.encode, batch)))
        return out

    def ahead_of(self, texts: Sequence[str]) -> dict[str, tuple[Future[np.ndarray], int]]:
        """Of ``texts``, those a look-ahead pass is encoding or has encoded: text -> (its pass, its row)."""
        with self._idle:
            return {t: self._inflight[t] for t in texts if t in self._inflight}

    def look_ahead(self, texts: Sequence[str]) -> None:
        """Encode ``texts`` (those neither known nor already on their way) in ``embed``'s passes, each pass
        when no foreground encoding is running; their vectors go to ``known``."""
        if self._pool is None:
            return
        with self._idle:
            seen = set(self._inflight)
        todo = sorted({t for t in texts if t not in seen} - self.known.get_many(texts).keys())
        for rows in self.embedder.chunks(todo):
            batch = [todo[i] for i in rows]
            future = self._pool.submit(self._background_pass, batch)
            with self._idle:
                for k, t in enumerate(batch):
                    self._inflight[t] = (future, k)

    def _background_pass(self, batch: list[str]) -> np.ndarray:
        with self._idle:
            self._idle.wait_for(lambda: self._foreground == 0)
        try:
            vectors = self.embedder.encode(batch)
            self.known.put_many(zip(batch, vectors, strict=True))
            return vectors
        finally:
            with self._idle:
                for t in batch:
                    self._inflight.pop(t, None)

    @contextmanager
    def foreground(self) -> Iterator[None]:
        """An encoding in the caller's thread that the pass waits for: look-ahead passes not yet started
        wait until it is done."""
        with self._idle:
            self._foreground += 1
        try:
            yield
        finally:
            with self._idle:
                self._foreground -= 1
                self._idle.notify_all()


_encoders: weakref.WeakKeyDictionary[Embedder, Encoder] = weakref.WeakKeyDictionary()


def encoder_for(embedder: Embedder) -> Encoder:
    """The process's encoder thread for ``embedder``."""
    with _registry_lock:
        encoder = _encoders.get(embedder)
        if encoder is None:
            encoder = _encoders[embedder] = Encoder(embedder)
        return encoder


@contextmanager
def foreground(embedder: Embedder | None) -> Iterator[None]:
    """``Encoder.foreground`` of the process's encoder for ``embedder``, if it has one."""
    with _registry_lock:
        encoder = _encoders.get(embedder) if embedder is not None else None
    if encoder is None:
        yield
        return
    with encoder.foreground():
        yield


class _Deferred(Future[np.ndarray]):
    """A pass run in the caller's thread when its result is first asked for."""

    def __init__(self, fn: Callable[[list[str]], np.ndarray], texts: list[str]) -> None:
        super().__init__()
        self._fn, self._texts = fn, texts

    def result(self, timeout: float | None = None) -> np.ndarray:
        if not self.done():
            try:
                self.set_result(self._fn(self._texts))
            except BaseException as exc:
                self.set_exception(exc)
        return super().result(timeout)
