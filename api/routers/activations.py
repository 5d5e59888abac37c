"""Activation memory: the models, KV-cache snapshots of a cube, and generation with one as the prefix."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import LimitsDep, PrincipalDep, SessionDep, StateDep, TenantDep
from api.errors import error_responses
from memcube import schemas
from memos.activation import generation
from memos.activation import service as activations
from memos.cubes.service import load_cube
from memos.parametric import service as adapters
from memos.parametric import serving

router = APIRouter(prefix="/v1", tags=["activation"])


def _source_kind(source: str) -> str:
    if source.startswith("builtin:"):
        return "builtin"
    return "gguf" if source.lower().endswith(".gguf") else "huggingface"


@router.get("/models", response_model=schemas.ModelList, responses=error_responses(401))
def list_models(state: StateDep, _principal: PrincipalDep) -> schemas.ModelList:
    """The configured models (MEMOS_MODELS and the built-in ``tiny``); a loaded model shows its fingerprint and
    how many LoRA adapters this process has loaded on it."""
    registry = state.activation.registry
    loaded = set(registry.loaded())
    adapters_on = Counter(r.model for r in state.parametric.pool.resident())
    return schemas.ModelList(models=[
        schemas.ModelInfo(name=spec.name, source=_source_kind(spec.source),  # type: ignore[arg-type]
                          loaded=spec.name in loaded,
                          fingerprint=registry.load(spec.name).fingerprint if spec.name in loaded else None,
                          adapters_loaded=adapters_on[spec.name])
        for spec in registry.specs()])


@router.post(
    "/cubes/{cube_id}/activations",
    status_code=202,
    response_model=schemas.ActivationAccepted,
    responses=error_responses(401, 403, 404, 413),
)
def create_activation(
    cube_id: uuid.UUID,
    body: schemas.ActivationCreate,
    session: SessionDep,
    tenant_id: TenantDep,
    principal: PrincipalDep,
    state: StateDep,
    limits: LimitsDep,
) -> schemas.ActivationAccepted:
    """Create an activation memory (state ``building``); its ``activation.build`` job renders the text,
    prefills it once and stores the snapshot as the memory's next version."""
    cube, _ = load_cube(session, cube_id, tenant_id, need="write")
    names = [spec.name for spec in state.activation.registry.specs()]
    head, job_id = activations.create_activation(session, cube, body, principal=principal, model_names=names,
                                                 max_text_chars=limits.max_content_chars)
    session.commit()
    return schemas.ActivationAccepted(activation=activations.to_schema(head), job_id=job_id)


@router.get(
    "/cubes/{cube_id}/activations", response_model=schemas.ActivationList, responses=error_responses(401, 403, 404)
)
def list_activations(
    cube_id: uuid.UUID,
    session: SessionDep,
    tenant_id: TenantDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> schemas.ActivationList:
    """The cube's activation memories, newest first."""
    heads = activations.list_activations(session, cube_id, tenant_id, limit=limit)
    return schemas.ActivationList(activations=[activations.to_schema(h) for h in heads])


@router.get("/activations/{activation_id}", response_model=schemas.Activation,
            responses=error_responses(401, 403, 404))
def get_activation(activation_id: uuid.UUID, session: SessionDep, tenant_id: TenantDep) -> schemas.Activation:
    return activations.to_schema(activations.get_activation(session, activation_id, tenant_id))


@router.post(
    "/activations/{activation_id}/extend",
    status_code=202,
    response_model=schemas.ActivationAccepted,
    responses=error_responses(401, 403, 404, 409, 413),
)
def extend_activation(
    activation_id: uuid.UUID,
    body: schemas.ActivationExtend,
    session: SessionDep,
    principal: PrincipalDep,
    _tenant_id: TenantDep,
) -> schemas.ActivationAccepted:
    """Add source memories: the next version is computed from the current snapshot by prefilling only the
    new tokens (when the old text stays a prefix of the new one; else in full)."""
    head, job_id = activations.extend_activation(session, activation_id, body, principal=principal)
    session.commit()
    return schemas.ActivationAccepted(activation=activations.to_schema(head), job_id=job_id)


@router.post(
    "/cubes/{cube_id}/generate",
    response_model=schemas.GenerateResponse,
    responses={**error_responses(401, 403, 404, 409, 413),
               200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                     "description": "the response as JSON, or with stream=true Server-Sent Events"}},
)
def generate(
    cube_id: uuid.UUID,
    body: schemas.GenerateRequest,
    session: SessionDep,
    tenant_id: TenantDep,
    state: StateDep,
    limits: LimitsDep,
) -> schemas.GenerateResponse | StreamingResponse:
    """Greedy generation after the activation's snapshot (only the prompt is prefilled), after several
    snapshots composed into one prefix (``activation_ids``), or from the prompt alone; with ``adapter_id``
    through a LoRA adapter (batched with other adapters' requests when there is no prefix and no stream).
    Runs in the server's thread pool with no database transaction open."""
    generation.check_request(body, max_new_tokens_limit=state.settings.max_new_tokens_limit,
                             max_prompt_chars=limits.max_content_chars)
    refs = generation.snapshot_refs(session, cube_id, tenant_id, body,
                                    max_composed_tokens=state.settings.max_composed_tokens)
    adapter = (adapters.adapter_ref(session, cube_id, tenant_id, body.adapter_id, model=body.model)
               if body.adapter_id is not None else None)
    session.commit()  # the reads are done: no transaction stays open while the model runs
    if adapter is not None and not refs and not body.stream:
        return serving.generate_batched(state.parametric, body, adapter)  # in the model's mixed-adapter batch
    started = generation.start(state.activation, body, refs,
                               wrap=serving.viewer(state.parametric, adapter) if adapter is not None else None)
    if adapter is not None:
        serving.mark_used(started, adapter)
    if body.stream:
        return StreamingResponse(generation.sse(started), media_type="text/event-stream")
    return generation.response(started)
