"""Write a batch's decisions: the one applier both paths (offline, LLM) share.

Nothing is rewritten in place and nothing is deleted. A fact that UPDATEs (or, on the LLM path, DELETEs) a
memory is written as a new memory, and the memory it supersedes gets a new version: status ``archived``
(out of default search, which answers with what is valid now), ``metadata.valid_to`` = the new fact's
event time and ``metadata.superseded_by`` = the new memory, plus a ``superseded_by`` link to it. Its
history, ``as_of`` reads and a search that asks for ``archived`` still find it, with its successor named.
An ADD the rules were unsure about (``Decision.may_update``) is linked ``may_update`` to the memory it may
change. A fact may supersede only what its own speaker said, with at least that memory's trust, and only a
memory its own tenant's request created; otherwise it is added beside it with ``conflict`` and linked
``contradicts``.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import DEFAULT_KEY_MAX_TRUST, ChatMessage, Cube, Job, Memory
from memcube.repository import links as links_repo
from memcube.repository import memories as memories_repo
from memcube.repository import tenants as tenants_repo
from memos.config import Settings
from memos.consolidation.types import Action, Decision, Fact
from memos.embedding import Embedder
from memos.memories import service as memories
from memos.memories.versions import Attribution, VersionBatch
from memos.messages.service import USER_ROLES

ACTOR = "system:consolidation"
# Why a claim was added beside a memory instead of superseding it (``conflict.why``).
OTHER_TENANT = "another tenant's memory"
OTHER_SPEAKER = "another speaker's memory"
LESS_TRUSTED = "written with more trust"
SUPERSEDED = "archived"  # the status of a memory a newer fact superseded


def fact_trust(msg: ChatMessage, max_trust: float) -> float:
    """A user's own words are trusted more than an assistant's or a tool's; never above the key's ceiling."""
    return min(0.7 if msg.role.lower() in USER_ROLES else 0.5, max_trust)


def memory_author(memory: Memory) -> str | None:
    """Who said what a memory holds: its speaker (``role``, or ``metadata.speaker``), if it has one."""
    speaker = memory.role or (memory.meta or {}).get("speaker")
    return str(speaker) if speaker else None


def no_authority(speaker: str | None, trust: float, target_content: str, target_author: str | None,
                 target_trust: float) -> str | None:
    """Why a fact may not supersede a memory of the same tenant, or None when it may.

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


def _provenance(job: Job, msgs: list[ChatMessage], superseded: list[uuid.UUID], session_id: str | None,
                max_trust: float) -> dict[str, Any]:
    """The actor is the key that posted the messages (the speaker is a name in them, which the poster
    chose: it stays in ``role`` and ``metadata.speaker``); trust is capped by that key's ceiling."""
    return schemas.Provenance(
        source=schemas.SourceType.consolidation, actor=f"key:{job.key_id}" if job.key_id else ACTOR,
        message_ids=[m.id for m in msgs], memory_ids=superseded, session_id=session_id,
        trust=min(fact_trust(m, max_trust) for m in msgs),
    ).model_dump(mode="json")


def _trust_ceilings(session: Session, jobs: list[Job]) -> dict[uuid.UUID, float]:
    """Each job's key's ``max_trust`` (1.0 for a job no key enqueued)."""
    out: dict[uuid.UUID, float] = {}
    for j in jobs:
        key = tenants_repo.get_key(session, j.key_id) if j.key_id is not None else None
        out[j.id] = 1.0 if j.key_id is None else key.max_trust if key is not None else DEFAULT_KEY_MAX_TRUST
    return out


def _metadata(fact: Fact, msg: ChatMessage) -> dict[str, Any]:
    return {"speaker": fact.speaker, "message_role": msg.role, **({"dates": fact.dates} if fact.dates else {})}


def _link(cube: Cube, source: uuid.UUID, target: uuid.UUID, type_: str, reason: str) -> dict[str, Any]:
    return {"tenant_id": cube.tenant_id, "cube_id": cube.id, "source_id": source, "target_id": target,
            "type": type_, "strength": 1.0, "reason": reason[:500],
            "provenance": {"actor": ACTOR, "source": "consolidation"}}


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
    wrote (so "add, then correct" in one batch supersedes the batch's own new memory).

    First every target is resolved (existing heads locked in one statement, in id order) and what each
    decision becomes (a supersession of a memory that is no longer active is a plain ADD; a retraction of
    one, or a NOOP, writes nothing; a supersession without authority is an ADD with a ``conflict``); then
    every new memory is inserted by one ``add_memories`` call and the superseded ones get their closing
    versions in one ``VersionBatch``. Every version names its fact's job, and that job's key and tenant."""
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
    written: dict[int, uuid.UUID] = {}  # fact index -> the memory it wrote
    rows: list[dict[str, Any]] = []
    adds: list[tuple[int, uuid.UUID]] = []  # (index in rows / decisions, new id)
    supersedes: dict[uuid.UUID, uuid.UUID] = {}  # old memory -> the new memory that supersedes it
    for k, d in enumerate(decisions):
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
        said_again = None if d.restates is None else d.restates.memory_id or (
            written.get(d.restates.fact_index) if d.restates.fact_index is not None else None)
        if said_again is not None:
            row["restates"] = str(said_again)
        if len(fact.turn_indexes) > 1:
            row["message_ids"] = [str(messages[t].id) for t in fact.turn_indexes]
        trust = min(fact_trust(messages[t], ceilings[job_of[messages[t].id].id]) for t in fact.turn_indexes)
        if action in (Action.UPDATE, Action.DELETE) and target_id is not None:
            why = (OTHER_TENANT if creator[target_id] != tenant
                   else no_authority(fact.speaker, trust, texts[target_id], author[target_id], trusts[target_id]))
            if why is not None:
                # Not this claim's to supersede: keep the memory, add the claim beside it (attributed to its own
                # poster) and link it to the memory it disputes.
                row["conflict"] = {"memory_id": str(target_id), "proposed": action.value, "why": why,
                                   "created_by_tenant_id": str(creator[target_id])}
                row["action"] = Action.ADD.value
        if row["action"] in (Action.ADD.value, Action.UPDATE.value, Action.DELETE.value):
            new_id = uuid.uuid4()
            status[new_id], creator[new_id] = "active", tenant
            author[new_id], trusts[new_id], texts[new_id] = fact.speaker, trust, fact.text
            written[d.fact_index] = new_id
            adds.append((k, new_id))
            row["memory_id"] = str(new_id)
            if row["action"] != Action.ADD.value and target_id is not None:
                status[target_id] = SUPERSEDED
                supersedes[target_id] = new_id
        rows.append(row)

    created = [new_id for _, new_id in adds]
    if adds:
        # The LLM path may word the successor itself (``Decision.text``): those texts embedded in one call.
        content: dict[int, str] = {k: d.text if d.action is not Action.ADD and d.text else facts[d.fact_index].text
                                   for k, d in ((k, decisions[k]) for k, _ in adds)}
        # ... and so are the memories of several sentences (``plan`` leaves their vector to be computed).
        reworded = sorted({c for k, c in content.items() if c != (f := facts[decisions[k].fact_index]).text
                           or f.vector is None})
        reworded_vectors = dict(zip(reworded, embedder.embed(reworded), strict=True)) if reworded else {}
        items, vectors, causes, links = [], [], [], []
        for k, new_id in adds:
            d, row = decisions[k], rows[k]
            fact = facts[d.fact_index]
            msgs = [messages[t] for t in fact.turn_indexes]
            job = job_of[msgs[0].id]
            session_id = job.payload.get("session_id")
            metadata = _metadata(fact, msgs[0])
            old = uuid.UUID(row["target_id"]) if row["action"] != Action.ADD.value and row["target_id"] else None
            if old is not None:
                metadata["supersedes"] = str(old)
            if "conflict" in row:
                metadata["conflicts_with"] = row["conflict"]["memory_id"]
                c = row["conflict"]
                links.append(_link(cube, new_id, uuid.UUID(c["memory_id"]), "contradicts",
                                   f"disputes it ({c['why']}): proposed {c['proposed']}, kept it"))
            may = d.may_update
            may_id = None if may is None else may.memory_id or (
                written.get(may.fact_index) if may.fact_index is not None else None)
            if may_id is not None and may_id != new_id and "conflict" not in row:
                metadata["may_update"] = str(may_id)
                links.append(_link(cube, new_id, may_id, "may_update", f"may change it: {d.reason}"))
            items.append(schemas.MemoryCreate(
                content=content[k], event_time=fact.event_time, session_id=session_id, role=fact.speaker,
                metadata=metadata,
                provenance=schemas.Provenance.model_validate(
                    _provenance(job, msgs, [old] if old else [], session_id, ceilings[job.id])),
            ))
            vectors.append(reworded_vectors.get(content[k], fact.vector))
            causes.append(Attribution.of_job(job))
        have_all = all(v is not None for v in vectors)
        memories.add_memories(session, cube, items, actor=ACTOR, limits=limits, embedder=embedder,
                              embeddings=vectors if have_all else None,
                              extra=[{"id": new_id} for _, new_id in adds], cause=causes)
        links_repo.upsert_links(session, links)

    # The superseded memories: a closing version each (valid until the new fact's time), never a delete.
    superseded: list[uuid.UUID] = []
    if supersedes:
        versions = VersionBatch(session, actor=ACTOR)
        new_rows = {uuid.UUID(r["memory_id"]): (k, r) for k, r in enumerate(rows) if r.get("memory_id")}
        for old_id, new_id in supersedes.items():
            head = heads.get(old_id)
            if head is None:  # an earlier fact of this batch: its head was just inserted
                head = memories_repo.get_memory(session, old_id)
            if head is None:
                continue
            k, row = new_rows[new_id]
            fact = facts[decisions[k].fact_index]
            job = job_of[messages[fact.turn_index].id]
            valid_to = fact.event_time.isoformat() if fact.event_time else None
            head.meta = {**(head.meta or {}), "superseded_by": str(new_id), "valid_to": valid_to}
            memories.set_status(session, head, SUPERSEDED, actor=ACTOR, batch=versions,
                                reason=f"{row['action']}: {row['reason']}; superseded by {str(new_id)} "
                                       f"{fact.text[:300]!r}", cause=Attribution.of_job(job))
            superseded.append(old_id)
        versions.write()
        links_repo.upsert_links(session, [
            _link(cube, old_id, new_id, "superseded_by", f"valid until {heads[old_id].meta.get('valid_to')}"
                  if old_id in heads else "superseded") for old_id, new_id in supersedes.items()])
    # The fact that last wrote each memory (its candidates are the memory's neighbours for linking).
    written_by = {mid: fi for fi, mid in sorted(written.items())}
    return {"decisions": rows, "created": created, "updated": superseded, "written_by": written_by}
