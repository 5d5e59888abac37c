"""``activation.build``: render an activation memory's text, prefill it once, store the snapshot.

A ``Staged`` handler (``memos.jobs.registry``), so the prefill holds no database transaction:
- *prepare* reads the activation and the current versions of its source memories, renders the text;
- *compute* (no session) loads the model, prefills — only the new tokens when the job extends a snapshot
  whose token ids are a prefix of the new text's — and writes the safetensors blob, content-addressed;
- *finish* records the blob (``payload_blobs``) and writes the snapshot as the activation's next version,
  unless its sources changed meanwhile (a later job, queued by that change, builds them) or the head already
  holds this very snapshot. A re-run after a crash re-uses the blob and writes no second version.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Job, Memory
from memcube.repository import activations as repo
from memcube.repository import memories as memories_repo
from memos.activation.errors import SnapshotNotFound
from memos.activation.render import JOIN_SPACE, snapshot_source
from memos.activation.runtime import runtime_in
from memos.activation.service import ACTOR, FROM_MEMORIES, JOB_TYPE, KIND, render_memories, snapshot_provenance
from memos.errors import InvalidInput
from memos.jobs.context import JobContext
from memos.jobs.registry import Staged, staged_job_handler
from memos.memories.versions import Attribution, append_version


@dataclass(frozen=True)
class BuildInputs:
    activation_id: uuid.UUID
    model: str
    text: str
    sources: list[tuple[str, int]]  # (memory id, version) of every source memory, live or not
    base_sha256: str | None  # extend from this snapshot when its tokens are a prefix of the new text's
    named: list[str] = dataclasses.field(default_factory=list)  # the sources the head named at prepare


@dataclass(frozen=True)
class BuildOutcome:
    inputs: BuildInputs
    sha256: str
    size: int
    tokens: int
    prefilled: int  # tokens run through the model (fewer than ``tokens`` when extended)
    fingerprint: str
    dtype: str


def _source_versions(memories: list[Memory], ids: list[uuid.UUID]) -> list[tuple[str, int]]:
    by_id = {m.id: m for m in memories}
    return [(str(m), by_id[m].version) for m in ids if m in by_id]


MAX_SUCCESSION = 16  # superseded_by hops followed from a source (a chain this long is a loop or an accident)


def _current(session: Session, memories: list[Memory], ids: list[uuid.UUID]) -> list[Memory]:
    """The sources as they stand now, in order: a source that consolidation superseded (status archived,
    ``metadata.superseded_by``: updates write a new memory and close the old one) is replaced by its live
    successor in the same cube, so the snapshot follows the fact, not the closed record. Each memory once."""
    by_id = {m.id: m for m in memories}
    out: dict[uuid.UUID, Memory] = {}
    for mid in ids:
        m = by_id.get(mid)
        for _ in range(MAX_SUCCESSION):
            if m is None or m.status == "active":
                break
            succ = (m.meta or {}).get("superseded_by")
            if succ is None:
                break
            found = repo.sources(session, [uuid.UUID(str(succ))])
            if not found or found[0].cube_id != m.cube_id:
                break
            m = found[0]
        if m is not None:
            out.setdefault(m.id, m)
    return list(out.values())


def _head(session: Session, activation_id: uuid.UUID, *, lock: bool = False) -> Memory | None:
    head = memories_repo.get_memory(session, activation_id, lock=lock)
    return head if head is not None and head.kind == KIND and head.status == "active" else None


@staged_job_handler(JOB_TYPE)
class BuildActivation(Staged):
    """Build (or rebuild, or extend) one activation memory's snapshot (payload: ``activation_id``, ``extend``)."""

    def prepare(self, session: Session, job: Job, ctx: JobContext) -> BuildInputs | None:
        head = _head(session, uuid.UUID(str(job.payload["activation_id"])))
        if head is None:
            return None
        meta = head.meta or {}
        base = meta.get("blob_sha256") if job.payload.get("extend") else None
        if meta.get("source") != FROM_MEMORIES:
            return BuildInputs(head.id, str(meta["model"]), head.content, [], base)
        ids = [uuid.UUID(str(m)) for m in (head.provenance or {}).get("memory_ids", [])]
        memories = _current(session, repo.sources(session, ids), ids)
        live = [m for m in memories if m.status == "active" and m.kind == "plaintext" and m.cube_id == head.cube_id]
        if not live:
            raise InvalidInput("none of the activation's source memories is live any more")
        return BuildInputs(head.id, str(meta["model"]), render_memories(live),
                           [(str(m.id), m.version) for m in memories], base, named=[str(m) for m in ids])

    def compute(self, inputs: BuildInputs | None, ctx: JobContext) -> BuildOutcome | None:
        if inputs is None:
            return None
        from memos.activation.kv import prefill, serialize

        runtime = runtime_in(ctx.resources, ctx.settings)
        lm = runtime.registry.load(inputs.model)
        # Under the model's chat template the snapshot is the system turn holding the text (render.py)
        source, join = snapshot_source(lm, inputs.text)
        ids = lm.encode(source)
        if not ids:
            raise InvalidInput("the snapshot's text has no tokens for this model")
        snap, prefilled = None, len(ids)
        if inputs.base_sha256 is not None:
            try:
                old = runtime.cache.get(inputs.base_sha256)
            except SnapshotNotFound:
                old = None
            if old is not None and old.fingerprint == lm.fingerprint and ids[: old.n_tokens] == old.token_ids:
                snap, prefilled = prefill(lm, ids[old.n_tokens :], past=old), len(ids) - old.n_tokens
        if snap is None:
            snap = prefill(lm, ids)
        if join != JOIN_SPACE:  # recorded in the blob, so generation joins the prompt the same way
            snap = dataclasses.replace(snap, meta={**snap.meta, "join": join})
        sha, size = runtime.blobs.put(serialize(snap, model=lm.name, fingerprint=lm.fingerprint))
        runtime.cache.put(sha, snap)
        return BuildOutcome(inputs, sha, size, snap.n_tokens, prefilled, lm.fingerprint, snap.dtype)

    def finish(self, session: Session, job: Job, outcome: BuildOutcome | None, ctx: JobContext) -> dict[str, Any]:
        if outcome is None:
            return {"skipped": "the activation memory is gone"}
        inputs = outcome.inputs
        head = _head(session, inputs.activation_id, lock=True)
        if head is None:
            return {"skipped": "the activation memory is gone"}
        ids = [uuid.UUID(m) for m, _ in inputs.sources]
        named = [str(m) for m in (head.provenance or {}).get("memory_ids", [])]
        if inputs.sources and (
            named != inputs.named
            or _source_versions(repo.sources(session, ids), ids) != inputs.sources
        ):
            # The sources changed after prepare (an edit, an extension): that change queued another build.
            return {"activation_id": str(head.id), "superseded": True}
        meta = head.meta or {}
        if meta.get("blob_sha256") == outcome.sha256 and meta.get("state") == schemas.ActivationState.ready.value:
            return {"activation_id": str(head.id), "version": head.version, "unchanged": True}
        blob_id = repo.ensure_blob(
            session,
            {
                "tenant_id": head.tenant_id,
                "cube_id": head.cube_id,
                "sha256": outcome.sha256,
                "size_bytes": outcome.size,
                "dtype": outcome.dtype,
                "model_id": inputs.model,
                "fingerprint": outcome.fingerprint,
                "residency": "disk",
            },
        )
        head.content = inputs.text
        head.blob_id = blob_id
        head.meta = {
            **meta,
            "state": schemas.ActivationState.ready.value,
            "fingerprint": outcome.fingerprint,
            "tokens": outcome.tokens,
            "bytes": outcome.size,
            "dtype": outcome.dtype,
            "blob_sha256": outcome.sha256,
            "error": None,
        }
        if inputs.sources:
            head.provenance = snapshot_provenance([m for m, _ in inputs.sources], [v for _, v in inputs.sources])
        reason = "extended" if outcome.prefilled < outcome.tokens else "built"
        append_version(session, head, actor=ACTOR, reason=reason, cause=Attribution.of_job(job))
        return {
            "activation_id": str(head.id),
            "version": head.version,
            "blob_sha256": outcome.sha256,
            "tokens": outcome.tokens,
            "prefilled_tokens": outcome.prefilled,
        }

    def failed(self, session: Session, job: Job, error: str) -> None:
        head = _head(session, uuid.UUID(str(job.payload["activation_id"])), lock=True)
        if head is not None and (head.meta or {}).get("job_id") == str(job.id):
            head.meta = {**head.meta, "state": schemas.ActivationState.failed.value, "error": error}
