"""Retrieval queries: cube text statistics, the hybrid candidate statement, neighbours, links, contexts.

BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009) is computed in SQL
from each memory's ``tsv`` (term frequency = number of positions of the lexeme, length = ``length(tsv)``) and
the trigger-maintained ``cube_lexemes`` / ``cube_text_stats`` tables (document frequency, N, avgdl).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    ARRAY,
    CTE,
    Double,
    Integer,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    union,
)
from sqlalchemy.orm import Session, aliased, defer
from sqlalchemy.types import Uuid

from memcube.models import EMBEDDING_DIM, CubeRole, Memory, MemoryLink
from memcube.repository.memories import MemoryFilter


# ---------------------------------------------------------------- statistics
def cube_speakers(session: Session, cube_id: uuid.UUID) -> list[str]:
    """The distinct roles/speakers of the cube's memories (a primary-key range read)."""
    return list(session.scalars(select(CubeRole.role).where(CubeRole.cube_id == cube_id, CubeRole.n > 0)))


@dataclass(frozen=True)
class LexemeStats:
    docs: int
    avg_len: float
    df: dict[str, int]  # query lexeme -> document frequency in the cube (0 = absent)


_STATS_SQL = """
    SELECT q.lexeme, coalesce(l.df, 0), s.docs, s.total_len{speakers}
    FROM (SELECT 1) AS one
    LEFT JOIN cube_text_stats s ON s.cube_id = :cube
    LEFT JOIN (SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', :q))) AS q ON true
    LEFT JOIN cube_lexemes l ON l.cube_id = :cube AND l.lexeme = q.lexeme
"""
_SPEAKERS_COL = ", (SELECT array_agg(r.role ORDER BY r.role) FROM cube_roles r WHERE r.cube_id = :cube AND r.n > 0)"


def _lexeme_stats(rows: Sequence[Any]) -> LexemeStats:
    docs = int(rows[0][2] or 0) if rows else 0
    total = int(rows[0][3] or 0) if rows else 0
    return LexemeStats(docs, (total / docs) if docs else 1.0, {r[0]: int(r[1]) for r in rows if r[0] is not None})


def query_lexeme_stats(session: Session, cube_id: uuid.UUID, query: str) -> LexemeStats:
    """The query's English lexemes with their document frequency in the cube, and the cube's N and avgdl."""
    rows = session.execute(text(_STATS_SQL.format(speakers="")), {"q": query, "cube": cube_id}).all()
    return _lexeme_stats(rows)


def speakers_and_lexeme_stats(session: Session, cube_id: uuid.UUID, query: str) -> tuple[list[str], LexemeStats]:
    """:func:`cube_speakers` and :func:`query_lexeme_stats` in one round trip."""
    rows = session.execute(
        text(_STATS_SQL.format(speakers=_SPEAKERS_COL)), {"q": query, "cube": cube_id}
    ).all()
    return list(rows[0][4] or []), _lexeme_stats(rows)


# ---------------------------------------------------------------- the candidate statement
@dataclass(frozen=True)
class Candidate:
    """A row of the candidate set: a candidate proper, or a neighbouring turn fetched for smoothing."""

    id: uuid.UUID
    is_candidate: bool
    session_id: str | None
    created_at: datetime
    role: str | None
    content: str
    event_time: datetime | None
    has_dates: bool
    prev_id: uuid.UUID | None
    next_id: uuid.UUID | None
    dense: float
    lexical: float


def _tsquery(lexemes: Sequence[str]) -> str:
    """An OR tsquery of exact lexemes ('simple' config: they are already stemmed)."""
    return " | ".join("'" + lx.replace("\\", "\\\\").replace("'", "''") + "'" for lx in lexemes)


def _bm25_cte(
    flt: MemoryFilter, idf: dict[str, float], *, avg_len: float, k1: float, b: float, limit: int
) -> CTE:
    """BM25 top ``limit`` under the filter. The matching and scoring run in ``memos_lexical_matches`` (a
    SECURITY DEFINER function that checks cube access itself, see migration 2026-11-24-1200) so the GIN index
    on ``tsv`` is usable under row-level security; the rows are joined back to ``memories`` under RLS, which
    also applies the filter's other conditions."""
    lexemes = list(idf)
    # Only cube and status are applied inside; with any other condition the function returns every match.
    inner_limit = None if _has_extra_conditions(flt) else limit
    f = (
        func.memos_lexical_matches(
            cast(bindparam("lx_cubes", list(flt.cube_ids), type_=ARRAY(Uuid)), ARRAY(Uuid)),
            func.to_tsquery(literal_column("'simple'::regconfig"), bindparam("tsq", _tsquery(lexemes), type_=Text)),
            cast(bindparam("lx", lexemes, type_=ARRAY(Text)), ARRAY(Text)),
            cast(bindparam("idf", [idf[x] for x in lexemes], type_=ARRAY(Double)), ARRAY(Double)),
            cast(bindparam("lx_st", list(flt.statuses), type_=ARRAY(Text)), ARRAY(Text)),
            cast(bindparam("avgdl", max(avg_len, 1e-9), type_=Double), Double),
            cast(bindparam("k1", k1, type_=Double), Double),
            cast(bindparam("b", b, type_=Double), Double),
            cast(bindparam("lx_limit", inner_limit, type_=Integer), Integer),
        )
        .table_valued("memory_id", "score")
        .render_derived(name="lm")
    )
    stmt = (
        select(f.c.memory_id.label("id"), f.c.score.label("score"))
        .join(Memory, Memory.id == f.c.memory_id)
        .where(*flt.clauses())
        .order_by(f.c.score.desc())
        .limit(limit)
    )
    return stmt.cte("lex").prefix_with("MATERIALIZED")


def _has_extra_conditions(flt: MemoryFilter) -> bool:
    return bool(flt.kind or flt.tags or flt.metadata or flt.session_id is not None or flt.role is not None
                or flt.time_from is not None or flt.time_to is not None or flt.exclude_ids)


def candidates(
    session: Session,
    flt: MemoryFilter,
    *,
    vector: Sequence[float] | None,
    idf: dict[str, float],
    avg_len: float,
    k1: float,
    b: float,
    n_dense: int,
    n_lexical: int,
    lexical_fetch: int,
    neighbours: bool = True,
) -> list[Candidate]:
    """One statement: dense top ``n_dense`` (HNSW) and BM25 top ``n_lexical`` under the filter, their union,
    and (``neighbours``) the previous and next memory of each candidate's session, every row with its dense
    similarity and BM25 score (0 when outside the ``lexical_fetch`` best lexical matches)."""
    parts: list[Select[Any]] = []
    lex: CTE | None = None
    qv = bindparam("qv", list(vector), type_=Vector(EMBEDDING_DIM)) if vector is not None else None
    if idf:
        lex = _bm25_cte(flt, idf, avg_len=avg_len, k1=k1, b=b, limit=lexical_fetch)
        top = select(lex.c.id).order_by(lex.c.score.desc()).limit(n_lexical).subquery("lt")
        parts.append(select(top.c.id))
    if qv is not None:
        dist = Memory.embedding.cosine_distance(qv)
        dn = (
            select(Memory.id.label("id"))
            .where(Memory.embedding.is_not(None), *flt.clauses())
            .order_by(dist)
            .limit(n_dense)
            .cte("dn")
            .prefix_with("MATERIALIZED")
        )
        parts.append(select(dn.c.id))
    if not parts:
        return []
    cand = (union(*parts) if len(parts) > 1 else parts[0]).cte("cand")

    live = list(flt.statuses) or ["active"]
    nb_cols: list[Any] = [cand.c.id.label("id")]
    if neighbours:
        for name, before in (("prev_id", True), ("next_id", False)):
            p = aliased(Memory, name=name[:4])
            order = p.created_at.desc() if before else p.created_at
            nb_cols.append(
                select(p.id)
                .where(
                    p.cube_id == Memory.cube_id,
                    p.session_id == Memory.session_id,
                    (p.created_at < Memory.created_at) if before else (p.created_at > Memory.created_at),
                    p.status.in_(live),
                )
                .order_by(order)
                .limit(1)
                .correlate(Memory)
                .scalar_subquery()
                .label(name)
            )
    else:
        nb_cols += [literal(None, type_=Memory.id.type).label("prev_id"),
                    literal(None, type_=Memory.id.type).label("next_id")]
    nb = select(*nb_cols).join_from(cand, Memory, Memory.id == cand.c.id).cte("nb").prefix_with("MATERIALIZED")
    x = union(
        select(nb.c.id.label("id")),
        select(nb.c.prev_id).where(nb.c.prev_id.is_not(None)),
        select(nb.c.next_id).where(nb.c.next_id.is_not(None)),
    ).cte("x")
    dense_col = (1 - Memory.embedding.cosine_distance(qv)) if qv is not None else literal(0.0)
    lex_col = func.coalesce(lex.c.score, 0.0) if lex is not None else literal(0.0)
    stmt = (
        select(
            Memory.id, nb.c.id.is_not(None), Memory.session_id, Memory.created_at, Memory.role, Memory.content,
            Memory.event_time, Memory.meta.has_key("dates"), nb.c.prev_id, nb.c.next_id,
            func.coalesce(dense_col, 0.0), lex_col,
        )
        .select_from(x)
        .join(Memory, Memory.id == x.c.id)
        .outerjoin(nb, nb.c.id == x.c.id)
    )
    if lex is not None:
        stmt = stmt.outerjoin(lex, lex.c.id == x.c.id)
    return [
        Candidate(r[0], bool(r[1]), r[2], r[3], r[4], r[5], r[6], bool(r[7]), r[8], r[9], float(r[10]), float(r[11]))
        for r in session.execute(stmt).all()
    ]


# ---------------------------------------------------------------- context around hits
_NO_VECTORS = (defer(Memory.embedding), defer(Memory.tsv))


def load(session: Session, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Memory]:
    """Memories by id (without their vectors)."""
    if not ids:
        return {}
    rows = session.scalars(select(Memory).options(*_NO_VECTORS).where(Memory.id.in_(list(ids))))
    return {m.id: m for m in rows}


def session_neighbours(
    session: Session, ids: Sequence[uuid.UUID], *, hops: int, statuses: Sequence[str]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For each memory, up to ``hops`` previous and ``hops`` next memories of its (cube, session), in order."""
    if not ids or hops <= 0:
        return {}
    rows = session.execute(
        text(
            """
            SELECT m.id, nb.id, nb.created_at
            FROM memories m
            CROSS JOIN LATERAL (
                (SELECT p.id, p.created_at FROM memories p
                 WHERE p.cube_id = m.cube_id AND p.session_id = m.session_id AND p.created_at < m.created_at
                   AND p.status = ANY(:st) ORDER BY p.created_at DESC LIMIT :hops)
                UNION ALL
                (SELECT n.id, n.created_at FROM memories n
                 WHERE n.cube_id = m.cube_id AND n.session_id = m.session_id AND n.created_at > m.created_at
                   AND n.status = ANY(:st) ORDER BY n.created_at LIMIT :hops)
            ) AS nb
            WHERE m.id = ANY(:ids) AND m.session_id IS NOT NULL
            ORDER BY m.id, nb.created_at
            """
        ),
        {"ids": list(ids), "hops": hops, "st": list(statuses)},
    ).all()
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for mid, nid, _ in rows:
        out.setdefault(mid, []).append(nid)
    return out


def linked(
    session: Session, ids: Sequence[uuid.UUID], *, per_memory: int, statuses: Sequence[str]
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """For each memory, its strongest ``per_memory`` links (either direction) to live memories."""
    if not ids or per_memory <= 0:
        return {}
    other = aliased(Memory)
    ranked = (
        select(
            Memory.id.label("mid"),
            other.id.label("oid"),
            func.row_number().over(partition_by=Memory.id, order_by=MemoryLink.strength.desc()).label("rk"),
        )
        .join(MemoryLink, or_(MemoryLink.source_id == Memory.id, MemoryLink.target_id == Memory.id))
        .join(other, and_(other.id != Memory.id,
                          or_(other.id == MemoryLink.source_id, other.id == MemoryLink.target_id)))
        .where(Memory.id.in_(list(ids)), other.status.in_(list(statuses)))
        .subquery()
    )
    out: dict[uuid.UUID, list[uuid.UUID]] = {}
    for mid, oid in session.execute(select(ranked.c.mid, ranked.c.oid).where(ranked.c.rk <= per_memory)):
        out.setdefault(mid, []).append(oid)
    return out


def session_tails(session: Session, cube_id: uuid.UUID, session_ids: Sequence[str]) -> dict[str, tuple[Any, str]]:
    """The latest memory of each given session of the cube: session id -> (its stored vector, its role)."""
    if not session_ids:
        return {}
    rows = session.execute(
        text(
            """
            SELECT s.sid, m.embedding, m.role
            FROM unnest(CAST(:sids AS text[])) AS s(sid)
            CROSS JOIN LATERAL (
                SELECT embedding, role FROM memories
                WHERE cube_id = :cube AND session_id = s.sid AND embedding IS NOT NULL
                ORDER BY created_at DESC LIMIT 1
            ) AS m
            """
        ).columns(embedding=Vector(EMBEDDING_DIM)),
        {"cube": cube_id, "sids": list(session_ids)},
    ).all()
    return {r[0]: (r[1], r[2]) for r in rows}
