"""Nearest-neighbour queries for many vectors at once (consolidation and linking compare whole batches)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session

from memcube.models import Memory, MemoryVersion
from memcube.repository.retrieval import or_tsquery


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


@dataclass(frozen=True)
class LexicalQuery:
    """One text's BM25 query: the terms whose matches are candidates, and the idf of every scored term."""

    match: Sequence[str]
    idf: Mapping[str, float]


# Lexemes of the English parser never contain this (ASCII unit separator): one text parameter per query.
_SEP = "\x1f"


def lexical_many(
    session: Session, queries: Sequence[LexicalQuery], *, cube_id: uuid.UUID, limit: int, k1: float = 1.2,
    b: float = 0.4, avg_len: float = 1.0,
) -> list[list[uuid.UUID]]:
    """For each query, the ids of its ``limit`` best BM25 matches among the cube's active memories.

    Runs ``memos_lexical_matches`` (the search's SECURITY DEFINER function, which checks cube access
    itself) once per query in one statement: under row-level security a plain ``tsv @@ query`` cannot use
    the GIN index and scanned the whole cube for every query (7 ms per query at 5,000 memories)."""
    out: list[list[uuid.UUID]] = [[] for _ in queries]
    todo = [(i, q) for i, q in enumerate(queries, start=1) if q.match and q.idf]
    if not todo:
        return out
    rows = session.execute(
        text(
            """
            WITH q AS MATERIALIZED (
                SELECT u.i, to_tsquery('simple', u.tsq) AS query, string_to_array(u.lx, :sep) AS lexemes,
                       CAST(string_to_array(u.idf, :sep) AS double precision[]) AS idf
                FROM unnest(CAST(:ids AS int[]), CAST(:tsq AS text[]), CAST(:lx AS text[]),
                            CAST(:idf AS text[])) AS u(i, tsq, lx, idf)
            )
            SELECT q.i, lm.memory_id
            FROM q
            CROSS JOIN LATERAL memos_lexical_matches(
                ARRAY[CAST(:cube AS uuid)], q.query, q.lexemes, q.idf, ARRAY['active'],
                CAST(:avg AS double precision), CAST(:k1 AS double precision), CAST(:b AS double precision),
                CAST(:k AS integer)) AS lm
            ORDER BY q.i, lm.score DESC
            """
        ),
        {"ids": [i for i, _ in todo], "tsq": [or_tsquery(q.match) for _, q in todo],
         "lx": [_SEP.join(q.idf) for _, q in todo],
         "idf": [_SEP.join(repr(v) for v in q.idf.values()) for _, q in todo],
         "sep": _SEP, "cube": cube_id, "avg": avg_len, "k1": k1, "b": b, "k": limit},
    ).all()
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
