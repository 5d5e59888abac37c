"""Generation for the API: pick the snapshots (a short read), then generate with no transaction open.

``snapshot_refs`` reads what a request needs from the database; the caller ends its transaction; ``start``
then loads the model and the snapshots (through the process's ``SnapshotCache``), checks the fingerprints,
composes several snapshots into one prefix (``memos.activation.compose``) and starts the backend's stream,
so bad requests fail before any byte of a streamed answer is sent.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from memcube import schemas
from memos.activation.backend import GenerationResult, GenerationStream, Prefix
from memos.activation.compose import compose
from memos.activation.errors import FingerprintMismatch
from memos.activation.models import LoadedModel
from memos.activation.render import JOIN_SPACE, joined_prompt_ids, prompt_ids
from memos.activation.runtime import ActivationRuntime
from memos.activation.service import get_activation
from memos.cubes.service import load_cube
from memos.errors import Conflict, InvalidInput, PayloadTooLarge

log = logging.getLogger(__name__)
USABLE = frozenset({schemas.ActivationState.ready.value, schemas.ActivationState.stale.value})


@dataclass(frozen=True)
class SnapshotRef:
    activation_id: uuid.UUID
    version: int
    model: str
    fingerprint: str
    sha256: str
    stale: bool
    tokens: int = 0
    text: str = ""  # the activation's content: under a chat template the prompt's turn is rendered after it
    pinned: bool = False  # kept in the memory tiers (memos.scheduler): applied here by every serving process


def check_request(body: schemas.GenerateRequest, *, max_new_tokens_limit: int, max_prompt_chars: int) -> None:
    if body.max_new_tokens > max_new_tokens_limit:
        raise InvalidInput(
            f"max_new_tokens {body.max_new_tokens} is over the limit {max_new_tokens_limit}"
            " (MEMOS_MAX_NEW_TOKENS_LIMIT)"
        )
    if len(body.prompt) > max_prompt_chars:
        raise PayloadTooLarge(f"prompt has {len(body.prompt)} characters; the limit is {max_prompt_chars}")


def snapshot_refs(
    session: Session,
    cube_id: uuid.UUID,
    tenant_id: uuid.UUID,
    body: schemas.GenerateRequest,
    *,
    max_composed_tokens: int,
) -> list[SnapshotRef]:
    """The snapshots a request asks for, in order: none, its ``activation_id`` or its ``activation_ids``
    (each as ``snapshot_ref`` reads it). A composition of more than ``max_composed_tokens`` is a 413, before
    any snapshot is loaded."""
    load_cube(session, cube_id, tenant_id)
    ids = body.activation_ids or ([body.activation_id] if body.activation_id is not None else [])
    refs = [snapshot_ref(session, cube_id, tenant_id, a) for a in ids]
    total = sum(r.tokens for r in refs)
    if len(refs) > 1 and total > max_composed_tokens:
        raise PayloadTooLarge(
            f"the activations hold {total} tokens; a composition takes at most {max_composed_tokens}"
            " (MEMOS_MAX_COMPOSED_TOKENS)"
        )
    return refs


def snapshot_ref(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, activation_id: uuid.UUID) -> SnapshotRef:
    """One snapshot a request asks for (404 unless it is an activation of this cube the tenant can read;
    409 unless it has a snapshot: ``building`` and ``failed`` have none yet)."""
    head = get_activation(session, activation_id, tenant_id, cube_id=cube_id)
    meta = head.meta or {}
    state = meta.get("state")
    if state not in USABLE or not meta.get("blob_sha256"):
        raise Conflict(f"the activation is {state}, not ready",
                       detail={"state": state, "error": meta.get("error"), "activation_id": str(head.id)})
    return SnapshotRef(
        head.id,
        head.version,
        str(meta["model"]),
        str(meta["fingerprint"]),
        str(meta["blob_sha256"]),
        state == schemas.ActivationState.stale.value,
        int(meta.get("tokens") or 0),
        head.content or "",
        head.pinned_at is not None,
    )


@dataclass
class Started:
    stream: GenerationStream
    used: schemas.GenerationUsed
    compose_ms: float | None = None
    recomputed_tokens: int | None = None


def _apply_pin(runtime: ActivationRuntime, ref: SnapshotRef) -> None:
    """Pins live on the record; a process that has not applied one yet (another process pinned it, or this one
    restarted) does so on the snapshot's first use here. A pin that no longer fits the budgets stays unapplied:
    the snapshot is served as any other."""
    manager = runtime.cache.manager
    if ref.pinned and not manager.is_pinned(ref.sha256):
        try:
            manager.pin(ref.sha256)
        except ValueError as exc:
            log.warning("pinned activation %s not kept in memory: %s", ref.activation_id, exc)
    elif not ref.pinned and manager.is_pinned(ref.sha256):
        manager.unpin(ref.sha256)


def _check_fingerprint(ref: SnapshotRef, lm: LoadedModel, model: str) -> None:
    if ref.fingerprint != lm.fingerprint:
        raise FingerprintMismatch(
            f"activation {ref.activation_id} was made by model {ref.model!r}, whose weights, config or "
            f"tokenizer differ from {model!r}'s: it cannot be injected",
            detail={
                "activation_id": str(ref.activation_id),
                "snapshot_fingerprint": ref.fingerprint,
                "model_fingerprint": lm.fingerprint,
                "snapshot_model": ref.model,
                "model": model,
            },
        )


def start(runtime: ActivationRuntime, body: schemas.GenerateRequest, refs: Sequence[SnapshotRef],
          *, wrap: Callable[[LoadedModel], LoadedModel] | None = None) -> Started:
    """Load the model and the snapshots, compose several into one prefix, and start generating (holds no
    database session: may take seconds). ``wrap``: the model the backend generates with, given the loaded
    one (a LoRA adapter applied: ``memos.parametric.serving``); snapshots are composed with the base model."""
    lm = runtime.registry.load(body.model)
    for ref in refs:
        _check_fingerprint(ref, lm, body.model)
        _apply_pin(runtime, ref)
    served = wrap(lm) if wrap is not None else lm
    prefix: Prefix | None = None
    compose_ms = recomputed = None
    ratio = body.recompute_ratio if body.recompute_ratio is not None else schemas.DEFAULT_RECOMPUTE_RATIO
    join = JOIN_SPACE
    if len(refs) == 1:
        # a cold snapshot streams in layer by layer while the prompt is prefilled (memos.activation.stream)
        prefix = runtime.cache.open(refs[0].sha256)
        join = str(prefix.meta.get("join", JOIN_SPACE))
    elif refs:
        began = time.perf_counter()
        snaps = [runtime.cache.get(r.sha256) for r in refs]
        joins = {str(s.meta.get("join", JOIN_SPACE)) for s in snaps}
        if len(joins) > 1:
            raise Conflict("these activations were rendered differently (some as chat turns, some as plain text) "
                           "and cannot be composed; rebuild the older ones", detail={"joins": sorted(joins)})
        (join,) = joins
        # compose copies what it takes: the cache's shared snapshots are never modified.
        composed = compose(lm, snaps, recompute_ratio=ratio)
        compose_ms = (time.perf_counter() - began) * 1000
        recomputed = int(composed.meta["composed"]["recomputed"])
        prefix = composed
    if prefix is None:
        ids = prompt_ids(lm, body.prompt, after_prefix=False)  # the prompt is the whole context, as given
    else:
        ids = joined_prompt_ids(lm, body.prompt, join=join, snapshot_text=refs[-1].text)
    stream = runtime.backend.stream(served, ids, prefix=prefix, max_new_tokens=body.max_new_tokens)
    one = refs[0] if len(refs) == 1 else None
    used = schemas.GenerationUsed(
        activation_id=one.activation_id if one else None,
        version=one.version if one else None,
        stale=any(r.stale for r in refs),
        model=body.model,
        fingerprint=lm.fingerprint,
        activations=[schemas.UsedActivation(activation_id=r.activation_id, version=r.version, stale=r.stale)
                     for r in refs],
        recompute_ratio=ratio if len(refs) > 1 else None,
    )
    return Started(stream, used, compose_ms, recomputed)


def timings(result: GenerationResult, started: Started) -> schemas.GenerationTimings:
    """The backend's figures; a composition's time counts in ``ttft_ms`` and ``total_ms``, as the client
    waited for it."""
    extra = started.compose_ms or 0.0
    return schemas.GenerationTimings(
        ttft_ms=round(result.ttft_ms + extra, 3),
        total_ms=round(result.total_ms + extra, 3),
        prefill_tokens=result.prefill_tokens,
        cached_tokens=result.cached_tokens,
        compose_ms=round(started.compose_ms, 3) if started.compose_ms is not None else None,
        recomputed_tokens=started.recomputed_tokens,
    )


def response(started: Started) -> schemas.GenerateResponse:
    result = started.stream.collect()
    return schemas.GenerateResponse(text=result.text, used=started.used, timings=timings(result, started))


def sse(started: Started) -> Iterator[str]:
    """Server-Sent Events: one ``token`` event per piece of text (JSON string), then ``done`` with the
    whole response (text, used, timings)."""
    import json

    for piece in started.stream:
        yield f"event: token\ndata: {json.dumps(piece)}\n\n"
    result = started.stream.result
    assert result is not None
    done = schemas.GenerateResponse(text=result.text, used=started.used, timings=timings(result, started))
    yield f"event: done\ndata: {done.model_dump_json()}\n\n"
