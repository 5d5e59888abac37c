"""Activation memories as records: create, list, extend, mark stale, and the schema the API shows.

An activation memory is a memory of kind ``activation`` whose content is the text its KV snapshot holds.
Its metadata says where the snapshot is: ``state`` (building | ready | stale | failed), ``model``, and once
built ``fingerprint``, ``tokens``, ``bytes``, ``dtype``, ``blob_sha256``; its provenance names the source
memories (``memory_ids``) and, once built, the version of each it was made from (``memory_versions``).
Each build is a new version (``memos.activation.tasks``); the state moves in place (building -> stale ->
failed are the snapshot's condition now, not a new snapshot).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.db import SYSTEM
from memcube.models import Cube, Memory
from memcube.repository import activations as repo
from memcube.repository import jobs as jobs_repo
from memcube.repository import memories as memories_repo
from memos.activation.errors import UnknownModel
from memos.activation.render import render
from memos.cubes.service import load_cube
from memos.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from memos.memories.versions import SYSTEM_CAUSE, Attribution, version_row
from memos.tenants.service import Principal

ACTOR = "system:activation"
JOB_TYPE = "activation.build"
KIND = repo.KIND
MAX_TEXT_CHARS = 200_000  # a snapshot's text, rendered from its memories (the model's positions bound it too)
FROM_MEMORIES = "memories"
FROM_TEXT = "text"


def snapshot_provenance(memory_ids: Sequence[uuid.UUID | str], versions: Sequence[int] | None = None) -> dict[str, Any]:
    prov = schemas.Provenance(
        source=schemas.SourceType.system,
        actor=ACTOR,
        memory_ids=[uuid.UUID(str(m)) for m in memory_ids],
        memory_versions=list(versions) if versions is not None else None,
        trust=0.5,
    )
    return prov.model_dump(mode="json")


def enqueue_build(
    session: Session, head: Memory, *, tenant_id: uuid.UUID, key_id: uuid.UUID | None, extend: bool = False
) -> uuid.UUID:
    """An ``activation.build`` outbox row for ``head`` in the caller's transaction; remembered on the head."""
    job, _ = jobs_repo.enqueue(
        session,
        tenant_id=tenant_id,
        cube_id=head.cube_id,
        type=JOB_TYPE,
        payload={"activation_id": str(head.id), "extend": extend},
        key_id=key_id,
    )
    head.meta = {**(head.meta or {}), "job_id": str(job.id)}
    return job.id


def live_sources(session: Session, cube: Cube, memory_ids: Sequence[uuid.UUID]) -> list[Memory]:
    """The given memories, which must all be live plaintext memories of ``cube`` (422 naming the others)."""
    wanted = list(dict.fromkeys(memory_ids))
    found = {m.id: m for m in repo.sources(session, wanted)}
    bad = [
        m
        for m in wanted
        if (h := found.get(m)) is None or h.cube_id != cube.id or h.kind != "plaintext" or h.status != "active"
    ]
    if bad:
        raise NotFound(
            "memory_ids must name live plaintext memories of this cube",
            detail={
                "message": "no live plaintext memory of this cube with these ids",
                "memory_ids": [str(m) for m in bad],
            },
        )
    return [found[m] for m in wanted]


def render_memories(memories: Sequence[Memory]) -> str:
    return render([(m.created_at, m.id, m.content) for m in memories])


def _check_text(text: str) -> None:
    if not text.strip():
        raise InvalidInput("the snapshot's text is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise PayloadTooLarge(f"the snapshot's text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}")


def create_activation(
    session: Session,
    cube: Cube,
    body: schemas.ActivationCreate,
    *,
    principal: Principal,
    model_names: Sequence[str],
    max_text_chars: int,
    reason: str = "created",
) -> tuple[Memory, uuid.UUID]:
    """Write the activation memory (state ``building``) and its build job in the caller's transaction."""
    if body.model not in model_names:
        raise UnknownModel(f"unknown model {body.model!r}", detail={"models": sorted(model_names)})
    if body.text is not None:
        if len(body.text) > max_text_chars:
            raise PayloadTooLarge(f"text has {len(body.text)} characters; the limit is {max_text_chars}")
        text, source_ids, origin = body.text, [], FROM_TEXT
    else:
        assert body.memory_ids is not None
        memories = live_sources(session, cube, body.memory_ids)
        text, source_ids, origin = render_memories(memories), [m.id for m in memories], FROM_MEMORIES
    _check_text(text)
    now = datetime.now(UTC)
    meta: dict[str, Any] = {"state": schemas.ActivationState.building.value, "model": body.model, "source": origin}
    if body.name is not None:
        meta["name"] = body.name
    row = {
        "id": uuid.uuid4(),
        "tenant_id": cube.tenant_id,
        "cube_id": cube.id,
        "kind": KIND,
        "status": "active",
        "tier": "long_term",
        "content": text,
        "meta": meta,
        "tags": [],
        "keywords": [],
        "provenance": snapshot_provenance(source_ids),
        "trust": 0.5,
        "embedding": None,
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }
    (head,) = memories_repo.insert_memories(session, [row])
    memories_repo.insert_versions(
        session, [version_row(head, actor=principal.actor, reason=reason, at=now, cause=principal.cause)]
    )
    assert principal.tenant_id is not None
    job_id = enqueue_build(session, head, tenant_id=principal.tenant_id, key_id=principal.key_id)
    return head, job_id


def get_activation(
    session: Session,
    activation_id: uuid.UUID,
    tenant_id: uuid.UUID,
    *,
    need: Literal["read", "write"] = "read",
    cube_id: uuid.UUID | None = None,
) -> Memory:
    """The activation memory (404 if it is not one the tenant can see, or not in ``cube_id`` when given)."""
    head = memories_repo.get_memory(session, activation_id)
    if (
        head is None
        or head.kind != KIND
        or head.status == "deleted"
        or (cube_id is not None and head.cube_id != cube_id)
    ):
        raise NotFound("activation not found")
    load_cube(session, head.cube_id, tenant_id, need=need)
    if need == "write":
        head = memories_repo.get_memory(session, activation_id, lock=True)
        if head is None:
            raise NotFound("activation not found")
    return head


def list_activations(session: Session, cube_id: uuid.UUID, tenant_id: uuid.UUID, *, limit: int) -> list[Memory]:
    cube, _ = load_cube(session, cube_id, tenant_id)
    return repo.list_in_cube(session, cube.id, limit=limit)


def extend_activation(
    session: Session, activation_id: uuid.UUID, body: schemas.ActivationExtend, *, principal: Principal
) -> tuple[Memory, uuid.UUID]:
    """Add source memories; the build job computes the new version from the current snapshot, prefilling
    only the new tokens when the old text is a prefix of the new one (see ``memos.activation.tasks``)."""
    assert principal.tenant_id is not None
    head = get_activation(session, activation_id, principal.tenant_id, need="write")
    if (head.meta or {}).get("source") != FROM_MEMORIES:
        raise Conflict("only an activation built from memories can be extended with memories")
    cube, _ = load_cube(session, head.cube_id, principal.tenant_id, need="write")
    old_ids = [uuid.UUID(str(m)) for m in (head.provenance or {}).get("memory_ids", [])]
    added = [m for m in live_sources(session, cube, body.memory_ids) if m.id not in set(old_ids)]
    if not added:
        raise InvalidInput("these memories are already sources of the activation")
    ids = old_ids + [m.id for m in added]
    live = [m for m in repo.sources(session, ids) if m.status == "active" and m.kind == "plaintext"]
    _check_text(render_memories(live))
    head.provenance = {**(head.provenance or {}), "memory_ids": [str(m) for m in ids]}
    head.meta = {**head.meta, "state": _pending_state(head)}
    job_id = enqueue_build(session, head, tenant_id=principal.tenant_id, key_id=principal.key_id, extend=True)
    return head, job_id


def _pending_state(head: Memory) -> str:
    """What a head awaiting a build shows: ``stale`` while it has a usable snapshot, else ``building``."""
    return (
        schemas.ActivationState.stale if (head.meta or {}).get("blob_sha256") else schemas.ActivationState.building
    ).value


def mark_stale(session: Session, changed: Sequence[Memory], *, cause: Attribution = SYSTEM_CAUSE,
               causes: Mapping[uuid.UUID, Attribution] | None = None) -> int:
    """Called for every batch of new versions (``memos.memories.versions``): the live activation memories
    built from one of the changed plaintext memories are marked stale and get a rebuild job, in the
    caller's transaction. Returns how many. ``causes``: who caused each changed memory's version (else
    ``cause``); the rebuild job is the session's tenant's (row-level security allows no other), with the
    causing key when it is that tenant's."""
    current = {m.id: m for m in changed if m.kind == "plaintext"}
    sources = set(current)
    if not sources:
        return 0
    ids = repo.dependants(session, list(sources), actor=ACTOR)
    n = 0
    for head in repo.heads(session, ids, lock=True):
        named = {uuid.UUID(str(m)) for m in (head.provenance or {}).get("memory_ids", [])}
        if not named & sources or not _text_changed(session, head, current):
            continue
        head.meta = {**head.meta, "state": _pending_state(head)}
        why = (causes or {}).get(min(named & sources), cause)
        context = session.info.get("tenant_id")
        tenant = (why.tenant_id or head.tenant_id) if context in (None, SYSTEM) else uuid.UUID(str(context))
        enqueue_build(session, head, tenant_id=tenant, key_id=why.key_id if why.tenant_id == tenant else None)
        n += 1
    if n:
        session.flush()
    return n


def _text_changed(session: Session, head: Memory, current: dict[uuid.UUID, Memory]) -> bool:
    """Whether a changed source's content or status differs from the version the snapshot was built from
    (a new version that only re-tags a memory, as linking's evolution does, leaves the snapshot as it is)."""
    prov = head.provenance or {}
    named = [uuid.UUID(str(m)) for m in prov.get("memory_ids", [])]
    versions = prov.get("memory_versions") or []
    if len(versions) != len(named):
        return True  # not built yet, or extended since: its build is queued anyway
    built = dict(zip(named, versions, strict=True))
    pairs = [(m, int(built[m])) for m in current if m in built]
    old = repo.versions_of(session, pairs)
    return any(old.get(pair) != (current[pair[0]].content, current[pair[0]].status) for pair in pairs)


def to_schema(head: Memory) -> schemas.Activation:
    meta = head.meta or {}
    state = schemas.ActivationState(meta.get("state", schemas.ActivationState.building.value))
    job = meta.get("job_id")
    return schemas.Activation(
        id=head.id,
        cube_id=head.cube_id,
        name=meta.get("name"),
        model=str(meta.get("model", "")),
        state=state,
        stale=state is schemas.ActivationState.stale,
        version=head.version,
        tokens=meta.get("tokens"),
        bytes=meta.get("bytes"),
        fingerprint=meta.get("fingerprint"),
        blob_sha256=meta.get("blob_sha256"),
        source_memory_ids=[uuid.UUID(str(m)) for m in (head.provenance or {}).get("memory_ids", [])],
        error=meta.get("error"),
        job_id=uuid.UUID(job) if job else None,
        created_at=head.created_at,
        updated_at=head.updated_at,
    )
