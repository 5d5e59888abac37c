"""Generation with an adapter for the API.

Without a snapshot prefix and without streaming, a request joins the model's mixed-adapter batch
(``memos.parametric.batcher``). With an ``activation_id`` or ``stream``, it runs on its own through the
activation backend, on a view of the model whose every forward pass applies the adapter: the snapshot's keys
and values are the base model's (as stored), the adapter applies to the prompt and the generated tokens.
Either way the adapter is pinned in the pool while it is used, and loaded from the blob store on a miss.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, cast

from memcube import schemas
from memos.activation.errors import FingerprintMismatch
from memos.activation.generation import Started
from memos.activation.models import LoadedModel
from memos.activation.render import prompt_ids
from memos.parametric.runtime import ParametricRuntime
from memos.parametric.service import AdapterRef

log = logging.getLogger(__name__)


def apply_pin(rt: ParametricRuntime, lm: LoadedModel, ref: AdapterRef) -> None:
    """Pins live on the record; a process that has not applied an adapter's yet (another process pinned it, or
    this one restarted, or its model was not loaded when it was pinned) does so at the adapter's first use here.
    A pin that no longer fits the budgets stays unapplied: the adapter is served as any other."""
    pool = rt.pool
    if ref.pinned and not pool.is_pinned(lm.name, ref.sha256):
        try:
            pool.pin(lm, ref.sha256, ref.config)
        except ValueError as exc:
            log.warning("pinned adapter %s not kept in memory: %s", ref.adapter_id, exc)
    elif not ref.pinned and pool.is_pinned(lm.name, ref.sha256):
        pool.unpin(lm.name, ref.sha256)


def check_fingerprint(ref: AdapterRef, lm: LoadedModel) -> None:
    """An adapter is applied only to the weights it was checked against (as snapshots are)."""
    if ref.fingerprint != lm.fingerprint:
        raise FingerprintMismatch(
            f"adapter {ref.adapter_id} was registered for model {ref.model!r} with other weights, config or "
            "tokenizer than it has now: it cannot be applied",
            detail={"adapter_id": str(ref.adapter_id), "adapter_fingerprint": ref.fingerprint,
                    "model_fingerprint": lm.fingerprint})


class AdapterView:
    """Stands in for ``lm.model`` in the activation backend: each call is one forward pass of the serving
    copy with the adapter pinned (loaded again if it was evicted between two tokens)."""

    def __init__(self, rt: ParametricRuntime, lm: LoadedModel, ref: AdapterRef) -> None:
        self._rt, self._lm, self._ref = rt, lm, ref
        self.config = lm.model.config
        self.dtype = lm.model.dtype

    def __call__(self, **kwargs: Any) -> Any:
        with self._rt.pool.acquire(self._lm, self._ref.sha256, self._ref.config) as (serving, name):
            return serving.forward([name] * int(kwargs["input_ids"].shape[0]), **kwargs)


def viewer(rt: ParametricRuntime, ref: AdapterRef) -> Any:
    """For ``generation.start(wrap=...)``: the loaded model with the adapter applied."""

    def wrap(lm: LoadedModel) -> LoadedModel:
        check_fingerprint(ref, lm)
        apply_pin(rt, lm, ref)
        return dataclasses.replace(lm, model=cast(Any, AdapterView(rt, lm, ref)))

    return wrap


def mark_used(started: Started, ref: AdapterRef) -> Started:
    started.used = started.used.model_copy(update={"adapter_id": ref.adapter_id, "adapter_version": ref.version})
    return started


def generate_batched(rt: ParametricRuntime, body: schemas.GenerateRequest, ref: AdapterRef) -> schemas.GenerateResponse:
    """Generate in the model's next mixed-adapter batch (blocks this worker thread until it is done)."""
    lm = rt.activation.registry.load(body.model)
    check_fingerprint(ref, lm)
    apply_pin(rt, lm, ref)
    # the same checks as the backend's (max_new_tokens, positions)
    ids = prompt_ids(lm, body.prompt, after_prefix=False)
    rt.activation.backend.stream(lm, ids, max_new_tokens=body.max_new_tokens)
    hit = rt.pool.is_loaded(lm.name, ref.sha256)  # telemetry only: another request may load it meanwhile
    began = time.perf_counter()
    with rt.pool.acquire(lm, ref.sha256, ref.config) as (serving, name):
        ready = time.perf_counter()
        result = rt.batcher.submit(serving, name, ids, body.max_new_tokens).result()
    used = schemas.GenerationUsed(model=body.model, fingerprint=lm.fingerprint, adapter_id=ref.adapter_id,
                                  adapter_version=ref.version, batched=result.batch_size, adapter_loaded=hit)
    switch = (ready - began) * 1000
    timings = schemas.GenerationTimings(ttft_ms=round(result.ttft_ms + switch, 3),
                                        total_ms=round(result.total_ms + switch, 3),
                                        prefill_tokens=result.prefill_tokens, cached_tokens=0,
                                        adapter_ms=round(switch, 3))
    return schemas.GenerateResponse(text=result.text, used=used, timings=timings)
