"""Parametric memory: LoRA adapters of a cube (upload, versions, rollback, training from memories).

Generation with an adapter is ``POST /v1/cubes/{cube_id}/generate`` with ``adapter_id`` (api/routers/activations.py).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from api.deps import PrincipalDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from api.state import AppState
from memcube import schemas
from memos.activation.models import LoadedModel
from memos.cubes.service import load_cube
from memos.errors import PayloadTooLarge
from memos.parametric import lora
from memos.parametric import service as adapters
from memos.scheduler import propose

router = APIRouter(prefix="/v1", tags=["parametric"])

ConfigFile = Annotated[UploadFile, File(description=f"{lora.CONFIG_FILE} as PEFT writes it (a LoraConfig)")]
WeightsFile = Annotated[UploadFile, File(description=f"{lora.WEIGHTS_FILE}: lora_A/lora_B of every targeted module")]
Description = Annotated[str | None, Form(max_length=2000, description="the memory's content (default: a summary)")]


def _read(upload: UploadFile, limit: int, what: str) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{what} is over {limit} bytes")
    return data


def _checked(state: AppState, model: str, config: UploadFile,
             weights: UploadFile) -> tuple[lora.ParsedAdapter, LoadedModel, list[str]]:
    """Read the upload and check it against ``model``; nothing is written before this passes."""
    state.activation.registry.spec(model)  # 404 for an unknown model before anything is read
    parsed = lora.read(_read(config, lora.MAX_CONFIG_BYTES, lora.CONFIG_FILE),
                       _read(weights, state.settings.max_body_bytes, lora.WEIGHTS_FILE))
    lm = state.activation.registry.load(model)
    return parsed, lm, lora.check_against(parsed, lm.model, model)


@router.post("/cubes/{cube_id}/adapters", status_code=201, response_model=schemas.Adapter,
             responses=error_responses(401, 403, 404, 413))
def register_adapter(
    cube_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    state: StateDep,
    model: Annotated[str, Form(min_length=1, max_length=200, description="a name from GET /v1/models")],
    config: ConfigFile,
    weights: WeightsFile,
    name: Annotated[str | None, Form(max_length=200)] = None,
    description: Description = None,
) -> schemas.Adapter:
    """Register a PEFT LoRA adapter (multipart): checked against the model's architecture, target modules and
    shapes, its weights stored content-addressed, as a parametric memory (version 1). A bad upload is a 4xx
    and leaves nothing behind."""
    cube, _ = load_cube(session, cube_id, tenant_id, need="write")
    parsed, lm, targets = _checked(state, model, config, weights)
    head = adapters.register(session, cube, parsed, lm, targets, state.activation.blobs, principal=principal,
                             name=name, description=description)
    session.commit()
    return adapters.to_schema(head)


@router.get("/cubes/{cube_id}/adapters", response_model=schemas.AdapterList,
            responses=error_responses(401, 403, 404))
def list_adapters(
    cube_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> schemas.AdapterList:
    """The cube's adapters, newest first."""
    return schemas.AdapterList(adapters=[adapters.to_schema(h) for h in
                                         adapters.list_adapters(session, cube_id, tenant_id, limit=limit)])


@router.get("/adapters/{adapter_id}", response_model=schemas.Adapter, responses=error_responses(401, 403, 404))
def get_adapter(adapter_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> schemas.Adapter:
    return adapters.to_schema(adapters.get_adapter(session, adapter_id, tenant_id))


@router.post("/adapters/{adapter_id}/versions", status_code=201, response_model=schemas.Adapter,
             responses=error_responses(401, 403, 404, 409, 413))
def upload_version(
    adapter_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    state: StateDep,
    config: ConfigFile,
    weights: WeightsFile,
    description: Description = None,
) -> schemas.Adapter:
    """New weights for the adapter (the same model): its next version, which serves from now on."""
    head = adapters.get_adapter(session, adapter_id, tenant_id, need="write")
    parsed, lm, targets = _checked(state, str((head.meta or {}).get("model", "")), config, weights)
    head = adapters.upload_version(session, head, parsed, lm, targets, state.activation.blobs, principal=principal,
                                   description=description)
    session.commit()
    return adapters.to_schema(head)


@router.post("/adapters/{adapter_id}/rollback", response_model=schemas.Adapter,
             responses=error_responses(401, 403, 404, 409))
def rollback_adapter(
    adapter_id: uuid.UUID, body: schemas.Rollback, session: SessionDep, principal: PrincipalDep, _tenant_id: TenantDep
) -> schemas.Adapter:
    """A new version serving an earlier version's weights (history keeps both)."""
    head = adapters.rollback(session, adapter_id, version=body.version, reason=body.reason, principal=principal)
    session.commit()
    return adapters.to_schema(head)


@router.post("/adapters/{adapter_id}/approve", status_code=202, response_model=schemas.AdapterAccepted,
             responses=error_responses(401, 403, 404, 409))
def approve_proposal(
    adapter_id: uuid.UUID, body: schemas.ProposalDecision, session: SessionDep, principal: PrincipalDep,
    _tenant_id: TenantDep, state: StateDep,
) -> schemas.AdapterAccepted:
    """Approve an adapter the scheduler proposed (state ``proposed``; the cube's owner): its training job
    starts on the proposed memories still live, and the approval is a version by this key (docs/scheduler.md).
    409 for an adapter that is not an open proposal."""
    head, job_id = propose.approve(session, adapter_id, principal=principal, note=body.note, steps=body.steps,
                                   rank=body.rank, learning_rate=body.learning_rate,
                                   max_steps=state.settings.adapter_train_max_steps)
    session.commit()
    return schemas.AdapterAccepted(adapter=adapters.to_schema(head), job_id=job_id)


@router.post("/adapters/{adapter_id}/reject", response_model=schemas.Adapter,
             responses=error_responses(401, 403, 404, 409))
def reject_proposal(
    adapter_id: uuid.UUID, body: schemas.ProposalDecision, session: SessionDep, principal: PrincipalDep,
    _tenant_id: TenantDep,
) -> schemas.Adapter:
    """Turn down a proposed adapter (the cube's owner): state ``rejected``, a version by this key; the cube gets
    no new proposal for ``MEMOS_PROPOSE_STABLE_DAYS``."""
    head = propose.reject(session, adapter_id, principal=principal, note=body.note)
    session.commit()
    return adapters.to_schema(head)


@router.post("/cubes/{cube_id}/adapters/train", status_code=202, response_model=schemas.AdapterAccepted,
             responses=error_responses(401, 403, 404, 409))
def train_adapter(
    cube_id: uuid.UUID,
    body: schemas.AdapterTrain,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    state: StateDep,
) -> schemas.AdapterAccepted:
    """Fine-tune a LoRA on the cube's plaintext memories in a worker job (loss per step in the job's result);
    the weights become a new adapter, or ``adapter_id``'s next version, whose provenance lists the memories
    and the versions it learned from."""
    cube, _ = load_cube(session, cube_id, tenant_id, need="write")
    names = [spec.name for spec in state.activation.registry.specs()]
    head, job_id = adapters.create_training(session, cube, body, principal=principal, model_names=names,
                                            max_steps=state.settings.adapter_train_max_steps)
    session.commit()
    return schemas.AdapterAccepted(adapter=adapters.to_schema(head), job_id=job_id)
