"""Search: hybrid (dense + BM25, fused and re-ranked), dense-only or lexical-only, with filters in SQL.

Hybrid, the default (docs/retrieval.md has the measurements):

1. the query is analysed against the cube's known speakers (:mod:`memos.retrieval.query`);
2. while the query is embedded, one SQL statement reads its BM25 statistics, the cube's speakers and the
   scored lexical matches (:func:`memcube.repository.retrieval.lexical_matches`); a second fetches the dense
   (HNSW) candidates, the union with the best BM25 ones under the filters, and the previous and next memory of
   each candidate's session (:func:`memcube.repository.retrieval.candidates`);
3. :func:`memos.retrieval.fusion.rerank` fuses and boosts; optional MMR diversity and reranker;
4. optionally the hits' session neighbours and linked memories are appended (``expand``).

Deleted and quarantined memories are never returned unless the caller asks for those statuses.
"""

from __future__ import annotations

import math
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory
from memcube.repository import memories as memories_repo
from memcube.repository import retrieval as repo
from memos.config import Settings, get_settings
from memos.embedding import Embedder
from memos.memories.service import utc
from memos.retrieval import fusion
from memos.retrieval.query import QueryPlan, plan
from memos.retrieval.rerank import Reranker

SEARCHABLE = ("active", "archived", "quarantined")
LEXICAL_FETCH_FACTOR = 4  # BM25 rows scored per lexical candidate, so neighbours get their lexical score too
RERANK_POOL_FACTOR = 2  # the reranker sees this many times top_k fused results
PRUNE_MIN_DOCS = 1_000  # common-term pruning is for scan cost, which only matters in large cubes
# In cubes of PRUNE_MIN_DOCS or more, BM25 candidates are the memories matching the query's rarer terms, rarest
# first, while their document frequencies add up to at most this; every query term still scores them. The scan
# then costs about this many rows whatever the cube's size (a 10k cube matched 15% of its rows for "How does
# Noah Quintero get to work?" through "get" and "work": 15 ms, and 10x that at 100k).
# When the rarest term alone matches more, the candidates are the memories with the two rarest terms together.
LEXICAL_MATCH_BUDGET = 1_000
EXPANDED_SCORE_FACTOR = 0.5  # context pulled in around a hit ranks below the hit


@dataclass
class Hit:
    memory: Memory
    score: float
    via: Literal["search", "neighbor", "link"] = "search"


class Shortcut(Protocol):
    """Offered the query's vector (of ``plan.text``) once it is embedded, before the candidate search over the
    cube: hits to answer with instead, or None to search on (a session's working memory: memos.scheduler)."""

    def __call__(self, vector: np.ndarray, plan: QueryPlan) -> list[Hit] | None: ...


@dataclass
class EarlyEmbedding:
    """A query's embedding started before the search (``start_embedding``), for the text it was started on."""

    text: str
    vector: Future[np.ndarray]


def start_embedding(cube_id: uuid.UUID, req: schemas.SearchRequest, embedder: Embedder) -> EarlyEmbedding | None:
    """Start embedding the query the search will embed, so the request's first statements (the cube and its
    grant) run while the inference thread works: the text a dense search embeds, or a hybrid search's plan
    with the cube's speakers as last seen (when they turn out to differ, the search embeds the right text
    itself). ``None`` for a lexical search, which embeds nothing."""
    if req.mode == "lexical":
        return None
    text = req.query if req.mode == "dense" else plan(req.query, _SPEAKERS_SEEN.get(cube_id, [])).text
    return EarlyEmbedding(text, embedder.embed_one_async(text))


def _embedding_of(text: str, embedder: Embedder, early: EarlyEmbedding | None) -> Future[np.ndarray]:
    return early.vector if early is not None and early.text == text else embedder.embed_one_async(text)


class _Taken(Exception):  # noqa: N818 - control flow: the shortcut answered
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits


def build_filter(cube: Cube, filters: schemas.SearchFilters | None) -> memories_repo.MemoryFilter:
    f = filters or schemas.SearchFilters()
    statuses = [s.value for s in f.status] if f.status else ["active"]
    # Deleted memories are never search results; quarantined ones only when asked for (by the cube's owner:
    # api/routers/search.py with_quarantined checks).
    statuses = [s for s in statuses if s in SEARCHABLE] or ["active"]
    return memories_repo.MemoryFilter(
        cube_ids=[cube.id],
        statuses=statuses,
        # Activation memories hold a snapshot's text (their sources' text again): hits only when asked for.
        kind=f.kind.value if f.kind else schemas.MemoryKind.plaintext.value,
        tags=f.tags,
        metadata=f.metadata,
        session_id=f.session_id,
        role=f.role,
        time_from=utc(f.time_from),
        time_to=utc(f.time_to),
    )


def weights_for(req: schemas.SearchRequest, s: Settings) -> fusion.Weights:
    dense = s.search_dense_weight
    if req.weights is not None:
        dense = req.weights.dense / (req.weights.dense + req.weights.lexical)
    return fusion.Weights(dense=dense, neighbour=s.search_neighbour_weight, speaker=s.search_speaker_boost,
                          time=s.search_time_boost, time_range=s.search_range_boost, session=s.search_session_boost)


def bm25_idf(stats: repo.LexemeStats, max_df_ratio: float) -> dict[str, float]:
    """IDF of the query lexemes present in the cube, ``ln(1 + (N - df + 0.5) / (df + 0.5))`` (Lucene's
    non-negative form). Terms in more than ``max_df_ratio`` of the memories carry almost no evidence and
    make the lexical scan touch most rows, so in cubes of ``PRUNE_MIN_DOCS`` or more they are dropped (unless
    nothing else is left)."""
    present = {lx: df for lx, df in stats.df.items() if df > 0}
    if not present or stats.docs <= 0:
        return {}
    if stats.docs < PRUNE_MIN_DOCS:
        kept = present  # small cubes: the scan is cheap and every matching term is evidence
    else:
        kept = {lx: df for lx, df in present.items() if df <= max_df_ratio * stats.docs}
    if not kept:  # ties by lexeme, as the candidate statement breaks them
        rarest = min(present, key=lambda lx: (present[lx], lx))
        kept = {rarest: present[rarest]}
    n = stats.docs
    return {lx: math.log(1 + (n - df + 0.5) / (df + 0.5)) for lx, df in kept.items()}


# The last speakers list seen per cube: the query is planned with it before the candidate statement,
# which returns the current list too; a stale guess only costs running that statement again.
_SPEAKERS_SEEN: dict[uuid.UUID, list[str]] = {}
_SPEAKERS_SEEN_MAX = 10_000


def conjunctive(stats: repo.LexemeStats, idf: dict[str, float], budget: int = LEXICAL_MATCH_BUDGET) -> bool:
    """Whether lexical candidates must contain the two rarest query terms together: in a cube of
    ``PRUNE_MIN_DOCS`` or more where even the rarest kept term is in more than ``budget`` memories (a
    person's name in a million memories: 10,000-17,000 matches, each scored). Two terms that common rarely
    meet by chance, so their joint matches are few, and the index answers an AND from its posting lists
    without reading the rows of either term alone."""
    if stats.docs < PRUNE_MIN_DOCS or len(idf) < 2:
        return False
    return min(stats.df.get(lx, 0) for lx in idf) > budget


def match_terms(stats: repo.LexemeStats, idf: dict[str, float], budget: int = LEXICAL_MATCH_BUDGET) -> list[str]:
    """The query terms whose matches become lexical candidates: the rarest first, until their matches would
    pass ``budget`` rows (see ``LEXICAL_MATCH_BUDGET``); the two rarest (matched together) when the rarest
    alone passes it (``conjunctive``)."""
    if stats.docs < PRUNE_MIN_DOCS:
        return list(idf)
    if conjunctive(stats, idf, budget):
        return sorted(idf, key=lambda x: (stats.df.get(x, 0), x))[:2]
    out: list[str] = []
    total = 0
    for lx in sorted(idf, key=lambda x: (stats.df.get(x, 0), x)):
        df = stats.df.get(lx, 0)
        if out and total + df > budget:
            break
        out.append(lx)
        total += df
    return out


def _remember_speakers(cube_id: uuid.UUID, speakers: list[str]) -> None:
    if len(_SPEAKERS_SEEN) >= _SPEAKERS_SEEN_MAX:
        _SPEAKERS_SEEN.clear()
    _SPEAKERS_SEEN[cube_id] = speakers


def search(
    session: Session,
    cube: Cube,
    req: schemas.SearchRequest,
    *,
    embedder: Embedder,
    settings: Settings | None = None,
    reranker: Reranker | None = None,
    shortcut: Shortcut | None = None,
    early: EarlyEmbedding | None = None,
) -> list[Hit]:
    """``shortcut``: see ``Shortcut`` (hybrid and dense modes; taken before the cube's candidates are searched,
    with the query's embedding overlapped with the lexical statement as always). ``early``: the query's
    embedding, already started (``start_embedding``)."""
    try:
        return _search(session, cube, req, embedder=embedder, settings=settings or get_settings(),
                       reranker=reranker, shortcut=shortcut, early=early)
    except _Taken as taken:
        return taken.hits


def _search(session: Session, cube: Cube, req: schemas.SearchRequest, *, embedder: Embedder, settings: Settings,
            reranker: Reranker | None, shortcut: Shortcut | None, early: EarlyEmbedding | None) -> list[Hit]:
    s = settings
    flt = build_filter(cube, req.filters)
    if req.mode == "dense":
        # The plain baseline: the raw query's nearest neighbours, nothing else.
        vector = _embedding_of(req.query, embedder, early).result()
        if shortcut is not None and (hits := shortcut(vector, plan(req.query, []))) is not None:
            return hits
        memories_repo.tune_vector_search(session, ef_search=max(s.search_ef_search, req.top_k))
        dense = memories_repo.dense_search(session, vector.tolist(), flt, limit=req.top_k)
        hits = [Hit(m, score) for m, score in dense]
        return _expand(session, hits, req, flt) if req.expand else hits

    if req.mode == "lexical":
        _, rows = _candidates(session, cube, req, flt, embedder=None, settings=s)
        ranked = sorted(((r.id, r.lexical) for r in rows if r.is_candidate), key=lambda kv: kv[1], reverse=True)
    else:
        q, rows = _candidates(session, cube, req, flt, embedder=embedder, settings=s, shortcut=shortcut, early=early)
        ranked = fusion.rerank(rows, q, weights_for(req, s))
    contents = {r.id: r.content for r in rows}
    if req.diversity is not None:
        pool = max(req.top_k * RERANK_POOL_FACTOR, req.top_k)
        ranked = fusion.mmr(ranked[: pool * 2], contents, lam=req.diversity, k=pool)
    if req.rerank and reranker is not None and ranked:
        pool_ranked = ranked[: req.top_k * RERANK_POOL_FACTOR]
        order = reranker.rerank(req.query, [contents[i] for i, _ in pool_ranked])
        ranked = [pool_ranked[i] for i in order]
    ranked = ranked[: req.top_k]
    by_id = repo.load(session, [i for i, _ in ranked])
    hits = [Hit(by_id[i], score) for i, score in ranked if i in by_id]
    return _expand(session, hits, req, flt) if req.expand else hits


def hybrid_candidates(
    session: Session, cube: Cube, req: schemas.SearchRequest, flt: memories_repo.MemoryFilter, *,
    embedder: Embedder, settings: Settings,
) -> tuple[QueryPlan, list[repo.Candidate]]:
    """A hybrid search's candidate set before fusion: the dense and BM25 top candidates and their session
    neighbours, with the query plan ``fusion.rerank`` scores them by (bench/locomo.py re-ranks it per setting)."""
    return _candidates(session, cube, req, flt, embedder=embedder, settings=settings)


def _candidates(
    session: Session, cube: Cube, req: schemas.SearchRequest, flt: memories_repo.MemoryFilter, *,
    embedder: Embedder | None, settings: Settings, shortcut: Shortcut | None = None,
    early: EarlyEmbedding | None = None,
) -> tuple[QueryPlan, list[repo.Candidate]]:
    """The candidate rows for the query (dense part only with an ``embedder``).

    The query is planned (speaker names stripped) with the cube's speakers as last seen; the database returns
    the current ones. Only when they change what is embedded and matched (a cube's first search in this
    process, or a new speaker named in the query) is the query embedded and matched again.

    With an embedder, two statements: the BM25 statistics and lexical matches run while the inference thread
    embeds the query (the two take about as long; PostgreSQL and the encoder use different cores), then the
    dense candidates, the union and its session neighbours. Without, one statement does it all."""
    s = settings
    n_lexical = max(s.search_lexical_candidates, req.top_k)
    bm25 = repo.Bm25(k1=s.search_bm25_k1, b=s.search_bm25_b, max_df_ratio=s.search_max_df_ratio,
                     prune_min_docs=PRUNE_MIN_DOCS, match_budget=LEXICAL_MATCH_BUDGET, n_lexical=n_lexical,
                     lexical_fetch=n_lexical * LEXICAL_FETCH_FACTOR)
    n_dense = max(s.search_dense_candidates, req.top_k)
    if embedder is not None:
        memories_repo.tune_vector_search(session, ef_search=max(s.search_ef_search, n_dense))
    q = plan(req.query, _SPEAKERS_SEEN.get(cube.id, []))
    if s.search_time_filter == "hard" and q.time_range is not None:  # the period does not depend on speakers
        flt.time_from = max(filter(None, [flt.time_from, q.time_range.start]), default=None)
        flt.time_to = min(filter(None, [flt.time_to, q.time_range.end]), default=None)
    for attempt in range(2):
        if embedder is None:
            found = repo.candidates(session, flt, cube_id=cube.id, query=q.text, vector=None, bm25=bm25,
                                    n_dense=0, neighbours=False)
            speakers, rows = found.speakers, found.rows
        else:
            vector = _embedding_of(q.text, embedder, early)
            lexical = repo.lexical_matches(session, flt, cube_id=cube.id, query=q.text, bm25=bm25)
            speakers = lexical.speakers
        _remember_speakers(cube.id, speakers)
        actual = plan(req.query, speakers)
        if actual.text != q.text and attempt == 0:
            q = actual  # planned with stale speakers: match and embed the corrected text
            continue
        if embedder is not None:
            embedded = vector.result()
            if shortcut is not None and (hits := shortcut(embedded, q)) is not None:
                raise _Taken(hits)
            rows = repo.candidates(session, flt, cube_id=cube.id, query=q.text, vector=embedded.tolist(),
                                   bm25=bm25, n_dense=n_dense, lexical=lexical).rows
        # On the second attempt with speakers changed again in between: keep the plan these rows were found with.
        return (actual if actual.text == q.text else q), rows
    raise AssertionError("unreachable")


def _expand(
    session: Session, hits: list[Hit], req: schemas.SearchRequest, flt: memories_repo.MemoryFilter
) -> list[Hit]:
    """Append each hit's session neighbours (``req.neighbors`` each side) and strongest links (``req.links``),
    one hop, each memory once, scored below the hit that brought it."""
    seen: set[uuid.UUID] = {h.memory.id for h in hits}
    ids = list(seen)
    nbs = repo.session_neighbours(session, ids, hops=req.neighbors, statuses=flt.statuses)
    lks = repo.linked(session, ids, per_memory=req.links, statuses=flt.statuses)
    extra: list[tuple[uuid.UUID, float, Literal["neighbor", "link"]]] = []
    for h in hits:
        for nid in nbs.get(h.memory.id, []):
            if nid not in seen:
                seen.add(nid)
                extra.append((nid, h.score * EXPANDED_SCORE_FACTOR, "neighbor"))
        for lid in lks.get(h.memory.id, []):
            if lid not in seen:
                seen.add(lid)
                extra.append((lid, h.score * EXPANDED_SCORE_FACTOR, "link"))
    loaded = repo.load(session, [i for i, _, _ in extra])
    return hits + [Hit(loaded[i], sc, via) for i, sc, via in extra if i in loaded]
