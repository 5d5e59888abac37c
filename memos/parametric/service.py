"""Parametric memories as records: register an uploaded adapter, a new version, rollback, training records,
and the schema the API shows.

A parametric memory is a memory of kind ``parametric`` whose content is the adapter's description. Its
metadata says what its current version serves: ``state`` (training | ready | failed), ``model`` and the
model's ``fingerprint`` it was checked against, ``blob_sha256`` (the safetensors file, content-addressed),
``lora_config``, rank, size. Every upload, training run and rollback is a new version, so history shows
which weights served when, and rollback switches the weights that serve (the pool keys adapters by the
blob's sha256: the old weights load as a different entry, nothing is patched in place).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.blobs import BlobStore
from memcube.models import Cube, Memory, PayloadBlob
from memcube.repository import activations as activations_repo
from memcube.repository import adapters as repo
from memcube.repository import jobs as jobs_repo
from memcube.repository import memories as memories_repo
from memos.activation.errors import UnknownModel
from memos.activation.models import LoadedModel
from memos.activation.service import live_sources
from memos.cubes.service import load_cube
from memos.errors import Conflict, InvalidInput
from memos.memories.provenance import client_provenance
from memos.memories.versions import append_version, version_row
from memos.parametric import lora
from memos.parametric.errors import AdapterNotFound, AdapterNotReady
from memos.tenants.service import Principal

ACTOR = "system:parametric"
JOB_TYPE = "parametric.train"
KIND = repo.KIND
READY = schemas.AdapterState.ready.value
TRAINING = schemas.AdapterState.training.value


def weights_meta(adapter: lora.ParsedAdapter, lm: LoadedModel, targets: Sequence[str], *, sha256: str,
                 size: int) -> dict[str, Any]:
    """What a version's metadata says about its weights (checked against ``lm``)."""
    return {
        "state": READY,
        "model": lm.name,
        "fingerprint": lm.fingerprint,
        "blob_sha256": sha256,
        "bytes": size,
        "dtype": adapter.dtype,
        "rank": adapter.rank,
        "alpha": adapter.alpha,
        "params": adapter.params,
        "modules": len(targets),
        "target_modules": sorted({t.rsplit(".", 1)[-1] for t in targets}),
        "lora_config": adapter.config,
        "error": None,
    }


def blob_row(session: Session, head: Memory, meta: dict[str, Any]) -> uuid.UUID:
    return activations_repo.ensure_blob(session, {
        "tenant_id": head.tenant_id, "cube_id": head.cube_id, "sha256": meta["blob_sha256"],
        "size_bytes": meta["bytes"], "dtype": meta["dtype"], "model_id": meta["model"],
        "fingerprint": meta["fingerprint"], "residency": "disk"})


def describe(name: str | None, meta: dict[str, Any]) -> str:
    label = f" {name!r}" if name else ""
    return (f"LoRA adapter{label} for model {meta['model']}: rank {meta['rank']} on "
            f"{', '.join(meta['target_modules'])} ({meta['modules']} modules)")


def register(
    session: Session,
    cube: Cube,
    adapter: lora.ParsedAdapter,
    lm: LoadedModel,
    targets: Sequence[str],
    blobs: BlobStore,
    *,
    principal: Principal,
    name: str | None,
    description: str | None,
) -> Memory:
    """Store the checked adapter's weights and write its memory (version 1) in the caller's transaction."""
    sha, size = blobs.put(adapter.weights)
    meta: dict[str, Any] = {**weights_meta(adapter, lm, targets, sha256=sha, size=size), "source": "upload"}
    if name is not None:
        meta["name"] = name
    now = datetime.now(UTC)
    provenance = client_provenance(None, actor=principal.actor, max_trust=principal.max_trust)
    row = {
        "id": uuid.uuid4(), "tenant_id": cube.tenant_id, "cube_id": cube.id, "kind": KIND, "status": "active",
        "tier": "long_term", "content": description or describe(name, meta), "meta": meta, "tags": [],
        "keywords": [], "provenance": provenance, "trust": provenance["trust"], "embedding": None, "version": 1,
        "created_at": now, "updated_at": now,
    }
    (head,) = memories_repo.insert_memories(session, [row])
    head.blob_id = blob_row(session, head, meta)
    memories_repo.insert_versions(
        session, [version_row(head, actor=principal.actor, reason="uploaded", at=now, cause=principal.cause)])
    return head


def upload_version(
    session: Session,
    head: Memory,
    adapter: lora.ParsedAdapter,
    lm: LoadedModel,
    targets: Sequence[str],
    blobs: BlobStore,
    *,
    principal: Principal,
    description: str | None,
) -> Memory:
    """New weights for an existing adapter (same model): its next version."""
    meta = head.meta or {}
    if meta.get("model") != lm.name:
        raise Conflict(f"the adapter is for model {meta.get('model')!r}; a new version must be too",
                       detail={"model": meta.get("model")})
    sha, size = blobs.put(adapter.weights)
    head.meta = {**meta, **weights_meta(adapter, lm, targets, sha256=sha, size=size), "source": "upload"}
    head.blob_id = blob_row(session, head, head.meta)
    head.provenance = client_provenance(None, actor=principal.actor, max_trust=principal.max_trust)
    if description is not None:
        head.content = description
    elif meta.get("source") != "upload" or head.content == describe(meta.get("name"), meta):
        head.content = describe(meta.get("name"), head.meta)
    return append_version(session, head, actor=principal.actor, reason="uploaded", cause=principal.cause)


def rollback(session: Session, adapter_id: uuid.UUID, *, version: int, reason: str | None,
             principal: Principal) -> Memory:
    """A new version that serves the weights (and config, description, provenance) of ``version``."""
    assert principal.tenant_id is not None
    head = get_adapter(session, adapter_id, principal.tenant_id, need="write")
    old = memories_repo.get_version(session, head.id, version)
    if old is None:
        raise AdapterNotFound(f"version {version} not found")
    meta = old.meta or {}
    if meta.get("state") != READY or not meta.get("blob_sha256"):
        raise Conflict(f"version {version} has no weights (state {meta.get('state')!r}): nothing to serve",
                       detail={"version": version, "state": meta.get("state")})
    head.meta = {**meta, "job_id": (head.meta or {}).get("job_id")}
    head.content = old.content
    head.provenance = old.provenance
    head.blob_id = session.scalar(select(PayloadBlob.id).where(PayloadBlob.tenant_id == head.tenant_id,
                                                               PayloadBlob.sha256 == meta["blob_sha256"]))
    return append_version(session, head, actor=principal.actor, reason=reason or f"rollback to version {version}",
                          cause=principal.cause)


def get_adapter(
    session: Session,
    adapter_id: uuid.UUID,
    tenant_id: uuid.UUID,
    *,
    need: Literal["read", "write"] = "read",
    cube_id: uuid.UUID | None = None,
) -> Memory:
    """The adapter (404 unless it is a live parametric memory the tenant can see, in ``cube_id`` if given)."""
    head = memories_repo.get_memory(session, adapter_id)
    if head is None or head.kind != KIND or head.status == "deleted" or (cube_id is not None
                                                                          and head.cube_id != cube_id):
        raise AdapterNotFound("adapter not found")
    load_cube(session, head.cube_id, tenant_id, need=need)
    if need == "write":
        head = memories_repo.get_memory(session, adapter_id, lock=True)
        if head is None:
            raise AdapterNotFound("adapter not found")
    return head


def list_adapters(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, limit: int) -> list[Memory]:
    cube, _ = load_cube(session, cube_id, tenant_id)
    return repo.list_in_cube(session, cube.id, limit=limit)


@dataclass(frozen=True)
class AdapterRef:
    """What generation needs of an adapter, read in the request's short transaction."""

    adapter_id: uuid.UUID
    version: int
    model: str
    fingerprint: str
    sha256: str
    config: dict[str, Any]
    pinned: bool = False  # memories.pinned_at: kept in memory in every serving process (applied at first use)


def adapter_ref(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, adapter_id: uuid.UUID,
                *, model: str) -> AdapterRef:
    """The adapter a generation asks for: 404 unless in this cube, 409 unless it has weights for ``model``."""
    head = get_adapter(session, adapter_id, tenant_id, cube_id=cube_id)
    meta = head.meta or {}
    if meta.get("state") != READY or not meta.get("blob_sha256"):
        raise AdapterNotReady(f"the adapter is {meta.get('state')}, not ready",
                              detail={"state": meta.get("state"), "error": meta.get("error"),
                                      "adapter_id": str(head.id)})
    if meta.get("model") != model:
        raise Conflict(f"the adapter is for model {meta.get('model')!r}, not {model!r}",
                       detail={"adapter_model": meta.get("model"), "model": model})
    return AdapterRef(head.id, head.version, str(meta["model"]), str(meta["fingerprint"]),
                      str(meta["blob_sha256"]), dict(meta["lora_config"]), head.pinned_at is not None)


def create_training(
    session: Session,
    cube: Cube,
    body: schemas.AdapterTrain,
    *,
    principal: Principal,
    model_names: Sequence[str],
    max_steps: int,
) -> tuple[Memory, uuid.UUID]:
    """Select the memories, write the adapter (new: state ``training``; retrained: unchanged until its job
    writes the next version) and its ``parametric.train`` job, in the caller's transaction."""
    assert principal.tenant_id is not None
    if body.model not in model_names:
        raise UnknownModel(f"unknown model {body.model!r}", detail={"models": sorted(model_names)})
    if body.steps > max_steps:
        raise InvalidInput(f"steps {body.steps} is over the limit {max_steps} (MEMOS_ADAPTER_TRAIN_MAX_STEPS)")
    if body.memory_ids is not None:
        sources = live_sources(session, cube, body.memory_ids)
    else:
        sources = repo.training_sources(session, cube.id, ids=None, tags=body.tags, limit=body.limit)
    if not sources:
        raise InvalidInput("no live plaintext memory of this cube matches: nothing to train on")
    if body.adapter_id is not None:
        head = get_adapter(session, body.adapter_id, principal.tenant_id, need="write", cube_id=cube.id)
        if (head.meta or {}).get("model") != body.model:
            raise Conflict(f"the adapter is for model {(head.meta or {}).get('model')!r}; retrain it on that model")
    else:
        now = datetime.now(UTC)
        meta: dict[str, Any] = {"state": TRAINING, "model": body.model, "source": "training"}
        if body.name is not None:
            meta["name"] = body.name
        prov = schemas.Provenance(source=schemas.SourceType.system, actor=ACTOR,
                                  memory_ids=[m.id for m in sources], trust=0.5).model_dump(mode="json")
        row = {
            "id": uuid.uuid4(), "tenant_id": cube.tenant_id, "cube_id": cube.id, "kind": KIND, "status": "active",
            "tier": "long_term", "content": f"LoRA adapter trained on {len(sources)} memories for model "
            f"{body.model}", "meta": meta, "tags": [], "keywords": [], "provenance": prov, "trust": 0.5,
            "embedding": None, "version": 1, "created_at": now, "updated_at": now,
        }
        (head,) = memories_repo.insert_memories(session, [row])
        memories_repo.insert_versions(session, [version_row(head, actor=principal.actor, reason="training queued",
                                                            at=now, cause=principal.cause)])
    job, _ = jobs_repo.enqueue(
        session, tenant_id=principal.tenant_id, cube_id=cube.id, type=JOB_TYPE, key_id=principal.key_id,
        payload={"adapter_id": str(head.id), "memory_ids": [str(m.id) for m in sources], "steps": body.steps,
                 "rank": body.rank, "learning_rate": body.learning_rate, "model": body.model})
    head.meta = {**(head.meta or {}), "job_id": str(job.id)}
    return head, job.id


def to_schema(head: Memory) -> schemas.Adapter:
    meta = head.meta or {}
    prov = head.provenance or {}
    source = meta.get("source") if meta.get("source") in ("training", "proposal") else "upload"
    trained = source != "upload"  # learned (or, proposed, to learn) from the memories its provenance names
    job = meta.get("job_id")
    return schemas.Adapter(
        id=head.id, cube_id=head.cube_id, name=meta.get("name"), description=head.content,
        model=str(meta.get("model", "")), state=schemas.AdapterState(meta.get("state", TRAINING)),
        version=head.version, source=source, fingerprint=meta.get("fingerprint"),
        blob_sha256=meta.get("blob_sha256"), bytes=meta.get("bytes"), dtype=meta.get("dtype"),
        rank=meta.get("rank"), alpha=meta.get("alpha"), params=meta.get("params"),
        target_modules=list(meta.get("target_modules") or []), lora_config=dict(meta.get("lora_config") or {}),
        source_memory_ids=[uuid.UUID(str(m)) for m in prov.get("memory_ids", [])] if trained else [],
        source_memory_versions=list(prov.get("memory_versions") or []) if trained else [],
        losses=meta.get("losses"), error=meta.get("error"), job_id=uuid.UUID(job) if job else None,
        created_at=head.created_at, updated_at=head.updated_at,
    )
