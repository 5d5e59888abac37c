"""Consolidation: a batch of stored messages -> facts -> ADD / UPDATE / DELETE / NOOP against the cube.

Runs inside the job's transaction (see ``memos.jobs.runner``): everything written here commits together
with the job's status, so a crash leaves nothing half-applied. Every version written names, in server-only
columns, the job that wrote it and the key and tenant whose messages caused it; a run that finds a version
of its own job (``memory_versions.job_id``) has already been applied and does nothing.

Messages of one tenant never rewrite or retract a memory another tenant's request created (a write-grantee
and the cube's owner share a cube, not authority over each other's memories): such an UPDATE or DELETE is
written as an ADD of the new claim beside the old memory, and the decision records the conflict.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import DEFAULT_KEY_MAX_TRUST, ChatMessage, Cube, Job, Memory
from memcube.repository import cubes as cubes_repo
from memcube.repository import jobs as jobs_repo
from memcube.repository import links as links_repo
from memcube.repository import memories as memories_repo
from memcube.repository import messages as messages_repo
from memcube.repository import neighbours
from memcube.repository import retrieval as retrieval_repo
from memcube.repository import tenants as tenants_repo
from memos.config import Settings
from memos.consolidation.llm_path import LLMConsolidator
from memos.consolidation.offline import OfflineConsolidator
from memos.consolidation.types import Action, Candidate, Consolidator, Decision, Fact, Turn
from memos.embedding import Embedder
from memos.errors import NotFound
from memos.llm import LLMClient, UsageSink, get_llm
from memos.memories import service as memories
from memos.memories.versions import Attribution, VersionBatch
from memos.messages.service import USER_ROLES
from memos.retrieval.service import bm25_idf, match_terms
from memos.timing import PhaseTimer

log = logging.getLogger(__name__)

ACTOR = "system:consolidation"
DENSE_K = 8
# Why a claim was added beside a memory instead of rewriting or retracting it (``conflict.why``).
OTHER_TENANT = "another tenant's memory"
OTHER_SPEAKER = "another speaker's memory"
LESS_TRUSTED = "written with more trust"
SPEAKER_K = 4  # nearest of the fact's speaker's own memories, beyond the cube's DENSE_K nearest
LEXICAL_K = 5
CANDIDATES_EF_SEARCH = 40  # HNSW beam for the 8 nearest of each fact (search uses 100 for its 50 candidates)
# Rows the lexical candidates of one fact may cost in a large cube (the search allows 1,000: it ranks what
# it finds; a fact needs only its few closest, and a batch runs hundreds of these).
LEXICAL_MATCH_BUDGET = 200
# A backlog is consolidated in passes of at most this many messages / jobs (see ``consolidate``).
MAX_COALESCED_MESSAGES = 256
MAX_COALESCED_JOBS = 64


def build_consolidator(
    settings: Settings, *, usage: UsageSink | None = None, llm: LLMClient | None = None
) -> Consolidator:
    """The LLM path when a model is configured (or given), the offline path otherwise."""
    llm = llm or get_llm(settings)
    if llm is not None:
        return LLMConsolidator(llm, usage=usage)
    return OfflineConsolidator()


def lexical_queries(session: Session, cube: Cube, texts: list[str], settings: Settings
                    ) -> tuple[list[neighbours.LexicalQuery], float]:
    """Each text as a BM25 query against the cube (the search's idf and common-term pruning), and the
    cube's average memory length."""
    stats = retrieval_repo.lexeme_stats_many(session, cube.id, texts)
    queries = []
    for st in stats:
        idf = bm25_idf(st, settings.search_max_df_ratio)
        queries.append(neighbours.LexicalQuery(match=match_terms(st, idf, LEXICAL_MATCH_BUDGET), idf=idf))
    return queries, max(next((st.avg_len for st in stats if st.docs), 1.0), 1e-9)


def find_candidates(session: Session, cube: Cube, facts: list[Fact], settings: Settings) -> list[list[Candidate]]:
    """Nearest existing memories of each fact: dense (pgvector), the speaker's own nearest, and lexical
    (BM25), merged, in one statement. Handles ("m1", "m2"...) are per memory, so the same memory has one
    name in the whole batch."""
    if not facts:
        return []
    memories_repo.tune_vector_search(session, ef_search=CANDIDATES_EF_SEARCH)
    queries, avg_len = lexical_queries(session, cube, [f.text for f in facts], settings)
    found = neighbours.candidates_many(
        session, [f.vector for f in facts], queries, cube_id=cube.id, dense_k=DENSE_K, lexical_k=LEXICAL_K,
        speakers=[f.speaker or None for f in facts], speaker_k=SPEAKER_K, avg_len=avg_len,
        k1=settings.search_bm25_k1, b=settings.search_bm25_b,
    )
    handles: dict[uuid.UUID, str] = {}
    return [[Candidate(handles.setdefault(n.memory_id, f"m{len(handles) + 1}"), n.content, n.similarity,
                       memory_id=n.memory_id) for n in row] for row in found]


def _turns(messages: list[ChatMessage]) -> list[Turn]:
    return [Turn(role=m.role, content=m.content, name=m.name, timestamp=m.timestamp, message_id=m.id)
            for m in messages]


def fact_trust(msg: ChatMessage, max_trust: float) -> float:
    """A user's own words are trusted more than an assistant's or a tool's; never above the key's ceiling."""
    return min(0.7 if msg.role.lower() in USER_ROLES else 0.5, max_trust)


def memory_author(memory: Memory) -> str | None:
    """Who said what a memory holds: its speaker (``role``, or ``metadata.speaker``), if it has one."""
    speaker = memory.role or (memory.meta or {}).get("speaker")
    return str(speaker) if speaker else None


def no_authority(speaker: str | None, trust: float, target_content: str, target_author: str | None,
                 target_trust: float) -> str | None:
    """Why a fact may not rewrite or retract a memory of the same tenant, or None when it may.

    Only its own speaker may correct what someone said (a poster chooses the speaker names it sends, so a
    message as "Bob" that "Alice quit" must not retract Alice's job); a memory nobody is named as the
    speaker of (an agent's note) only by the person it names. And only with at least the trust the memory
    was written with (a tool's output does not overrule the user's own words)."""
    mine = (speaker or "").strip().casefold()
    if target_author is None:
        if not mine or not re.search(rf"\b{re.escape(mine)}\b", target_content.casefold()):
            return OTHER_SPEAKER
    elif mine != target_author.strip().casefold():
        return OTHER_SPEAKER
    if trust + 1e-9 < target_trust:
        return LESS_TRUSTED
    return None


def _provenance(job: Job, msg: ChatMessage, superseded: list[uuid.UUID], session_id: str | None,
                max_trust: float) -> dict[str, Any]:
    """The actor is the key that posted the message (the speaker is a name in the message, which the
    poster chose: it stays in ``role`` and ``metadata.speaker``); trust is capped by that key's ceiling."""
    return schemas.Provenance(
        source=schemas.SourceType.consolidation, actor=f"key:{job.key_id}" if job.key_id else ACTOR,
        message_ids=[msg.id], memory_ids=superseded, session_id=session_id,
        trust=fact_trust(msg, max_trust),
    ).model_dump(mode="json")


def _trust_ceilings(session: Session, jobs: list[Job]) -> dict[uuid.UUID, float]:
    """Each job's key's ``max_trust`` (1.0 for a job no key enqueued)."""
    out: dict[uuid.UUID, float] = {}
    for j in jobs:
        key = tenants_repo.get_key(session, j.key_id) if j.key_id is not None else None
        out[j.id] = 1.0 if j.key_id is None else key.max_trust if key is not None else DEFAULT_KEY_MAX_TRUST
    return out


def consolidate(
    session: Session,
    job: Job,
    *,
    settings: Settings,
    embedder: Embedder,
    usage: UsageSink | None = None,
    consolidator: Consolidator | None = None,
    coalesce: bool = False,
) -> dict[str, Any]:
    """Run a ``consolidation.messages`` job; returns the job result (the decision list and counts).

    With ``coalesce`` (the worker's handler, which holds the cube's serial lock), the cube's other jobs
    already handed to the broker and not yet run, that never failed (up to ``MAX_COALESCED_MESSAGES``
    messages), in the order they were posted, are run in the same pass and marked succeeded in this
    transaction: under a backlog, one extraction, one embedding call, one neighbour lookup and one insert
    for many batches. Each absorbed job gets its own decisions as its result, with ``coalesced_into``
    naming this job (which is charged any LLM usage); their own deliveries later find them done."""
    if job.cube_id is None:
        raise NotFound("the job names no cube")
    cube = cubes_repo.get_cube(session, job.cube_id)
    if cube is None:
        raise NotFound("the cube is gone")
    if memories_repo.job_has_versions(session, job.id):
        return {"skipped": "already applied"}
    group = _coalesce(session, job, settings) if coalesce else [job]
    ids_of = {j.id: {uuid.UUID(str(m)) for m in j.payload.get("message_ids", [])} for j in group}
    # One read for the whole group's messages (in seq order), split by job.
    stored = messages_repo.get_messages(session, [m for ids in ids_of.values() for m in ids])
    by_job = {j.id: [m for m in stored if m.id in ids_of[j.id]] for j in group}
    # Earlier batches first (messages.seq is the order they were stored in; created_at may tie): a fact
    # is compared with what was said before it, not after.
    group.sort(key=lambda j: min((m.seq for m in by_job[j.id]), default=0))
    messages = [m for j in group for m in by_job[j.id]]
    job_of = {m.id: j for j in group for m in by_job[j.id]}  # message id -> its job
    consolidator = consolidator or build_consolidator(settings, usage=usage)
    timer = PhaseTimer()
    with timer.phase("extract"):
        facts = consolidator.extract(_turns(messages))
    if facts:
        with timer.phase("embed"):
            # One forward pass for every fact of every batch in the group. (Embedding the next chunk in a
            # thread while this one is written was measured slower: the forward pass needs the GIL too.)
            vectors = embedder.embed([f.text for f in facts])
        for fact, vec in zip(facts, vectors, strict=True):
            fact.vector = vec
    with timer.phase("candidates"):
        candidates = find_candidates(session, cube, facts, settings)
    with timer.phase("decide"):
        decisions = consolidator.decide(facts, candidates)
    with timer.phase("apply"):
        applied = apply_decisions(session, cube, facts, decisions, messages, job_of, embedder=embedder,
                                  settings=settings)
    rows: list[dict[str, Any]] = applied["decisions"]
    touched: list[uuid.UUID] = applied["created"] + applied["updated"]
    linking_job_id = None
    if touched:
        from memos.linking.service import NEIGHBOURS, enqueue_linking

        # Each written memory's nearest, as its fact found them: linking needs no second index search.
        hints = {mid: sorted(((c.memory_id, c.similarity) for c in candidates[fi]
                              if c.memory_id is not None and c.memory_id != mid), key=lambda ns: -ns[1])[:NEIGHBOURS]
                 for mid, fi in applied["written_by"].items()}
        # Its id derives from this job's (never a client-writable idempotency key, which a client could
        # take first and so make this linking job never exist).
        linking_job_id = enqueue_linking(session, cube, touched, tenant_id=job.tenant_id, key_id=job.key_id,
                                         job_id=uuid.uuid5(job.id, "linking"), hints=hints)
    results: dict[uuid.UUID, dict[str, Any]] = {}
    for j in group:
        own = [r for r in rows if job_of[uuid.UUID(r["message_id"])].id == j.id]
        results[j.id] = {
            "path": consolidator.name,
            "messages": len(j.payload.get("message_ids", [])),
            "facts": len(own),
            "counts": {a.value: sum(1 for r in own if r["action"] == a.value) for a in Action},
            "conflicts": sum(1 for r in own if "conflict" in r),
            "decisions": own,
            "linking_job_id": str(linking_job_id) if linking_job_id else None,
        }
    now = datetime.now(UTC)
    for j in group:
        if j.id == job.id:
            continue
        if j.status == "queued":
            j.attempts += 1  # it ran now (its own claim never happened)
        j.status, j.result, j.error = "succeeded", {**results[j.id], "coalesced_into": str(job.id)}, None
        j.started_at = j.started_at or now
        j.finished_at = now
    if len(group) > 1:
        results[job.id]["coalesced"] = [str(j.id) for j in group if j.id != job.id]
    # The pass's cost, on the job that ran it (absorbed jobs name it in ``coalesced_into``).
    results[job.id]["timings_ms"] = timer.ms
    log.info("consolidation job %s: %d messages of %d jobs, %d facts; %s", job.id, len(job_of), len(group),
             len(rows), timer.ms)
    return results[job.id]


def _coalesce(session: Session, job: Job, settings: Settings) -> list[Job]:
    """This job and the cube's other pending consolidation jobs, oldest first, within the message cap."""
    pending = jobs_repo.pending_of_cube(session, cube_id=job.cube_id, type=job.type,  # type: ignore[arg-type]
                                        max_attempts=settings.job_max_attempts, limit=MAX_COALESCED_JOBS)
    group: list[Job] = []
    n = len(job.payload.get("message_ids", []))
    for j in pending:
        if j.id == job.id:
            continue
        size = len(j.payload.get("message_ids", []))
        if n + size > MAX_COALESCED_MESSAGES:
            break
        group.append(j)
        n += size
    return [job, *group]


def apply_decisions(
    session: Session,
    cube: Cube,
    facts: list[Fact],
    decisions: list[Decision],
    messages: list[ChatMessage],
    job_of: dict[uuid.UUID, Job],
    *,
    embedder: Embedder,
    settings: Settings,
) -> dict[str, Any]:
    """Write the decisions. A target that is an earlier fact of the batch resolves to the memory that fact
    wrote (so "add, then correct" in one batch is an ADD then an UPDATE, history included).

    Two passes: the first resolves every target (existing heads locked in one statement, in id order) and
    what each decision becomes (an UPDATE of a memory that is gone is an ADD, a DELETE of one is a NOOP; an
    UPDATE or DELETE of a memory another tenant's request created is an ADD with a ``conflict``); then every
    ADD is inserted by one ``add_memories`` call (ids assigned in the first pass), and UPDATEs and DELETEs
    are written in order as new versions. Every version names its fact's job, and that job's key and tenant."""
    limits = memories.Limits.from_settings(settings)
    db_targets = sorted({d.target.memory_id for d in decisions if d.target is not None
                         and d.target.memory_id is not None and d.action in (Action.UPDATE, Action.DELETE)})
    heads = {m.id: m for m in memories_repo.get_memories(session, db_targets, lock=True)}
    status = {mid: m.status for mid, m in heads.items()}
    # Whose request created each target; not recorded (before attribution, or a system write): the owner's.
    creators = memories_repo.creator_tenants(session, list(heads))
    creator = {mid: creators.get(mid) or m.tenant_id for mid, m in heads.items()}
    author = {mid: memory_author(m) for mid, m in heads.items()}
    trusts = {mid: m.trust for mid, m in heads.items()}
    texts = {mid: m.content for mid, m in heads.items()}
    ceilings = _trust_ceilings(session, list({j.id: j for j in job_of.values()}.values()))
    written: dict[int, uuid.UUID] = {}  # fact index -> memory it added or updated
    plan: list[tuple[Decision, Action, uuid.UUID | None, dict[str, Any]]] = []
    adds: list[tuple[int, uuid.UUID]] = []  # (index in plan, new id)
    for d in decisions:
        fact = facts[d.fact_index]
        msg = messages[fact.turn_index]
        tenant = job_of[msg.id].tenant_id
        target_id: uuid.UUID | None = None
        if d.target is not None:
            target_id = d.target.memory_id or (
                written.get(d.target.fact_index) if d.target.fact_index is not None else None)
        action = d.action
        if action in (Action.UPDATE, Action.DELETE) and (target_id is None or status.get(target_id) != "active"):
            action = Action.ADD if action is Action.UPDATE else Action.NOOP
        row: dict[str, Any] = {"fact": fact.text, "action": action.value, "reason": d.reason,
                               "message_id": str(msg.id), "target_id": str(target_id) if target_id else None}
        trust = fact_trust(msg, ceilings[job_of[msg.id].id])
        if action in (Action.UPDATE, Action.DELETE) and target_id is not None:
            why = (OTHER_TENANT if creator[target_id] != tenant
                   else no_authority(fact.speaker, trust, texts[target_id], author[target_id], trusts[target_id]))
            if why is not None:
                # Not this claim's to rewrite or retract: keep the memory, add the claim beside it (attributed
                # to its own poster) and link it to the memory it disputes.
                row["conflict"] = {"memory_id": str(target_id), "proposed": action.value, "why": why,
                                   "created_by_tenant_id": str(creator[target_id])}
                action = Action.ADD
                row["action"] = action.value
        if action is Action.ADD:
            new_id = uuid.uuid4()
            status[new_id] = "active"
            creator[new_id] = tenant
            author[new_id], trusts[new_id], texts[new_id] = fact.speaker, trust, fact.text
            written[d.fact_index] = new_id
            adds.append((len(plan), new_id))
            row["memory_id"] = str(new_id)
        elif action is Action.UPDATE and target_id is not None:
            written[d.fact_index] = target_id
            row["memory_id"] = str(target_id)
        elif action is Action.DELETE and target_id is not None:
            status[target_id] = "deleted"
            row["memory_id"] = str(target_id)
        plan.append((d, action, target_id, row))

    if adds:
        items, vectors, causes = [], [], []
        for index, _ in adds:
            d, _, _, row = plan[index]
            fact = facts[d.fact_index]
            msg = messages[fact.turn_index]
            job = job_of[msg.id]
            session_id = job.payload.get("session_id")
            metadata = _metadata(fact, msg)
            if "conflict" in row:
                metadata["conflicts_with"] = row["conflict"]["memory_id"]
            items.append(schemas.MemoryCreate(
                content=fact.text, event_time=fact.event_time, session_id=session_id, role=fact.speaker,
                metadata=metadata,
                provenance=schemas.Provenance.model_validate(
                    _provenance(job, msg, [], session_id, ceilings[job.id])),
            ))
            vectors.append(fact.vector)
            causes.append(Attribution.of_job(job))
        have_all = all(v is not None for v in vectors)
        new_heads = memories.add_memories(session, cube, items, actor=ACTOR, limits=limits, embedder=embedder,
                                          embeddings=vectors if have_all else None,
                                          extra=[{"id": new_id} for _, new_id in adds], cause=causes)
        heads.update((h.id, h) for h in new_heads)
        disputes = [(new_id, plan[index][3]["conflict"]) for index, new_id in adds if "conflict" in plan[index][3]]
        links_repo.upsert_links(session, [
            {"tenant_id": cube.tenant_id, "cube_id": cube.id, "source_id": new_id,
             "target_id": uuid.UUID(c["memory_id"]), "type": "contradicts", "strength": 1.0,
             "reason": f"disputes it ({c['why']}): proposed {c['proposed']}, kept it",
             "provenance": {"actor": ACTOR, "source": "consolidation"}}
            for new_id, c in disputes])

    created = [new_id for _, new_id in adds]
    updated: list[uuid.UUID] = []
    # Reworded UPDATEs (the LLM path) embedded in one call; every new version written by one VersionBatch.
    reworded = sorted({d.text for d, action, _, _ in plan if action is Action.UPDATE and d.text
                       and d.text != facts[d.fact_index].text})
    reworded_vectors = dict(zip(reworded, embedder.embed(reworded), strict=True)) if reworded else {}
    versions = VersionBatch(session, actor=ACTOR)
    for d, action, target_id, _ in plan:
        if action not in (Action.UPDATE, Action.DELETE) or target_id is None:
            continue
        fact = facts[d.fact_index]
        msg = messages[fact.turn_index]
        job = job_of[msg.id]
        session_id = job.payload.get("session_id")
        provenance = _provenance(job, msg, [target_id], session_id, ceilings[job.id])
        head = heads[target_id]
        if action is Action.UPDATE:
            content = d.text or fact.text
            vector = (fact.vector if content == fact.text and fact.vector is not None
                      else reworded_vectors.get(content))
            if vector is None:
                vector = embedder.embed_one(content)
            reason = f"UPDATE: {d.reason}; supersedes version {head.version}: {head.content[:300]!r}"
            memories.revise(
                session, head, actor=ACTOR, reason=reason, content=content, embedding=vector,
                metadata={**(head.meta or {}), **_metadata(fact, msg)}, event_time=fact.event_time,
                provenance=provenance, batch=versions, cause=Attribution.of_job(job),
            )
            if head.id not in created and head.id not in updated:
                updated.append(head.id)
        else:
            head.provenance = provenance
            memories.set_status(session, head, "deleted", actor=ACTOR,
                                reason=f"DELETE: {d.reason}; retracted by {fact.text[:300]!r}", batch=versions,
                                cause=Attribution.of_job(job))
    versions.write()
    # The fact that last wrote each memory (its candidates are the memory's neighbours for linking).
    written_by = {mid: fi for fi, mid in sorted(written.items())}
    return {"decisions": [row for *_, row in plan], "created": created, "updated": updated,
            "written_by": written_by}


def _metadata(fact: Fact, msg: ChatMessage) -> dict[str, Any]:
    return {"speaker": fact.speaker, "message_role": msg.role, **({"dates": fact.dates} if fact.dates else {})}
