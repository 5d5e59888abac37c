"""Retrieval queries: cube text statistics, the hybrid candidate statement, neighbours, links, contexts.

BM25 (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009) is computed in SQL
from each memory's ``tsv`` (term frequency = number of positions of the lexeme, length = ``length(tsv)``) and
the trigger-maintained ``cube_lexemes`` / ``cube_text_stats`` tables (document frequency, N, avgdl).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from pgvector.sqlalchemy import Vector
from psycopg.types.json import Jsonb
from sqlalchemy import (
    and_,
    func,
    or_,
    select,
    text,
    true,
)
from sqlalchemy.orm import Session, aliased, defer

from memcube.models import EMBEDDING_DIM, Memory, MemoryLink
from memcube.repository.memories import MemoryFilter


# ---------------------------------------------------------------- statistics
@dataclass(frozen=True)
class LexemeStats:
    docs: int
    avg_len: float
    df: dict[str, int]  # query lexeme -> document frequency in the cube (0 = absent)


def _lexeme_stats(rows: Sequence[Any]) -> LexemeStats:
    docs = int(rows[0][2] or 0) if rows else 0
    total = int(rows[0][3] or 0) if rows else 0
    return LexemeStats(docs, (total / docs) if docs else 1.0, {r[0]: int(r[1]) for r in rows if r[0] is not None})


def lexeme_stats_many(session: Session, cube_id: uuid.UUID, queries: Sequence[str]) -> list[LexemeStats]:
    """Each text's English lexemes with their document frequency in the cube, and the cube's N and avgdl, in
    one round trip (a text without lexemes gets empty statistics)."""
    if not queries:
        return []
    rows = session.execute(
        text(
            """
            SELECT u.i, t.lexeme, coalesce(l.df, 0), s.docs, s.total_len
            FROM unnest(CAST(:queries AS text[])) WITH ORDINALITY AS u(txt, i)
            LEFT JOIN cube_text_stats s ON s.cube_id = :cube
            CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', u.txt))) AS t(lexeme)
            LEFT JOIN cube_lexemes l ON l.cube_id = :cube AND l.lexeme = t.lexeme
            """
        ),
        {"queries": list(queries), "cube": cube_id},
    ).all()
    by_query: dict[int, list[Any]] = {}
    for r in rows:
        by_query.setdefault(int(r[0]), []).append(r[1:])
    empty = LexemeStats(0, 1.0, {})
    return [_lexeme_stats(by_query[i]) if i in by_query else empty for i in range(1, len(queries) + 1)]


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


def or_tsquery(lexemes: Sequence[str], *, all_of: bool = False) -> str:
    """An OR (``all_of``: AND) tsquery of exact lexemes ('simple' config: they are already stemmed)."""
    return (" & " if all_of else " | ").join(
        "'" + lx.replace("\\", "\\\\").replace("'", "''") + "'" for lx in lexemes)


def _has_extra_conditions(flt: MemoryFilter) -> bool:
    # kind plaintext (the default) is not one: other kinds are few, so the bounded lexical fetch stays enough.
    return bool(flt.kind not in (None, "plaintext") or flt.tags or flt.metadata or flt.session_id is not None
                or flt.role is not None or flt.time_from is not None or flt.time_to is not None or flt.exclude_ids)


# Compiled filters by value: compiling costs ~0.4 ms and a search compiles the same filter for each of its
# statements (and the next search in the same cube, the same one again). Cleared when full.
_FILTERS: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}
_FILTERS_MAX = 1_024


def _filter_key(flt: MemoryFilter) -> tuple[Any, ...]:
    return tuple(
        (name, json.dumps(v, sort_keys=True, default=str) if isinstance(v, dict)
         else tuple(v) if isinstance(v, list | tuple) else v)
        for name, v in sorted(vars(flt).items())
    )


def _filter_sql(session: Session, flt: MemoryFilter) -> tuple[str, dict[str, Any]]:
    """The filter's conditions as SQL on the ``memories`` table (driver paramstyle) and their parameters (a
    fresh dict the caller may extend)."""
    dialect = session.get_bind().dialect
    key = (dialect.name, *_filter_key(flt))
    found = _FILTERS.get(key)
    if found is None:
        compiled = and_(true(), *flt.clauses()).compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        # Executed by the driver directly: JSON values need the driver's wrapper (SQLAlchemy's bind processors
        # are not run); lists, uuids, datetimes and strings adapt as they are.
        found = str(compiled), {k: Jsonb(v) if isinstance(v, dict) else v for k, v in compiled.params.items()}
        if len(_FILTERS) >= _FILTERS_MAX:
            _FILTERS.clear()
        _FILTERS[key] = found
    return found[0], dict(found[1])


# The candidate statement is plain SQL assembled from these parts: building the equivalent SQLAlchemy Core
# construct (CTEs, aliases, correlated subqueries) cost 6-9 ms of Python per search, more than running it.
# Parameters use the driver's paramstyle; a literal % would have to be doubled. Rows are fetched by id through
# LATERAL (... OFFSET 0): a primary-key probe per row whatever the statistics say (right after a bulk load,
# before autovacuum has analysed the table, the planner hashed whole-cube scans instead: 4 ms each at 2k).
#
# The query's BM25 inputs are computed in the same statement (one round trip fewer than reading the statistics
# first): the query's lexemes with their document frequencies, N and avgdl (``cube_lexemes``,
# ``cube_text_stats``), the cube's speakers, then idf with common-term pruning and the lexical match terms,
# the same rules as ``memos.retrieval.service.bm25_idf`` / ``match_terms`` (ties broken by lexeme in code-point
# order there and here), every float computed in double precision in the same order as there, so the scores
# equal the two-step path's (tests/retrieval/test_candidate_statement.py).
_STATS = r"""
qlx AS MATERIALIZED (
  SELECT DISTINCT t.lexeme FROM unnest(tsvector_to_array(to_tsvector('english', %(c_q)s))) AS t(lexeme)
),
st AS MATERIALIZED (
  SELECT coalesce(s.docs, 0) AS docs, coalesce(s.total_len, 0) AS total_len,
    (SELECT array_agg(r.role ORDER BY r.role) FROM cube_roles r WHERE r.cube_id = %(c_cube)s AND r.n > 0) AS speakers
  FROM (SELECT 1) AS one LEFT JOIN cube_text_stats s ON s.cube_id = %(c_cube)s
),
dfs AS MATERIALIZED (
  SELECT q.lexeme, coalesce(l.df, 0) AS df
  FROM qlx q LEFT JOIN cube_lexemes l ON l.cube_id = %(c_cube)s AND l.lexeme = q.lexeme
),
present AS (
  SELECT d.lexeme, d.df,
    st.docs < %(c_prune_min)s OR d.df <= CAST(%(c_ratio)s AS double precision) * st.docs AS ok
  FROM dfs d, st WHERE d.df > 0 AND st.docs > 0
),
kept AS MATERIALIZED (
  SELECT lexeme, df FROM present WHERE ok
  UNION ALL
  (SELECT lexeme, df FROM present WHERE NOT EXISTS (SELECT 1 FROM present WHERE ok)
   ORDER BY df, lexeme COLLATE "C" LIMIT 1)
),
ranked AS (
  SELECT k.lexeme,
    ln(1 + (CAST(st.docs - k.df AS double precision) + CAST(0.5 AS double precision))
           / (CAST(k.df AS double precision) + CAST(0.5 AS double precision))) AS idf,
    row_number() OVER w AS rk,
    sum(k.df) OVER (w ROWS UNBOUNDED PRECEDING) AS cum,
    st.docs < %(c_prune_min)s AS small,
    st.docs >= %(c_prune_min)s AND count(*) OVER () >= 2 AND first_value(k.df) OVER w > %(c_budget)s AS conj
  FROM kept k, st
  WINDOW w AS (ORDER BY k.df, k.lexeme COLLATE "C")
),
picked AS (
  SELECT r.*, CASE WHEN conj THEN rk <= 2 ELSE small OR rk = 1 OR cum <= %(c_budget)s END AS matched
  FROM ranked r
),
terms AS MATERIALIZED (
  SELECT array_agg(lexeme ORDER BY rk) AS lexemes, array_agg(idf ORDER BY rk) AS idfs,
    array_agg(lexeme ORDER BY rk) FILTER (WHERE matched) AS matched,
    string_agg('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''',
               CASE WHEN conj THEN ' & ' ELSE ' | ' END ORDER BY rk) FILTER (WHERE matched) AS tsq,
    coalesce(bool_or(conj), false) AS conjunctive,
    (SELECT CASE WHEN docs > 0 THEN greatest(CAST(total_len AS double precision) / docs, 1e-9) ELSE 1.0 END
     FROM st) AS avgdl
  FROM picked
),"""
_LEX = """
lex AS MATERIALIZED (
  SELECT lm.memory_id AS id, lm.score
  FROM (SELECT * FROM terms WHERE tsq IS NOT NULL) AS t
  CROSS JOIN LATERAL memos_lexical_matches(
      CAST(%(c_cubes)s AS uuid[]), to_tsquery('simple', t.tsq), t.lexemes, t.idfs, CAST(%(c_st)s AS text[]),
      t.avgdl, CAST(%(c_k1)s AS double precision), CAST(%(c_b)s AS double precision),
      CAST(%(c_inner)s AS integer)) AS lm
  -- One primary-key probe per match (OFFSET 0 keeps the planner from hashing the whole cube instead).
  CROSS JOIN LATERAL (SELECT 1 FROM memories WHERE memories.id = lm.memory_id AND {flt} OFFSET 0) AS ok
  ORDER BY lm.score DESC, lm.memory_id
  LIMIT %(c_lex_fetch)s
)"""
_DENSE = """
dn AS MATERIALIZED (
  SELECT memories.id FROM memories
  WHERE memories.embedding IS NOT NULL AND {flt}
  ORDER BY memories.embedding <=> CAST(%(c_qv)s AS vector)
  LIMIT %(c_n_dense)s
)"""
_NB = """
nb AS MATERIALIZED (
  SELECT c.id,
    {prev} AS prev_id,
    {next} AS next_id
  FROM cand c CROSS JOIN LATERAL (SELECT * FROM memories WHERE memories.id = c.id OFFSET 0) AS m
),
x AS (
  SELECT id FROM nb
  UNION SELECT prev_id FROM nb WHERE prev_id IS NOT NULL
  UNION SELECT next_id FROM nb WHERE next_id IS NOT NULL
),
res AS (
  SELECT m.id, nb.id IS NOT NULL AS is_candidate, m.session_id, m.created_at, m.role, m.content, m.event_time,
         m.metadata ? 'dates' AS has_dates, nb.prev_id, nb.next_id, {dense} AS dense,
         coalesce(lex.score, 0) AS lexical
  FROM x CROSS JOIN LATERAL (SELECT * FROM memories WHERE memories.id = x.id OFFSET 0) AS m
  LEFT JOIN nb ON nb.id = x.id
  LEFT JOIN lex ON lex.id = x.id
)"""
# The statistics on every row (a few values), and alone on one row when there is no candidate.
_WITH_STATS = """
SELECT st.docs, st.total_len, st.speakers, (SELECT array_agg(lexeme) FROM dfs) AS lexemes,
       (SELECT array_agg(df) FROM dfs) AS dfs, terms.lexemes AS kept, terms.idfs, terms.matched,
       terms.conjunctive, res.*
FROM st CROSS JOIN terms LEFT JOIN res ON true"""
# The split path's first statement: the statistics and the scored lexical matches as two array literals (text:
# the client hands them back unparsed; float8 text output is exact since PostgreSQL 12).
_LEXICAL_ONLY = """
SELECT st.docs, st.total_len, st.speakers, (SELECT array_agg(lexeme) FROM dfs) AS lexemes,
       (SELECT array_agg(df) FROM dfs) AS dfs, terms.lexemes AS kept, terms.idfs, terms.matched,
       terms.conjunctive,
       CAST((SELECT coalesce(array_agg(id ORDER BY score DESC, id), '{}') FROM lex) AS text) AS lex_ids,
       CAST((SELECT coalesce(array_agg(score ORDER BY score DESC, id), '{}') FROM lex) AS text) AS lex_scores
FROM st CROSS JOIN terms"""
# ... and its second one takes them back as parameters.
_LEX_GIVEN = """
lex AS MATERIALIZED (
  SELECT l.id, l.score
  FROM unnest(CAST(%(c_lex_ids)s AS uuid[]), CAST(%(c_lex_scores)s AS double precision[])) AS l(id, score)
)"""
_NEIGHBOUR = """(SELECT p.id FROM memories p
      WHERE p.cube_id = m.cube_id AND p.session_id = m.session_id AND p.created_at {op} m.created_at
        AND p.status = ANY(CAST(%(c_live)s AS text[]))
      ORDER BY p.created_at {order} LIMIT 1)"""


@dataclass(frozen=True)
class Bm25:
    """How lexical candidates are found and scored (the rules are ``memos.retrieval.service``'s)."""

    k1: float
    b: float
    max_df_ratio: float  # in cubes of ``prune_min_docs`` or more, terms in more of the memories are dropped
    prune_min_docs: int
    match_budget: int  # a large cube's lexical candidates: matches of its rarest terms up to this many rows
    n_lexical: int  # lexical candidates
    lexical_fetch: int  # best lexical matches scored (so that neighbours get their lexical score too)


@dataclass(frozen=True)
class LexicalSet:
    """The query's BM25 inputs in a cube and its scored lexical matches (best first): the first statement of
    the split hybrid path (:func:`lexical_matches`), run while the query is being embedded."""

    speakers: list[str]
    stats: LexemeStats
    idf: dict[str, float]
    match: list[str]
    conjunctive: bool  # matches contain every match term (else any of them)
    ids: str  # the matches' ids, a uuid[] literal
    scores: str  # their scores, a float8[] literal in the same order


@dataclass(frozen=True)
class CandidateSet:
    """The candidate statement's answer: the cube's speakers, the query's lexeme statistics, the BM25 terms
    it used (idf of the kept lexemes, the lexemes whose matches became candidates), the rows."""

    speakers: list[str]
    stats: LexemeStats
    idf: dict[str, float]
    match: list[str]
    conjunctive: bool  # matches contain every match term (else any of them)
    rows: list[Candidate]


def _lexical_params(flt: MemoryFilter, cube_id: uuid.UUID, query: str, bm25: Bm25) -> dict[str, Any]:
    return dict(
        c_q=query, c_cube=cube_id, c_prune_min=bm25.prune_min_docs, c_ratio=bm25.max_df_ratio,
        c_budget=bm25.match_budget, c_cubes=list(flt.cube_ids), c_st=list(flt.statuses), c_k1=bm25.k1,
        c_b=bm25.b,
        # Only cube and status are applied inside; with any other condition it returns every match.
        c_inner=None if _has_extra_conditions(flt) else bm25.lexical_fetch,
        c_lex_fetch=bm25.lexical_fetch, c_n_lex=bm25.n_lexical,
    )


def _statistics(head: Any) -> tuple[list[str], LexemeStats, dict[str, float], list[str], bool]:
    """Speakers, lexeme statistics, idf of the kept lexemes, the match terms and whether a match needs all of
    them, from a statistics row."""
    docs, total = int(head.docs or 0), int(head.total_len or 0)
    stats = LexemeStats(docs, (total / docs) if docs else 1.0,
                        dict(zip(head.lexemes or [], [int(d) for d in head.dfs or []], strict=True)))
    idf = dict(zip(head.kept or [], [float(x) for x in head.idfs or []], strict=True))
    return list(head.speakers or []), stats, idf, list(head.matched or []), bool(head.conjunctive)


def lexical_matches(
    session: Session, flt: MemoryFilter, *, cube_id: uuid.UUID, query: str, bm25: Bm25
) -> LexicalSet:
    """One statement: the query's BM25 statistics in ``cube_id``, the cube's speakers, and the best
    ``bm25.lexical_fetch`` lexical matches under the filter with their scores (the ``lex`` part of
    :func:`candidates`, which takes the result back through its ``lexical`` argument)."""
    flt_sql, params = _filter_sql(session, flt)
    params.update(_lexical_params(flt, cube_id, query, bm25))
    sql = "WITH" + _STATS + _LEX.format(flt=flt_sql) + _LEXICAL_ONLY
    head = session.connection().exec_driver_sql(sql, params).one()
    speakers, stats, idf, match, conjunctive = _statistics(head)
    return LexicalSet(speakers, stats, idf, match, conjunctive, head.lex_ids, head.lex_scores)


def candidates(
    session: Session,
    flt: MemoryFilter,
    *,
    cube_id: uuid.UUID,
    query: str,
    vector: Sequence[float] | None,
    bm25: Bm25,
    n_dense: int,
    neighbours: bool = True,
    lexical: LexicalSet | None = None,
) -> CandidateSet:
    """One statement: the query's BM25 statistics in ``cube_id`` and the cube's speakers; dense top
    ``n_dense`` (HNSW; none when ``vector`` is None) and BM25 top ``bm25.n_lexical`` under the filter, their
    union, and (``neighbours``) the previous and next memory of each candidate's session, every row with its
    dense similarity and BM25 score (0 when outside the ``bm25.lexical_fetch`` best lexical matches).
    Lexical candidates contain one of the match terms and are scored with every kept term; they come only
    from ``flt.cube_ids`` (an empty list means no lexical candidates, not every cube).

    With ``lexical`` (what :func:`lexical_matches` returned for the same query and filter) the statistics and
    matches are taken from it instead of computed again: the same rows, in a statement without the BM25 part.

    The BM25 matching runs in ``memos_lexical_matches`` (SECURITY DEFINER, checks cube access itself, see
    migration 2026-11-24-1200) so the GIN index on ``tsv`` is usable under row-level security; its rows are
    joined back to ``memories`` under RLS, which also applies the filter's other conditions."""
    flt_sql, params = _filter_sql(session, flt)
    params.update(_lexical_params(flt, cube_id, query, bm25))
    if lexical is None:
        ctes = [_STATS, _LEX.format(flt=flt_sql)]
    else:
        # The ids were read under the filter and RLS; the rows are read again under RLS below.
        ctes = [_LEX_GIVEN]
        params.update(c_lex_ids=lexical.ids, c_lex_scores=lexical.scores)
    parts = ["SELECT id FROM (SELECT id FROM lex ORDER BY score DESC, id LIMIT %(c_n_lex)s) AS lt"]
    if vector is not None:
        ctes.append("," + _DENSE.format(flt=flt_sql))
        parts.append("SELECT id FROM dn")
        params.update(c_qv=vector_literal(vector), c_n_dense=n_dense)
    ctes.append(f",\ncand AS ({' UNION '.join(parts)}),")
    params["c_live"] = list(flt.statuses) or ["active"]
    if neighbours:
        prev, nxt = _NEIGHBOUR.format(op="<", order="DESC"), _NEIGHBOUR.format(op=">", order="ASC")
    else:
        prev = nxt = "CAST(NULL AS uuid)"
    sql = "WITH" + "".join(ctes) + _NB.format(
        prev=prev, next=nxt,
        dense="coalesce(1 - (m.embedding <=> CAST(%(c_qv)s AS vector)), 0)" if vector is not None else "0.0",
    ) + (_WITH_STATS if lexical is None else "\nSELECT res.* FROM res")
    rows = session.connection().exec_driver_sql(sql, params).all()
    out = [
        Candidate(r.id, bool(r.is_candidate), r.session_id, r.created_at, r.role, r.content, r.event_time,
                  bool(r.has_dates), r.prev_id, r.next_id, float(r.dense), float(r.lexical))
        for r in rows if r.id is not None
    ]
    if lexical is not None:
        return CandidateSet(lexical.speakers, lexical.stats, lexical.idf, lexical.match, lexical.conjunctive, out)
    speakers, stats, idf, match, conjunctive = _statistics(rows[0])
    return CandidateSet(speakers, stats, idf, match, conjunctive, out)


def vector_literal(vector: Any) -> str:
    """pgvector's text form of a vector (9 significant digits: a float32 reads back exactly). %-formatting of
    Python floats: 74 us per 384-d vector against 170 us for format() on numpy scalars."""
    return "[" + ",".join(["%.9g" % x for x in np.asarray(vector, dtype=np.float64).tolist()]) + "]"  # noqa: UP031


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
