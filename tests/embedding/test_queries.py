"""Query embeddings: the recent-query cache and the inference thread that batches concurrent queries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from memos.embedding import Embedder
from memos.embedding.queries import QueryBatcher, QueryCache


def test_the_cache_keeps_the_most_recent_queries() -> None:
    cache = QueryCache(2)
    cache.put("a", np.ones(3, dtype=np.float32))
    cache.put("b", np.full(3, 2, dtype=np.float32))
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("c", np.full(3, 3, dtype=np.float32))
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None
    assert len(cache) == 2


def test_a_cached_vector_cannot_be_changed_by_a_caller() -> None:
    cache = QueryCache(4)
    cache.put("q", np.ones(3, dtype=np.float32))
    got = cache.get("q")
    assert got is not None
    got[:] = 0
    again = cache.get("q")
    assert again is not None
    assert again.tolist() == [1.0, 1.0, 1.0]


def test_size_zero_keeps_nothing() -> None:
    cache = QueryCache(0)
    cache.put("q", np.ones(3, dtype=np.float32))
    assert cache.get("q") is None


def test_embed_one_uses_the_cache_and_not_for_bulk(embedder: Embedder) -> None:
    e = Embedder(backend=embedder.requested_backend, cache_dir=embedder.cache_dir, query_cache_size=8)
    try:
        first = e.embed_one("where does Melanie live?")
        assert (e.queries.hits, e.queries.misses) == (0, 1)
        second = e.embed_one("where does Melanie live?")
        assert e.queries.hits == 1
        assert np.array_equal(first, second)
        e.embed(["bulk text one", "bulk text two"])
        assert len(e.queries) == 1
    finally:
        e.close()


def test_embed_one_async_gives_the_same_vector_and_fills_the_cache(embedder: Embedder) -> None:
    e = Embedder(backend=embedder.requested_backend, cache_dir=embedder.cache_dir, query_cache_size=8)
    try:
        expected = e.embed_one("what did Caroline adopt?")
        pending = e.embed_one_async("when did Melanie go camping?")
        assert np.array_equal(pending.result(timeout=30), embedder.embed_one("when did Melanie go camping?"))
        assert len(e.queries) == 2  # the thread's result was kept
        hits = e.queries.hits
        cached = e.embed_one_async("what did Caroline adopt?")
        assert cached.done()
        assert np.array_equal(cached.result(), expected)
        assert e.queries.hits == hits + 1
    finally:
        e.close()


def test_embed_one_async_without_the_inference_thread(embedder: Embedder) -> None:
    e = Embedder(backend=embedder.requested_backend, cache_dir=embedder.cache_dir, batch_queries=False)
    future = e.embed_one_async("a query embedded on the caller's thread")
    assert future.done()
    assert np.allclose(future.result(), embedder.embed_one("a query embedded on the caller's thread"), atol=1e-6)


def _recording_encoder(calls: list[list[str]], gate: threading.Event | None = None,
                       entered: threading.Event | None = None) -> Callable[[list[str]], np.ndarray]:
    def encode(texts: list[str]) -> np.ndarray:
        if entered is not None:
            entered.set()
        if gate is not None:
            gate.wait(5)
        calls.append(list(texts))
        return np.array([[float(len(t)), 1.0] for t in texts], dtype=np.float32)

    return encode


def test_queries_waiting_together_run_as_one_batch() -> None:
    calls: list[list[str]] = []
    gate, entered = threading.Event(), threading.Event()
    batcher = QueryBatcher(_recording_encoder(calls, gate, entered), max_batch=64)
    try:
        blocker = batcher.submit("first")  # holds the thread at the gate while the others queue up
        assert entered.wait(5)
        futures = [batcher.submit("q" * i) for i in range(1, 11)] + [batcher.submit("q")]
        gate.set()
        assert blocker.result(5)[0] == 5.0
        assert [f.result(5)[0] for f in futures] == [float(i) for i in range(1, 11)] + [1.0]
    finally:
        batcher.close()
    assert calls[0] == ["first"]
    assert calls[1] == ["q" * i for i in range(1, 11)]  # one batch, the duplicate "q" embedded once


def test_an_encoder_error_reaches_every_caller_and_the_thread_goes_on() -> None:
    failing = {"on": True}

    def encode(texts: list[str]) -> np.ndarray:
        if failing["on"]:
            raise RuntimeError("model exploded")
        return np.zeros((len(texts), 2), dtype=np.float32)

    batcher = QueryBatcher(encode)
    try:
        with pytest.raises(RuntimeError, match="model exploded"):
            batcher.embed("a")
        failing["on"] = False
        assert batcher.embed("b").shape == (2,)
    finally:
        batcher.close()


def test_close_finishes_queued_queries_and_a_later_query_restarts_the_thread() -> None:
    calls: list[list[str]] = []
    batcher = QueryBatcher(_recording_encoder(calls))
    futures = [batcher.submit(str(i)) for i in range(5)]
    batcher.close()
    assert all(f.done() for f in futures)
    batcher.close()  # idempotent
    assert batcher.embed("again")[0] == 5.0
    batcher.close()


def test_concurrent_callers_get_their_own_vectors(embedder: Embedder) -> None:
    e = Embedder(backend=embedder.requested_backend, cache_dir=embedder.cache_dir, query_cache_size=0)
    texts = [f"question number {i} about topic {i % 5}" for i in range(32)]
    try:
        with ThreadPoolExecutor(16) as pool:
            got = np.stack(list(pool.map(e.embed_one, texts)))
    finally:
        e.close()
    assert np.sum(got * embedder.embed(texts), axis=1).min() >= 0.9999
