"""``parametric.train``: fine-tune a LoRA on a cube's plaintext memories and store it as the adapter's next
version.

A ``Staged`` handler (``memos.jobs.registry``), so training holds no database transaction:
- *prepare* reads the adapter and the current content and version of each selected memory;
- *compute* (no session) loads the model, trains (deterministically: a re-run gives the same bytes), checks
  the result as an upload is checked, and writes the safetensors blob, content-addressed;
- *finish* writes the weights as the adapter's next version, with the loss of every step in its metadata and
  in the job's result, and provenance naming the memories and the versions it learned from. A re-run after a
  crash finds the head already holding this blob and writes no second version.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Job, Memory
from memcube.repository import activations as activations_repo
from memcube.repository import memories as memories_repo
from memos.activation.runtime import runtime_in
from memos.errors import InvalidInput
from memos.jobs.context import JobContext
from memos.jobs.registry import Staged, staged_job_handler
from memos.memories.versions import Attribution, append_version
from memos.parametric import lora, training
from memos.parametric.service import ACTOR, JOB_TYPE, KIND, READY, blob_row, describe, weights_meta


@dataclass(frozen=True)
class TrainInputs:
    adapter_id: uuid.UUID
    model: str
    texts: list[str]
    sources: list[tuple[str, int]]  # (memory id, version) trained on
    steps: int
    rank: int
    learning_rate: float


@dataclass(frozen=True)
class TrainOutcome:
    inputs: TrainInputs
    meta: dict[str, Any]  # weights_meta of the trained adapter
    losses: list[float]
    final_loss: float


def _head(session: Session, adapter_id: uuid.UUID, *, lock: bool = False) -> Memory | None:
    head = memories_repo.get_memory(session, adapter_id, lock=lock)
    return head if head is not None and head.kind == KIND and head.status == "active" else None


@staged_job_handler(JOB_TYPE)
class TrainAdapter(Staged):
    """Train one adapter (payload: ``adapter_id``, ``memory_ids``, ``steps``, ``rank``, ``learning_rate``,
    ``model``)."""

    def prepare(self, session: Session, job: Job, ctx: JobContext) -> TrainInputs | None:
        head = _head(session, uuid.UUID(str(job.payload["adapter_id"])))
        if head is None:
            return None
        ids = [uuid.UUID(str(m)) for m in job.payload["memory_ids"]]
        found = {m.id: m for m in activations_repo.sources(session, ids)}
        live = [found[m] for m in ids if m in found and found[m].status == "active"
                and found[m].kind == "plaintext" and found[m].cube_id == head.cube_id]
        if not live:
            raise InvalidInput("none of the selected memories is live any more")
        p = job.payload
        return TrainInputs(head.id, str(p["model"]), [m.content for m in live], [(str(m.id), m.version) for m in live],
                           int(p["steps"]), int(p["rank"]), float(p["learning_rate"]))

    def compute(self, inputs: TrainInputs | None, ctx: JobContext) -> TrainOutcome | None:
        if inputs is None:
            return None
        runtime = runtime_in(ctx.resources, ctx.settings)
        lm = runtime.registry.load(inputs.model)
        trained = training.train(lm, inputs.texts, steps=inputs.steps, rank=inputs.rank,
                                 learning_rate=inputs.learning_rate)
        parsed = lora.read(json.dumps(trained.config).encode(), trained.weights)  # checked as an upload is
        targets = lora.check_against(parsed, lm.model, lm.name)
        sha, size = runtime.blobs.put(trained.weights)
        return TrainOutcome(inputs, weights_meta(parsed, lm, targets, sha256=sha, size=size), trained.losses,
                            trained.final_loss)

    def finish(self, session: Session, job: Job, outcome: TrainOutcome | None, ctx: JobContext) -> dict[str, Any]:
        if outcome is None:
            return {"skipped": "the adapter is gone"}
        inputs = outcome.inputs
        head = _head(session, inputs.adapter_id, lock=True)
        if head is None:
            return {"skipped": "the adapter is gone"}
        result = {"adapter_id": str(head.id), "blob_sha256": outcome.meta["blob_sha256"], "losses": outcome.losses,
                  "final_loss": outcome.final_loss, "memory_ids": [m for m, _ in inputs.sources],
                  "memory_versions": [v for _, v in inputs.sources]}
        meta = head.meta or {}
        if meta.get("blob_sha256") == outcome.meta["blob_sha256"] and meta.get("state") == READY:
            return {**result, "version": head.version, "unchanged": True}
        head.meta = {**meta, **outcome.meta, "source": "training", "losses": outcome.losses,
                     "final_loss": outcome.final_loss, "steps": inputs.steps, "learning_rate": inputs.learning_rate}
        head.blob_id = blob_row(session, head, head.meta)
        head.provenance = schemas.Provenance(
            source=schemas.SourceType.system, actor=ACTOR, memory_ids=[uuid.UUID(m) for m, _ in inputs.sources],
            memory_versions=[v for _, v in inputs.sources], trust=0.5,
            note=f"LoRA trained {inputs.steps} steps on these memories").model_dump(mode="json")
        head.content = (f"{describe(meta.get('name'), head.meta)}, trained on {len(inputs.sources)} memories "
                        f"(loss {outcome.losses[0]:.3f} -> {outcome.final_loss:.3f})")
        append_version(session, head, actor=ACTOR, reason="trained", cause=Attribution.of_job(job))
        return {**result, "version": head.version}

    def failed(self, session: Session, job: Job, error: str) -> None:
        head = _head(session, uuid.UUID(str(job.payload["adapter_id"])), lock=True)
        if head is None or (head.meta or {}).get("job_id") != str(job.id):
            return
        # A retrained adapter keeps serving its current weights; a new one has none.
        state = READY if (head.meta or {}).get("blob_sha256") else schemas.AdapterState.failed.value
        head.meta = {**head.meta, "state": state, "error": error}
