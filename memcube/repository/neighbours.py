"""Nearest-neighbour queries for many vectors at once (consolidation and linking compare whole batches)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from memcube.models import Memory, MemoryVersion


def _vector_literal(vec: Any) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vec) + "]"


def nearest_many(
    session: Session,
    vectors: Sequence[Any],
    *,
    cube_id: uuid.UUID,
    limit: int,
    kind: str = "plaintext",
    statuses: Sequence[str] = ("active",),
) -> list[list[tuple[uuid.UUID, float]]]:
    """For each vector, the ``limit`` nearest memories of the cube as (id, cosine similarity), best first.

    One statement: a LATERAL top-k per vector, each using the HNSW index (with pgvector's iterative scan
    so the cube/status filters still yield ``limit`` rows). The vectors are parsed once, as a
    ``vector[]``: a text cast inside the LATERAL would be parsed again for every row it is compared with
    (measured on a 300-memory cube: 6.5 ms per query, 0.45 ms with the array cast)."""
    if not vectors:
        return []
    rows = session.execute(
        text(
            """
            SELECT q.i, m.id, 1 - m.distance AS similarity
            FROM unnest(CAST(:vecs AS vector[])) WITH ORDINALITY AS q(v, i)
            CROSS JOIN LATERAL (
                SELECT id, embedding <=> q.v AS distance
                FROM memories
                WHERE cube_id = :cube AND kind = :kind AND status = ANY(:statuses) AND embedding IS NOT NULL
                ORDER BY embedding <=> q.v
                LIMIT :k
            ) AS m
            ORDER BY q.i, m.distance
            """
        ),
        {"vecs": [_vector_literal(v) for v in vectors], "cube": cube_id, "kind": kind,
         "statuses": list(statuses), "k": limit},
    ).all()
    out: list[list[tuple[uuid.UUID, float]]] = [[] for _ in vectors]
    for i, memory_id, similarity in rows:
        out[int(i) - 1].append((memory_id, float(similarity)))
    return out


def lexical_many(
    session: Session, queries: Sequence[str], *, cube_id: uuid.UUID, limit: int, kind: str = "plaintext"
) -> list[list[uuid.UUID]]:
    """For each query, the ids of the best full-text matches in the cube (any term may match).

    Each query is parsed once (the MATERIALIZED CTE): a query computed inside the LATERAL was parsed
    again for every row it was matched against (2.7 ms per query on a 300-memory cube, 0.5 ms now)."""
    if not queries:
        return []
    rows = session.execute(
        text(
            """
            WITH q AS MATERIALIZED (
                SELECT i, to_tsquery('english',
                         replace(CAST(plainto_tsquery('english', txt) AS text), '&', '|')) AS query
                FROM unnest(CAST(:queries AS text[])) WITH ORDINALITY AS u(txt, i)
            )
            SELECT q.i, m.id
            FROM q
            CROSS JOIN LATERAL (
                SELECT id, ts_rank_cd(tsv, q.query) AS rank
                FROM memories
                WHERE cube_id = :cube AND kind = :kind AND status = 'active'
                  AND q.query <> CAST('' AS tsquery) AND tsv @@ q.query
                ORDER BY rank DESC
                LIMIT :k
            ) AS m
            ORDER BY q.i, m.rank DESC
            """
        ),
        {"queries": list(queries), "cube": cube_id, "kind": kind, "k": limit},
    ).all()
    out: list[list[uuid.UUID]] = [[] for _ in queries]
    for i, memory_id in rows:
        out[int(i) - 1].append(memory_id)
    return out


def embeddings_of(session: Session, memory_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """Stored embeddings by memory id (ids without one are left out)."""
    if not memory_ids:
        return {}
    rows = session.execute(
        select(Memory.id, Memory.embedding).where(Memory.id.in_(list(memory_ids)), Memory.embedding.is_not(None))
    ).all()
    return {mid: emb for mid, emb in rows}


def has_version_with_provenance(session: Session, cube_id: uuid.UUID, subset: dict[str, Any]) -> bool:
    """Whether any version in the cube has a provenance containing ``subset`` (GIN, jsonb_path_ops)."""
    stmt = select(
        exists().where(MemoryVersion.cube_id == cube_id, MemoryVersion.provenance.contains(subset))
    )
    return bool(session.scalar(stmt))
