"""Vectors of texts a consolidation worker has already encoded alone, kept across its passes.

The offline rules encode words, clauses and candidate sentences alone (``OfflineConsolidator._prefetch``);
the same words come back batch after batch, and a candidate sentence is often a fact this worker encoded in
an earlier pass. Encoding a text again gives the same vector (up to float rounding from the batch it is
padded with), so a bounded LRU per embedder saves those forward passes without changing a comparison.
(Not in ``Embedder.embed``: a bulk caller, such as a benchmark's raw embedding rate, must not be served
from it.)
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
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
_registry_lock = threading.Lock()


def for_embedder(embedder: Embedder) -> TextVectors:
    """The process's cache for ``embedder``."""
    with _registry_lock:
        cache = _by_embedder.get(embedder)
        if cache is None:
            cache = _by_embedder[embedder] = TextVectors()
        return cache
