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
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from memcube.models import ChatMessage, Cube, Job
from memcube.repository import cubes as cubes_repo
from memcube.repository import jobs as jobs_repo
from memcube.repository import memories as memories_repo
from memcube.repository import messages as messages_repo
from memcube.repository import neighbours
from memcube.repository import retrieval as retrieval_repo
from memos.config import Settings
from memos.consolidation.apply import (  # noqa: F401 (re-exported: the authority rule's names)
    LESS_TRUSTED,
    OTHER_SPEAKER,
    OTHER_TENANT,
    apply_decisions,
    no_authority,
)
from memos.consolidation.llm_path import LLMConsolidator
from memos.consolidation.offline import OfflineConsolidator
from memos.consolidation.plan import plan_memories
from memos.consolidation.types import Action, Candidate, Consolidator, Fact, Turn
from memos.consolidation.vectors import Encoder, encoder_for, foreground
from memos.embedding import Embedder
from memos.errors import NotFound
from memos.llm import LLMClient, UsageSink, get_llm
from memos.retrieval.service import bm25_idf, match_terms
from memos.timing import PhaseTimer

log = logging.getLogger(__name__)

DENSE_K = 8
SPEAKER_K = 4  # nearest of the fact's speaker's own memories, beyond the cube's DENSE_K nearest
LEXICAL_K = 5
CANDIDATES_EF_SEARCH = 40  # HNSW beam for the 8 nearest of each fact (search uses 100 for its 50 candidates)
# Rows the lexical candidates of one fact may cost in a large cube (the search allows 1,000: it ranks what
# it finds; a fact needs only its few closest, and a batch runs hundreds of these).
LEXICAL_MATCH_BUDGET = 200
# A backlog is consolidated in passes of at most this many messages / jobs (see ``consolidate``).
MAX_COALESCED_MESSAGES = 256
MAX_COALESCED_JOBS = 64
# Texts per forward pass when memories of several sentences (up to the encoder's 256 tokens) are embedded: a
# chunk of 64 long texts holds attention scores of 64 x 12 heads x L x L floats (170 MB at L = 237), and the
# single encoder thread spent most of its time on memory traffic (the 119 memories of LoCoMo conversations 0-1,
# one thread, on the busy 2-core machine: 17.7 s in chunks of 64, 7.5 s in chunks of 16, 6.1 s in chunks of 8).
LONG_BATCH = 16


def build_consolidator(
    settings: Settings, *, usage: UsageSink | None = None, llm: LLMClient | None = None,
    embedder: Embedder | None = None,
) -> Consolidator:
    """The LLM path when a model is configured (or given), the offline path otherwise."""
    llm = llm or get_llm(settings)
    if llm is not None:
        return LLMConsolidator(llm, usage=usage)
    return OfflineConsolidator(embedder)


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


def find_candidates(session: Session, cube: Cube, facts: list[Fact], settings: Settings, *,
                    ready: Iterable[list[int]] | None = None) -> list[list[Candidate]]:
    """Nearest existing memories of each fact: dense (pgvector), the speaker's own nearest, and lexical
    (BM25), merged. Handles ("m1", "m2"...) are per memory, so the same memory has one name in the whole
    batch, in the facts' order.

    ``ready``: the facts (indexes) whose vectors are set, group by group, as an encoder running beside this
    thread finishes them: each group is searched (one statement) while the encoder works on the next.
    Default: every fact at once. A fact's candidates depend on the fact and the cube only, so the groups give
    the same candidates as one statement."""
    if not facts:
        return []
    memories_repo.tune_vector_search(session, ef_search=CANDIDATES_EF_SEARCH)
    # The lexical queries need the texts only: read before the first vectors are there.
    queries, avg_len = lexical_queries(session, cube, [f.text for f in facts], settings)
    found: list[list[neighbours.Neighbour]] = [[] for _ in facts]
    for group in (ready if ready is not None else [list(range(len(facts)))]):
        if not group:
            continue
        rows = neighbours.candidates_many(
            session, [facts[i].vector for i in group], [queries[i] for i in group], cube_id=cube.id,
            dense_k=DENSE_K, lexical_k=LEXICAL_K, speakers=[facts[i].speaker or None for i in group],
            speaker_k=SPEAKER_K, avg_len=avg_len, k1=settings.search_bm25_k1, b=settings.search_bm25_b,
        )
        for i, row in zip(group, rows, strict=True):
            found[i] = row
    handles: dict[uuid.UUID, str] = {}
    return [[Candidate(handles.setdefault(n.memory_id, f"m{len(handles) + 1}"), n.content, n.similarity,
                       memory_id=n.memory_id, speaker=n.role) for n in row] for row in found]


def embed_and_find(session: Session, cube: Cube, facts: list[Fact], settings: Settings, encoder: Encoder,
                   timer: PhaseTimer, *, then: Callable[[], object] | None = None
                   ) -> tuple[np.ndarray, list[str], list[list[Candidate]]]:
    """The facts' vectors (set on them) and their candidates, the database searching the facts the encoder has
    finished while it encodes the next ones; returns (the facts' and speakers' vectors, the speakers, the
    candidates). The speakers' names are encoded in the same passes (they are taken out of the topic
    comparison when sentences are grouped, ``plan``). A text an earlier pass's look-ahead encoded (or is
    encoding), or that this process encoded alone before, is not encoded again. Timings: ``embed`` is the
    time spent waiting for the encoder, ``candidates`` the rest. ``then``: called once this pass's encoding
    is queued (``look_ahead``: what it queues runs after)."""
    speakers = sorted({f.speaker for f in facts})
    texts = [f.text for f in facts] + speakers
    vectors = np.zeros((len(texts), encoder.embedder.dim), dtype=np.float32)
    where: dict[str, list[int]] = {}
    for i, t in enumerate(texts):
        where.setdefault(t, []).append(i)
    ahead = encoder.ahead_of(list(where))  # first: a look-ahead pass moves its texts to ``known`` when done
    known = encoder.known.get_many([t for t in where if t not in ahead])
    # (rows of ``texts``, a pass, the rows of that pass's result they take), in the order the passes run.
    waits: list[tuple[list[int], Future[np.ndarray] | None, list[int]]] = []
    if known:
        rows = [i for t in known for i in where[t]]
        vectors[rows] = np.stack([known[texts[i]] for i in rows])
        waits.append((rows, None, []))
    by_pass: dict[Future[np.ndarray], tuple[list[int], list[int]]] = {}
    for t, (done, k) in ahead.items():
        rows, cols = by_pass.setdefault(done, ([], []))
        rows += where[t]
        cols += [k] * len(where[t])
    waits += [(rows, done, cols) for done, (rows, cols) in by_pass.items()]
    rest = [t for t in where if t not in known and t not in ahead]
    for rows, done in encoder.submit(rest):
        waits.append(([i for r in rows for i in where[rest[r]]], done,
                      [k for k, r in enumerate(rows) for _ in where[rest[r]]]))
    if then is not None:
        with timer.phase("look_ahead"):
            then()

    def ready() -> Iterator[list[int]]:
        for rows, done, cols in waits:
            if done is not None:
                since = time.perf_counter()
                try:
                    vectors[rows] = done.result()[cols]
                except Exception:  # a look-ahead pass that failed: this pass's own texts are encoded here
                    log.exception("consolidation: an encoder pass failed; encoding its texts again")
                    vectors[rows] = encoder.embedder.embed([texts[i] for i in rows])
                timer.add("embed", (time.perf_counter() - since) * 1000)
            group = sorted(i for i in rows if i < len(facts))
            for i in group:
                facts[i].vector = vectors[i]
            yield group

    started, waited = time.perf_counter(), timer.ms.get("embed", 0.0)
    candidates = find_candidates(session, cube, facts, settings, ready=ready())
    timer.add("candidates", (time.perf_counter() - started) * 1000 - (timer.ms.get("embed", 0.0) - waited))
    return vectors, speakers, candidates


def look_ahead(session: Session, jobs: list[Job], consolidator: Consolidator, encoder: Encoder) -> int:
    """Start encoding the facts of the jobs the worker's next pass will most likely run (``_coalesce``;
    offline path only: the LLM path's extraction is a model call), while this pass works on the database
    and its rules; returns the number of texts handed to the encoder."""
    if not jobs or not isinstance(consolidator, OfflineConsolidator):
        return 0
    ids = [uuid.UUID(str(m)) for j in jobs for m in j.payload.get("message_ids", [])]
    facts = consolidator.extract(_turns(messages_repo.get_messages(session, ids)))
    texts = [f.text for f in facts] + sorted({f.speaker for f in facts})
    encoder.look_ahead(texts)
    return len(texts)


def _turns(messages: list[ChatMessage]) -> list[Turn]:
    return [Turn(role=m.role, content=m.content, name=m.name, timestamp=m.timestamp, message_id=m.id)
            for m in messages]


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
    group, following = _coalesce(session, job, settings) if coalesce else ([job], [])
    ids_of = {j.id: {uuid.UUID(str(m)) for m in j.payload.get("message_ids", [])} for j in group}
    # One read for the whole group's messages (in seq order), split by job.
    stored = messages_repo.get_messages(session, [m for ids in ids_of.values() for m in ids])
    by_job = {j.id: [m for m in stored if m.id in ids_of[j.id]] for j in group}
    # Earlier batches first (messages.seq is the order they were stored in; created_at may tie): a fact
    # is compared with what was said before it, not after.
    group.sort(key=lambda j: min((m.seq for m in by_job[j.id]), default=0))
    messages = [m for j in group for m in by_job[j.id]]
    job_of = {m.id: j for j in group for m in by_job[j.id]}  # message id -> its job
    consolidator = consolidator or build_consolidator(settings, usage=usage, embedder=embedder)
    timer = PhaseTimer()
    with timer.phase("extract"):
        facts = consolidator.extract(_turns(messages))
    names: dict[str, Any] = {}
    candidates: list[list[Candidate]] = []
    if facts:
        # Every fact of every batch in the group in one ``embed``'s passes, on the encoder's thread, while the
        # database finds the candidates of the facts already encoded.
        encoder = encoder_for(embedder)
        vectors, speakers, candidates = embed_and_find(session, cube, facts, settings, encoder, timer,
                                                       then=lambda: look_ahead(session, following, consolidator,
                                                                               encoder))
        names = dict(zip(speakers, vectors[len(facts):], strict=True))
        # A fact is a sentence the rules may encode alone again (as a candidate of this pass or a later one).
        consolidator.remember([f.text for f in facts], vectors[:len(facts)])
    with timer.phase("decide"):
        decisions = consolidator.decide(facts, candidates)
        # A speaker's new sentences of a turn (and of their next turns on the same topic) as one memory.
        for i, f in enumerate(facts):
            f.origin = i
        facts, decisions = plan_memories(facts, decisions, batch_of=[job_of[m.id].id for m in messages],
                                         name_vectors=names)
    with timer.phase("embed_memories"):
        # What ``plan`` could not pool (a memory of several turns) is embedded as one text, in one call.
        todo = [f for f in facts if f.vector is None]
        if todo:
            with foreground(embedder):
                long_vectors = embedder.embed([f.text for f in todo], batch_size=LONG_BATCH)
            for f, v in zip(todo, long_vectors, strict=True):
                f.vector = v
    with timer.phase("apply"):
        applied = apply_decisions(session, cube, facts, decisions, messages, job_of, embedder=embedder,
                                  settings=settings)
    rows: list[dict[str, Any]] = applied["decisions"]
    touched: list[uuid.UUID] = applied["created"]  # a superseded memory needs no new links
    linking_job_id = None
    if touched:
        from memos.linking.service import NEIGHBOURS, enqueue_linking

        # Each written memory's nearest, as its fact found them: linking needs no second index search.
        hints = {mid: sorted(((c.memory_id, c.similarity) for c in candidates[facts[fi].origin or 0]
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


def _coalesce(session: Session, job: Job, settings: Settings) -> tuple[list[Job], list[Job]]:
    """This job and the cube's other pending consolidation jobs, oldest first, within the message cap; and
    what the worker's next pass will most likely run, within another cap: the cube's pending jobs after
    them, or, when there are none, the oldest pending job of another cube with that cube's others (for
    ``look_ahead``: a guess, which costs a wasted encoding at worst)."""
    pending = jobs_repo.pending_of_cube(session, cube_id=job.cube_id, type=job.type,  # type: ignore[arg-type]
                                        max_attempts=settings.job_max_attempts, limit=MAX_COALESCED_JOBS)
    group: list[Job] = []
    following: list[Job] = []
    n = len(job.payload.get("message_ids", []))
    n_following = 0
    for j in pending:
        if j.id == job.id:
            continue
        size = len(j.payload.get("message_ids", []))
        if following or n + size > MAX_COALESCED_MESSAGES:
            if n_following + size > MAX_COALESCED_MESSAGES:
                break
            following.append(j)
            n_following += size
            continue
        group.append(j)
        n += size
    if not following:
        # This pass takes the cube's whole backlog: the worker's next pass is most likely another cube's (the
        # oldest job sent after ours), with that cube's other pending jobs.
        after = jobs_repo.pending_after(session, type=job.type, max_attempts=settings.job_max_attempts,
                                        exclude=[j.id for j in (job, *group)], limit=MAX_COALESCED_JOBS)
        size = 0
        for j in after:
            if j.cube_id != after[0].cube_id:
                continue
            size += len(j.payload.get("message_ids", []))
            if size > MAX_COALESCED_MESSAGES:
                break
            following.append(j)
    return [job, *group], following
