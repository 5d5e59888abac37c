"""Cheaper BM25 scoring in ``memos_lexical_matches``, with ties broken by id.

1. Each match's score needs the term frequency of the query's lexemes only, but the function unnested the
   whole ``tsv`` of every match (15-20 lexemes) and joined it with the query's. ``setweight(tsv, 'A',
   lexemes)`` marks the query's lexemes and ``ts_filter(..., '{a}')`` keeps them (both C functions over the
   sorted tsvector), so only those are unnested; the join with the query's lexemes stays, so a lexeme that
   was already weighted A at write time changes nothing. The scores are the same sums over the same terms.
   Measured on 10,000 synthetic memories (bench/profile_search.py's data, 60 queries, ~400 matches each):
   median 3.4 -> 2.1 ms per call.
2. ``ORDER BY score DESC, id``: with a limit, equal scores (common: short memories sharing one rare term)
   were cut arbitrarily, so the same query could get a different candidate set from one call to the next.

Revision ID: 7d2f9b4e6a13
Revises: 5c0e7a1d4b28
Create Date: 2026-12-07 10:00:00
"""
from __future__ import annotations

from alembic import op

revision = "7d2f9b4e6a13"
down_revision = "5c0e7a1d4b28"
branch_labels = None
depends_on = None

SIGNATURE = "memos_lexical_matches(uuid[], tsquery, text[], double precision[], text[], double precision," \
            " double precision, double precision, integer)"

_BODY = """
CREATE OR REPLACE FUNCTION memos_lexical_matches(
    p_cubes uuid[], p_query tsquery, p_lexemes text[], p_idf double precision[], p_statuses text[],
    p_avg_len double precision, p_k1 double precision, p_b double precision, p_limit integer)
RETURNS TABLE (memory_id uuid, score double precision)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
$$
  SELECT m.id,
         sum(q.idf * array_length(u.positions, 1) * (p_k1 + 1)
             / (array_length(u.positions, 1) + p_k1 * (1 - p_b + p_b * length(m.tsv) / p_avg_len)))
  FROM memories m
  CROSS JOIN LATERAL unnest({terms}) AS u
  JOIN unnest(p_lexemes, p_idf) AS q(lexeme, idf) ON q.lexeme = u.lexeme
  WHERE m.tsv @@ p_query
    AND m.status = ANY(p_statuses)
    AND m.cube_id IN (
      SELECT c.id FROM cubes c
      WHERE c.id = ANY(p_cubes)
        AND (memos_is_system() OR c.tenant_id = memos_tenant()
             OR c.id IN (SELECT memos_granted_cubes('read'))))
  GROUP BY m.id
  ORDER BY {order}
  LIMIT p_limit
$$;
"""


def upgrade() -> None:
    # CREATE OR REPLACE keeps the function's owner and grants (memos_app's EXECUTE).
    op.execute(_BODY.format(terms="ts_filter(setweight(m.tsv, 'A', p_lexemes), '{a}')", order="2 DESC, 1"))


def downgrade() -> None:
    op.execute(_BODY.format(terms="m.tsv", order="2 DESC"))
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
