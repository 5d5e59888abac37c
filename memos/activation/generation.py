"""Generation for the API: pick the snapshot (a short read), then generate with no transaction open.

``snapshot_ref`` reads what a request needs from the database; the caller ends its transaction; ``start``
then loads the model and the snapshot (through the process's ``SnapshotCache``), checks the fingerprint
and starts the backend's stream, so bad requests fail before any byte of a streamed answer is sent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from memcube import schemas
from memos.activation.backend import GenerationResult, GenerationStream
from memos.activation.errors import FingerprintMismatch
from memos.activation.render import prompt_ids
from memos.activation.runtime import ActivationRuntime
from memos.activation.service import get_activation
from memos.cubes.service import load_cube
from memos.errors import Conflict, InvalidInput, PayloadTooLarge

USABLE = frozenset({schemas.ActivationState.ready.value, schemas.ActivationState.stale.value})


@dataclass(frozen=True)
class SnapshotRef:
    activation_id: uuid.UUID
    version: int
    model: str
    fingerprint: str
    sha256: str
    stale: bool


def check_request(body: schemas.GenerateRequest, *, max_new_tokens_limit: int, max_prompt_chars: int) -> None:
    if body.max_new_tokens > max_new_tokens_limit:
        raise InvalidInput(
            f"max_new_tokens {body.max_new_tokens} is over the limit {max_new_tokens_limit}"
            " (MEMOS_MAX_NEW_TOKENS_LIMIT)"
        )
    if len(body.prompt) > max_prompt_chars:
        raise PayloadTooLarge(f"prompt has {len(body.prompt)} characters; the limit is {max_prompt_chars}")


def snapshot_ref(
    session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, activation_id: uuid.UUID | None
) -> SnapshotRef | None:
    """The snapshot a request asks for (404 unless it is an activation of this cube the tenant can read;
    409 unless it has a snapshot: ``building`` and ``failed`` have none yet)."""
    load_cube(session, cube_id, tenant_id)
    if activation_id is None:
        return None
    head = get_activation(session, activation_id, tenant_id, cube_id=cube_id)
    meta = head.meta or {}
    state = meta.get("state")
    if state not in USABLE or not meta.get("blob_sha256"):
        raise Conflict(f"the activation is {state}, not ready", detail={"state": state, "error": meta.get("error")})
    return SnapshotRef(
        head.id,
        head.version,
        str(meta["model"]),
        str(meta["fingerprint"]),
        str(meta["blob_sha256"]),
        state == schemas.ActivationState.stale.value,
    )


@dataclass
class Started:
    stream: GenerationStream
    used: schemas.GenerationUsed


def start(runtime: ActivationRuntime, body: schemas.GenerateRequest, ref: SnapshotRef | None) -> Started:
    """Load the model and the snapshot and start generating (holds no database session: may take seconds)."""
    lm = runtime.registry.load(body.model)
    prefix = None
    if ref is not None:
        if ref.fingerprint != lm.fingerprint:
            raise FingerprintMismatch(
                f"activation {ref.activation_id} was made by model {ref.model!r}, whose weights, config or "
                f"tokenizer differ from {body.model!r}'s: it cannot be injected",
                detail={
                    "snapshot_fingerprint": ref.fingerprint,
                    "model_fingerprint": lm.fingerprint,
                    "snapshot_model": ref.model,
                    "model": body.model,
                },
            )
        prefix = runtime.cache.get(ref.sha256)
    ids = prompt_ids(lm, body.prompt, after_prefix=prefix is not None)
    stream = runtime.backend.stream(lm, ids, prefix=prefix, max_new_tokens=body.max_new_tokens)
    used = schemas.GenerationUsed(
        activation_id=ref.activation_id if ref else None,
        version=ref.version if ref else None,
        stale=ref.stale if ref else False,
        model=body.model,
        fingerprint=lm.fingerprint,
    )
    return Started(stream, used)


def timings(result: GenerationResult) -> schemas.GenerationTimings:
    return schemas.GenerationTimings(
        ttft_ms=round(result.ttft_ms, 3),
        total_ms=round(result.total_ms, 3),
        prefill_tokens=result.prefill_tokens,
        cached_tokens=result.cached_tokens,
    )


def response(started: Started) -> schemas.GenerateResponse:
    result = started.stream.collect()
    return schemas.GenerateResponse(text=result.text, used=started.used, timings=timings(result))


def sse(started: Started) -> Iterator[str]:
    """Server-Sent Events: one ``token`` event per piece of text (JSON string), then ``done`` with the
    whole response (text, used, timings)."""
    import json

    for piece in started.stream:
        yield f"event: token\ndata: {json.dumps(piece)}\n\n"
    result = started.stream.result
    assert result is not None
    done = schemas.GenerateResponse(text=result.text, used=started.used, timings=timings(result))
    yield f"event: done\ndata: {done.model_dump_json()}\n\n"
