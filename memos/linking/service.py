"""Zettelkasten linking after A-MEM (Xu et al., 2025, arXiv:2502.12110): each new plaintext note gets
keywords, tags and a one-line context, and typed links with a strength and a reason to its nearest notes,
**by id**. Evolution: a new note may add tags (and a fresh context) to the neighbours it is strongly linked
with, always as a new version with provenance (actor ``system:linking``), never in place.

The offline path reads notes with ``memos.consolidation.claims`` and RAKE keywords; with ``MEMOS_LLM_MODEL``
set, one LLM call per batch proposes keywords, tags, context and links instead (handles, not ids, are shown
to the model and mapped back).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory
from memcube.repository import jobs as jobs_repo
from memcube.repository import links as repo
from memcube.repository import memories as memories_repo
from memcube.repository import neighbours
from memos.consolidation.claims import read_claim
from memos.guard import neighbours as guard_neighbours
from memos.linking.keywords import context_for, keywords_for, tags_for
from memos.linking.llm_path import NoteProposal, propose
from memos.llm import LLMClient, UsageSink
from memos.memories.service import revise
from memos.memories.versions import SYSTEM_CAUSE, Attribution, VersionBatch
from memos.timing import PhaseTimer

ACTOR = "system:linking"
JOB_TYPE = "linking.link"
NEIGHBOURS = 6
MIN_RELATED = 0.4
SUPPORTS = 0.8
EVOLVE_MIN = 0.5
MAX_EVOLVED = 3  # neighbours one new note may change
LINK_TYPES = ("related", "supports", "contradicts", "supersedes", "same_entity")


Hints = dict[uuid.UUID, list[tuple[uuid.UUID, float]]]


def enqueue_linking(
    session: Session, cube: Cube, memory_ids: list[uuid.UUID], *, tenant_id: uuid.UUID,
    key_id: uuid.UUID | None = None, job_id: uuid.UUID | None = None, hints: Hints | None = None,
) -> uuid.UUID:
    """Write one ``linking.link`` outbox row for a batch of memories (in the caller's transaction);
    ``tenant_id`` and ``key_id``: whose request caused it (the versions it writes name them); ``job_id``: a
    server-chosen id, so that enqueuing it twice gives one job (see ``jobs_repo.enqueue``); ``hints``: see
    ``link_memories``."""
    payload: dict[str, Any] = {"memory_ids": [str(m) for m in memory_ids]}
    if hints is not None:
        payload["neighbours"] = {str(m): [[str(n), round(sim, 4)] for n, sim in near] for m, near in hints.items()}
    job, _ = jobs_repo.enqueue(session, tenant_id=tenant_id, cube_id=cube.id, type=JOB_TYPE, payload=payload,
                               key_id=key_id, job_id=job_id)
    return job.id


@dataclass
class _Link:
    source: Memory
    target: Memory
    type: str
    strength: float
    reason: str


def classify(new: Memory, old: Memory, similarity: float) -> tuple[str, str] | None:
    """The most specific link type from ``new`` to ``old`` and why (None: not worth a link)."""
    superseded = {str(m) for m in (new.provenance or {}).get("memory_ids", [])}
    if str(old.id) in superseded:
        return "supersedes", "its provenance names this memory as superseded"
    a, b = read_claim(new.content), read_claim(old.content)
    same_slot = a.subject and a.subject == b.subject and a.relation and (a.relation, a.attribute) == (
        b.relation, b.attribute)
    if same_slot and a.negated != b.negated and (a.value & b.value or not a.value or not b.value):
        return "contradicts", f"one negates the other ({a.relation})"
    if same_slot and a.functional and a.value and b.value and a.value != b.value and not (a.negated or b.negated):
        return "contradicts", f"different values of {a.relation}: {' '.join(sorted(b.value))} vs " \
                              f"{' '.join(sorted(a.value))}"
    if similarity >= SUPPORTS and a.negated == b.negated:
        return "supports", f"says nearly the same (cosine {similarity:.2f})"
    shared = [e for e in a.entities if e in b.entities]
    if shared:
        return "same_entity", f"both about {', '.join(repr(e) for e in shared[:3])}"
    if similarity >= MIN_RELATED:
        return "related", f"similar content (cosine {similarity:.2f})"
    return None


def _provenance(memory_ids: list[uuid.UUID], note: str) -> dict[str, Any]:
    return schemas.Provenance(source=schemas.SourceType.system, actor=ACTOR, memory_ids=memory_ids,
                              note=note).model_dump(mode="json")


def link_memories(
    session: Session,
    memory_ids: list[uuid.UUID],
    *,
    hints: Hints | None = None,
    evolve: bool = True,
    llm: LLMClient | None = None,
    usage: UsageSink | None = None,
    cause: Attribution = SYSTEM_CAUSE,
) -> dict[str, Any]:
    """Link (or re-link) these memories; returns counts for the job result. Safe to run twice: links are
    upserted by (source, target, type) after the note's previous links of this actor are dropped, and
    enrichment/evolution write a version only when something actually changes.

    ``hints``: each note's nearest existing memories with their cosine, when the caller already searched
    the cube (the consolidation pass found each fact's nearest memories before writing it): the notes'
    neighbours are then these and each other, with no second index search and no other vectors read.
    ``cause``: whose request the versions written here trace back to (the linking job's key, tenant, id)."""
    timer = PhaseTimer()
    # Locked: a consolidation pass in another worker may change these notes meanwhile (it waits for this
    # job, or this job reads what it committed); their new versions must build on the current one.
    heads = [m for m in memories_repo.get_memories(session, memory_ids, lock=True)
             if m.status == "active" and m.kind == "plaintext" and m.embedding is not None]
    heads.sort(key=lambda m: (m.created_at, m.id))
    if not heads:
        return {"linked": 0, "links": 0, "evolved": 0}
    with timer.phase("neighbours"):
        if hints is None:
            neighbour_map = _nearest_in_cube(session, heads)
        else:
            neighbour_map = _nearest_from_hints(session, heads, hints)
    proposals: dict[uuid.UUID, NoteProposal] = {}
    if llm is not None:
        with timer.phase("llm"):
            proposals = propose(llm, heads, neighbour_map, usage=usage)
    with timer.phase("write"):
        result = _write_notes(session, heads, neighbour_map, proposals, evolve=evolve, cause=cause)
    return {**result, "timings_ms": timer.ms}


Neighbours = dict[uuid.UUID, list[tuple[Memory, float]]]


def _nearest_in_cube(session: Session, heads: list[Memory]) -> Neighbours:
    """Each note's NEIGHBOURS nearest active notes of its cube (one HNSW search per note, one statement)."""
    by_cube: dict[uuid.UUID, list[Memory]] = {}
    for m in heads:
        by_cube.setdefault(m.cube_id, []).append(m)
    memories_repo.tune_vector_search(session, ef_search=100)
    out: Neighbours = {}
    for cube_id, group in by_cube.items():
        no_text = [neighbours.LexicalQuery(match=[], idf={}) for _ in group]
        nearest = neighbours.candidates_many(session, [m.embedding for m in group], no_text, cube_id=cube_id,
                                             dense_k=NEIGHBOURS + 1, lexical_k=0)
        ids = {n.memory_id for row in nearest for n in row}
        found = {m.id: m for m in memories_repo.get_memories(session, list(ids))}
        for m, row in zip(group, nearest, strict=True):
            out[m.id] = [(found[n.memory_id], n.similarity) for n in row
                         if n.memory_id != m.id and n.memory_id in found][:NEIGHBOURS]
    return out


def _nearest_from_hints(session: Session, heads: list[Memory], hints: Hints) -> Neighbours:
    """Each note's NEIGHBOURS nearest among its hinted memories (their cosine as given) and the other notes
    of the batch (cosine of the stored vectors: they are normalised), active plaintext of the same cube.
    The hinted memories are read without their vectors."""
    index = {m.id: i for i, m in enumerate(heads)}
    wanted = {n for near in hints.values() for n, _ in near if n not in index}
    found = {m.id: m for m in memories_repo.get_memories(session, list(wanted), with_embedding=False)
             if m.status == "active" and m.kind == "plaintext"}
    matrix = np.asarray([np.asarray(m.embedding, dtype=np.float32) for m in heads])
    sims = matrix @ matrix.T
    out: Neighbours = {}
    for i, m in enumerate(heads):
        pool: dict[uuid.UUID, tuple[Memory, float]] = {
            n: (found[n], sim) for n, sim in hints.get(m.id, []) if n in found and found[n].cube_id == m.cube_id}
        # A note of this batch: its current vector, not the one the hint was computed against.
        pool.update((heads[j].id, (heads[j], float(sims[i, j]))) for j in range(len(heads))
                    if j != i and heads[j].cube_id == m.cube_id)
        out[m.id] = sorted(pool.values(), key=lambda ns: -ns[1])[:NEIGHBOURS]
    return out


def _write_notes(session: Session, heads: list[Memory], neighbour_map: Neighbours,
                 proposals: dict[uuid.UUID, NoteProposal], *, evolve: bool,
                 cause: Attribution = SYSTEM_CAUSE) -> dict[str, int]:
    """Keywords, tags, context and typed links of each note (the LLM's proposal where there is one, the
    offline reading otherwise), evolution of the neighbours, then the guard's check of each note against
    its established neighbours."""
    links: list[_Link] = []
    enriched = evolved = 0
    # Every version this run writes (enrichment and evolution) goes out in a few set-based statements.
    versions = VersionBatch(session, actor=ACTOR, cause=cause)
    repo.delete_outgoing(session, [m.id for m in heads], actor=ACTOR)
    for m in heads:
        near = neighbour_map[m.id]
        proposal = proposals.get(m.id)
        if proposal is not None:
            keywords, tags, context = proposal.keywords, proposal.tags, proposal.context
            by_id = {n.id: (n, s) for n, s in near}
            links.extend(_Link(m, by_id[p.target][0], p.type, p.strength, p.reason)
                         for p in proposal.links if p.target in by_id)
        else:
            keywords = keywords_for(m.content, [n.keywords or [] for n, _ in near])
            tags = tags_for(m.content)
            context = context_for(m.content, keywords)
            for n, sim in near:
                kind = classify(m, n, sim)
                if kind is not None:
                    links.append(_Link(m, n, kind[0], round(max(0.0, min(1.0, sim)), 3), kind[1]))
        new_tags = list(dict.fromkeys([*(m.tags or []), *tags]))
        if new_tags != list(m.tags or []) or context != m.context:
            # The note's own provenance stays (who wrote it, how far to trust it); actor and reason say
            # that linking made this version.
            revise(session, m, actor=ACTOR, reason="linking: keywords, tags and context",
                   provenance=m.provenance or _provenance([], "linking"), tags=new_tags, context=context,
                   keywords=keywords, batch=versions)
            enriched += 1
        else:
            m.keywords = keywords
    repo.upsert_links(session, [
        {"id": uuid.uuid4(), "tenant_id": link.source.tenant_id, "cube_id": link.source.cube_id,
         "source_id": link.source.id, "target_id": link.target.id, "type": link.type,
         "strength": link.strength, "reason": link.reason[:2000],
         "provenance": {"actor": ACTOR, "source": "system"}}
        for link in links
    ])
    if evolve:
        evolved = _evolve(session, heads, links, versions)
    # The guard's write-time consensus, on the neighbours just found (memos/guard/neighbours.py).
    contradicted: dict[uuid.UUID, list[Memory]] = {}
    for link in links:
        if link.type == "contradicts":
            contradicted.setdefault(link.source.id, []).append(link.target)
    flagged = guard_neighbours.check(heads, neighbour_map, contradicted, versions)
    versions.write()
    memories_repo.flush_heads(session, heads)  # keywords of notes that got no new version
    session.flush()
    # Copies of one claim its source wrote in a burst (memos/guard/bursts.py): the earlier copies too, so
    # after the versions above are written.
    burst_versions = VersionBatch(session, actor=guard_neighbours.ACTOR, cause=cause)
    flagged += guard_neighbours.flag_bursts(session, heads, burst_versions)
    burst_versions.write()
    # After every write above, so this run's own versions do not make the notes look stale.
    repo.mark_linked(session, [m.id for m in heads], datetime.now(UTC))
    return {"linked": len(heads), "links": len(links), "enriched": enriched, "evolved": evolved,
            "guard_flagged": flagged}


def _evolve(session: Session, heads: list[Memory], links: list[_Link], versions: VersionBatch) -> int:
    """A new note adds its keywords that its close neighbours also mention as tags on them (the topic the
    neighbourhood shares), with a refreshed context; at most MAX_EVOLVED neighbours per note."""
    batch = {m.id for m in heads}
    by_source: dict[uuid.UUID, list[_Link]] = {}
    for lk in links:
        if lk.target.id not in batch and lk.type in ("same_entity", "supports", "related") \
                and lk.strength >= EVOLVE_MIN:
            by_source.setdefault(lk.source.id, []).append(lk)
    plans = [(m, sorted(by_source.get(m.id, []), key=lambda lk: -lk.strength)[:MAX_EVOLVED]) for m in heads]
    # What evolution may change, locked and read again in one statement (id order): a consolidation pass
    # may have updated a neighbour since it was read without a lock.
    memories_repo.get_memories(session, list({lk.target.id for _, close in plans for lk in close}), lock=True,
                               with_embedding=False, refresh=True)
    changed = 0
    for m, close in plans:
        for lk in close:
            n = lk.target
            if n.status != "active":
                continue
            text = n.content.lower()
            gained = [k for k in (m.keywords or []) if k in text and k not in (n.tags or [])][:2]
            if not gained:
                continue
            tags = [*(n.tags or []), *gained]
            context = context_for(n.content, [*(n.keywords or []), *gained])
            revise(session, n, actor=ACTOR, tags=tags, context=context,
                   reason=f"evolution: new linked memory {m.id} adds tags {gained}",
                   provenance=n.provenance or _provenance([], f"evolution from {m.id}"), batch=versions)
            changed += 1
    return changed
