"""Consolidation: a batch of stored messages -> facts -> ADD / UPDATE / DELETE / NOOP against the cube.

Runs inside the job's transaction (see ``memos.jobs.runner``): everything written here commits together
with the job's status, so a crash leaves nothing half-applied. Every version written carries the marker
``provenance.note = "consolidation job <id>"``; a run that finds it already applied does nothing.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import ChatMessage, Cube, Job, Memory
from memcube.repository import cubes as cubes_repo
from memcube.repository import memories as memories_repo
from memcube.repository import messages as messages_repo
from memcube.repository import neighbours
from memos.config import Settings
from memos.consolidation.llm_path import LLMConsolidator
from memos.consolidation.offline import OfflineConsolidator
from memos.consolidation.types import Action, Candidate, Consolidator, Decision, Fact, Turn
from memos.embedding import Embedder
from memos.errors import NotFound
from memos.llm import LLMClient, UsageSink, get_llm
from memos.memories import service as memories
from memos.messages.service import USER_ROLES

log = logging.getLogger(__name__)

ACTOR = "system:consolidation"
DENSE_K = 8
LEXICAL_K = 5


def build_consolidator(
    settings: Settings, *, usage: UsageSink | None = None, llm: LLMClient | None = None
) -> Consolidator:
    """The LLM path when a model is configured (or given), the offline path otherwise."""
    llm = llm or get_llm(settings)
    if llm is not None:
        return LLMConsolidator(llm, usage=usage)
    return OfflineConsolidator()


def job_marker(job_id: uuid.UUID) -> str:
    return f"consolidation job {job_id}"


def find_candidates(session: Session, cube: Cube, facts: list[Fact]) -> list[list[Candidate]]:
    """Nearest existing memories of each fact: dense (pgvector) and lexical (full text), merged.
    Handles ("m1", "m2"...) are per memory, so the same memory has one name in the whole batch."""
    if not facts:
        return []
    memories_repo.tune_vector_search(session, ef_search=100)
    dense = neighbours.nearest_many(session, [f.vector for f in facts if f.vector is not None],
                                    cube_id=cube.id, limit=DENSE_K)
    lexical = neighbours.lexical_many(session, [f.text for f in facts], cube_id=cube.id, limit=LEXICAL_K)
    ids = {mid for row in dense for mid, _ in row} | {mid for row in lexical for mid in row}
    heads = {m.id: m for m in memories_repo.get_memories(session, list(ids))}
    with_vector = {mid for mid in ids if mid in heads and heads[mid].embedding is not None}
    handles: dict[uuid.UUID, str] = {}
    out: list[list[Candidate]] = []
    for i, fact in enumerate(facts):
        sims = dict(dense[i]) if i < len(dense) else {}
        merged: list[Candidate] = []
        for mid in list(sims) + [m for m in lexical[i] if m not in sims]:
            head = heads.get(mid)
            if head is None or head.status != "active":
                continue
            sim = sims.get(mid)
            if sim is None and fact.vector is not None and mid in with_vector:
                sim = float((fact.vector * head.embedding).sum())
            handle = handles.setdefault(mid, f"m{len(handles) + 1}")
            merged.append(Candidate(handle, head.content, sim or 0.0, memory_id=mid))
        out.append(merged)
    return out


def _turns(messages: list[ChatMessage]) -> list[Turn]:
    return [Turn(role=m.role, content=m.content, name=m.name, timestamp=m.timestamp, message_id=m.id)
            for m in messages]


def _provenance(job: Job, msg: ChatMessage, speaker: str, superseded: list[uuid.UUID],
                session_id: str | None) -> dict[str, Any]:
    user = msg.role.lower() in USER_ROLES
    return schemas.Provenance(
        source=schemas.SourceType.consolidation, actor=speaker, message_ids=[msg.id], memory_ids=superseded,
        session_id=session_id, trust=0.7 if user else 0.5, note=job_marker(job.id),
    ).model_dump(mode="json")


def consolidate(
    session: Session,
    job: Job,
    *,
    settings: Settings,
    embedder: Embedder,
    usage: UsageSink | None = None,
    consolidator: Consolidator | None = None,
) -> dict[str, Any]:
    """Run a ``consolidation.messages`` job; returns the job result (the decision list and counts)."""
    if job.cube_id is None:
        raise NotFound("the job names no cube")
    cube = cubes_repo.get_cube(session, job.cube_id)
    if cube is None:
        raise NotFound("the cube is gone")
    if neighbours.has_version_with_provenance(session, cube.id, {"note": job_marker(job.id)}):
        return {"skipped": "already applied"}
    message_ids = [uuid.UUID(str(m)) for m in job.payload.get("message_ids", [])]
    session_id = job.payload.get("session_id")
    messages = messages_repo.get_messages(session, message_ids)
    consolidator = consolidator or build_consolidator(settings, usage=usage)
    turns = _turns(messages)
    facts = consolidator.extract(turns)
    if facts:
        vectors = embedder.embed([f.text for f in facts])
        for fact, vec in zip(facts, vectors, strict=True):
            fact.vector = vec
    candidates = find_candidates(session, cube, facts)
    decisions = consolidator.decide(facts, candidates)
    applied = apply_decisions(session, cube, job, facts, decisions, messages, embedder=embedder,
                              settings=settings, session_id=session_id)
    touched = applied["created"] + applied["updated"]
    linking_job_id = None
    if touched:
        from memos.linking.service import enqueue_linking

        linking_job_id = enqueue_linking(session, cube, touched, tenant_id=job.tenant_id,
                                         idempotency_key=f"linking:{job.id}")
    counts = {a.value: sum(1 for d in decisions if d.action is a) for a in Action}
    return {
        "path": consolidator.name,
        "messages": len(messages),
        "facts": len(facts),
        "counts": counts,
        "decisions": applied["decisions"],
        "linking_job_id": str(linking_job_id) if linking_job_id else None,
    }


def apply_decisions(
    session: Session,
    cube: Cube,
    job: Job,
    facts: list[Fact],
    decisions: list[Decision],
    messages: list[ChatMessage],
    *,
    embedder: Embedder,
    settings: Settings,
    session_id: str | None,
) -> dict[str, Any]:
    """Write the decisions in order. A target that is an earlier fact of the batch resolves to the memory
    that fact wrote (so "add, then correct" in one batch is an ADD then an UPDATE, history included)."""
    limits = memories.Limits.from_settings(settings)
    written: dict[int, uuid.UUID] = {}  # fact index -> memory it added or updated
    created: list[uuid.UUID] = []
    updated: list[uuid.UUID] = []
    log_rows: list[dict[str, Any]] = []
    for d in decisions:
        fact = facts[d.fact_index]
        msg = messages[fact.turn_index]
        target_id: uuid.UUID | None = None
        if d.target is not None:
            target_id = d.target.memory_id or (
                written.get(d.target.fact_index) if d.target.fact_index is not None else None)
        action = d.action
        head: Memory | None = None
        if action in (Action.UPDATE, Action.DELETE):
            head = memories_repo.get_memory(session, target_id, lock=True) if target_id else None
            if head is None or head.status != "active":
                action = Action.ADD if action is Action.UPDATE else Action.NOOP
        row: dict[str, Any] = {"fact": fact.text, "action": action.value, "reason": d.reason,
                               "message_id": str(msg.id), "target_id": str(target_id) if target_id else None}
        metadata = {"speaker": fact.speaker, "message_role": msg.role, **({"dates": fact.dates} if fact.dates else {})}
        if action is Action.ADD:
            item = schemas.MemoryCreate(
                content=fact.text, event_time=fact.event_time, session_id=session_id, role=fact.speaker,
                metadata=metadata,
                provenance=schemas.Provenance.model_validate(_provenance(job, msg, fact.speaker, [], session_id)),
            )
            (new,) = memories.add_memories(session, cube, [item], actor=ACTOR, limits=limits, embedder=embedder,
                                           embeddings=[fact.vector] if fact.vector is not None else None)
            written[d.fact_index] = new.id
            created.append(new.id)
            row["memory_id"] = str(new.id)
        elif action is Action.UPDATE and head is not None:
            content = d.text or fact.text
            vector = fact.vector if content == fact.text and fact.vector is not None else embedder.embed_one(content)
            reason = f"UPDATE: {d.reason}; supersedes version {head.version}: {head.content[:300]!r}"
            memories.revise(
                session, head, actor=ACTOR, reason=reason, content=content, embedding=vector,
                metadata={**(head.meta or {}), **metadata}, event_time=fact.event_time,
                provenance=_provenance(job, msg, fact.speaker, [head.id], session_id),
            )
            written[d.fact_index] = head.id
            if head.id not in created and head.id not in updated:
                updated.append(head.id)
            row["memory_id"] = str(head.id)
        elif action is Action.DELETE and head is not None:
            head.provenance = _provenance(job, msg, fact.speaker, [head.id], session_id)
            memories.set_status(session, head, "deleted", actor=ACTOR,
                                reason=f"DELETE: {d.reason}; retracted by {fact.text[:300]!r}")
            row["memory_id"] = str(head.id)
        log_rows.append(row)
    return {"decisions": log_rows, "created": created, "updated": updated}
