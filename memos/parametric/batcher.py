"""Mixed-adapter batches: concurrent requests for different adapters of one model generated in one batch.

PEFT's LoRA layers take ``adapter_names`` (one per row): the base projection runs once for the whole batch
and each adapter's A/B product only over its own rows (``_mixed_batch_forward``), which is Punica's idea
done with PEFT's kernels. A ``MixedBatcher`` keeps one queue and one thread per serving model: the thread
takes the first waiting request, waits up to ``MEMOS_ADAPTER_BATCH_WAIT_MS`` for more (at most
``MEMOS_ADAPTER_BATCH_SIZE``), and decodes them greedily together: prompts left-padded, positions counted
from each row's first real token, rows that have stopped fed on (their tokens dropped) until all stop.

Callers pin their adapter in the pool (``AdapterPool.acquire``) around ``submit(...).result()``, so no
adapter of a running batch is evicted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from memos.activation.backend import GenerationResult
from memos.parametric.pool import ServingModel

log = logging.getLogger(__name__)

BASE = "__base__"  # PEFT's name for "no adapter" in adapter_names
IDLE_EXIT_S = 60.0  # a batch thread with nothing to do for this long ends (a new request starts another)


@dataclass
class BatchedResult(GenerationResult):
    batch_size: int = 1  # rows of the batch this generation ran in


@dataclass
class _Request:
    adapter: str
    ids: list[int]
    max_new_tokens: int
    future: Future[BatchedResult] = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)


class MixedBatcher:
    """Batches of up to ``max_batch`` requests per serving model, whatever their adapters."""

    def __init__(self, *, max_batch: int, wait_ms: float) -> None:
        self.max_batch = max_batch
        self.wait_s = wait_ms / 1000
        self._queues: dict[int, queue.Queue[_Request]] = {}
        self._threads: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self.batches = 0
        self.rows = 0

    def submit(self, serving: ServingModel, adapter: str, ids: list[int], max_new_tokens: int) -> Future[BatchedResult]:
        """Queue one request (``adapter``: a PEFT adapter name, or ``BASE``); its result comes on the future."""
        request = _Request(adapter, list(ids), max_new_tokens)
        key = id(serving)
        with self._lock:
            q = self._queues.setdefault(key, queue.Queue())
            q.put(request)
            thread = self._threads.get(key)
            if thread is None or not thread.is_alive():
                thread = threading.Thread(target=self._run, args=(serving, q), daemon=True,
                                          name=f"adapter-batches-{serving.lm.name}")
                self._threads[key] = thread
                thread.start()
        return request.future

    def _run(self, serving: ServingModel, q: queue.Queue[_Request]) -> None:
        while True:
            try:
                first = q.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if q.empty():  # a request put after the timeout finds no live thread and starts one
                        self._threads.pop(id(serving), None)
                        return
                continue
            batch = [first]
            deadline = time.perf_counter() + self.wait_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(q.get(timeout=max(0.0, deadline - time.perf_counter())))
                except queue.Empty:
                    break
            self.batches += 1
            self.rows += len(batch)
            try:
                results = generate_batch(serving, [r.adapter for r in batch], [r.ids for r in batch],
                                         [r.max_new_tokens for r in batch], started=[r.submitted for r in batch])
            except Exception as exc:  # every waiting caller gets the error, the thread goes on
                log.exception("mixed-adapter batch failed")
                for r in batch:
                    r.future.set_exception(exc)
                continue
            for r, result in zip(batch, results, strict=True):
                r.future.set_result(result)


def generate_batch(
    serving: ServingModel,
    adapters: Sequence[str],
    rows: Sequence[Sequence[int]],
    max_new_tokens: Sequence[int],
    *,
    started: Sequence[float] | None = None,
) -> list[BatchedResult]:
    """Greedy decoding of ``rows``, row ``i`` through adapter ``adapters[i]``; one result per row."""
    import torch
    from transformers import DynamicCache

    lm = serving.lm
    device = lm.torch_device
    n, width = len(rows), max(len(r) for r in rows)
    pad = lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else 0
    ids = torch.full((n, width), pad, dtype=torch.long)
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(list(r))
        mask[i, width - len(r):] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # each row counts from its first real token
    cache = DynamicCache(config=lm.model.config)
    names = list(adapters)
    begin = [time.perf_counter()] * n if started is None else list(started)
    out = serving.forward(names, input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                          use_cache=True, logits_to_keep=1)
    tokens = out.logits[:, -1].argmax(-1)
    first = time.perf_counter()
    generated: list[list[int]] = [[int(t)] for t in tokens.tolist()]
    done = [generated[i][-1] in lm.eos_token_ids or max_new_tokens[i] <= 1 for i in range(n)]
    ended = [first if d else 0.0 for d in done]
    while not all(done):
        mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=device)], dim=1)
        positions = positions[:, -1:] + 1
        out = serving.forward(names, input_ids=tokens[:, None], attention_mask=mask, position_ids=positions,
                              past_key_values=cache, use_cache=True, logits_to_keep=1)
        tokens = out.logits[:, -1].argmax(-1)
        now = time.perf_counter()
        for i, t in enumerate(tokens.tolist()):
            if done[i]:
                continue
            generated[i].append(int(t))
            if int(t) in lm.eos_token_ids or len(generated[i]) >= max_new_tokens[i]:
                done[i], ended[i] = True, now
    return [
        BatchedResult(text=lm.decode(generated[i]), token_ids=generated[i], ttft_ms=(first - begin[i]) * 1000,
                      total_ms=(ended[i] - begin[i]) * 1000, prefill_tokens=len(rows[i]), cached_tokens=0,
                      batch_size=n)
        for i in range(n)
    ]
