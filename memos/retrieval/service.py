"""Search: dense (pgvector HNSW) and lexical (PostgreSQL full text) candidates, fused by reciprocal rank.

Deleted and quarantined memories are never returned unless the caller asks for those statuses.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube, Memory
from memcube.repository import memories as repo
from memos.embedding import Embedder
from memos.memories.service import utc

RRF_K = 60  # Cormack et al., "Reciprocal Rank Fusion outperforms Condorcet..." (SIGIR 2009)
SEARCHABLE = ("active", "archived")


def build_filter(cube: Cube, filters: schemas.SearchFilters | None) -> repo.MemoryFilter:
    f = filters or schemas.SearchFilters()
    statuses = [s.value for s in f.status] if f.status else ["active"]
    # Deleted and quarantined memories are never search results.
    statuses = [s for s in statuses if s in SEARCHABLE] or ["active"]
    return repo.MemoryFilter(
        cube_ids=[cube.id],
        statuses=statuses,
        kind=f.kind.value if f.kind else None,
        tags=f.tags,
        metadata=f.metadata,
        session_id=f.session_id,
        role=f.role,
        time_from=utc(f.time_from),
        time_to=utc(f.time_to),
    )


def search(
    session: Session, cube: Cube, req: schemas.SearchRequest, *, embedder: Embedder
) -> list[tuple[Memory, float]]:
    flt = build_filter(cube, req.filters)
    # Fusion wants a deeper candidate pool; a single-list mode returns its top_k as is.
    pool = max(req.top_k * 4, 40) if req.mode == "hybrid" else req.top_k
    dense: list[tuple[Memory, float]] = []
    lexical: list[tuple[Memory, float]] = []
    if req.mode in ("dense", "hybrid"):
        repo.tune_vector_search(session, ef_search=max(100, pool))
        dense = repo.dense_search(session, embedder.embed_one(req.query).tolist(), flt, limit=pool)
    if req.mode in ("lexical", "hybrid"):
        lexical = repo.lexical_search(session, req.query, flt, limit=pool)
    if req.mode == "dense":
        return dense[: req.top_k]
    if req.mode == "lexical":
        return lexical[: req.top_k]
    scores: dict[uuid.UUID, float] = {}
    by_id: dict[uuid.UUID, Memory] = {}
    for ranked in (dense, lexical):
        for rank, (m, _) in enumerate(ranked):
            by_id[m.id] = m
            scores[m.id] = scores.get(m.id, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[: req.top_k]
    return [(by_id[mid], score) for mid, score in best]
