"""search speed: lexical matches through the full-text index under RLS; fillfactor 80 on memories

1. ``memos_lexical_matches``: the BM25 stage of hybrid search. Under row-level security the planner may use
   a condition as an index condition only if it cannot leak rows the policies hide, i.e. only if its operator
   is LEAKPROOF; ``tsv @@ tsquery`` (``ts_match_vq``) is not, so as ``memos_app`` the GIN index on ``tsv`` was
   never used and every lexical search read the whole cube (50k memories: 61 ms as memos_app, 19 ms as a
   superuser). Marking built-ins LEAKPROOF would weaken isolation everywhere; instead this SECURITY DEFINER
   function reads ``memories`` with its owner's rights (the migrating role) and does the isolation check
   itself: it matches only in the requested cubes that the transaction's tenant may read (its own, granted
   'read' or better, or the system context), exactly the ``memories_read`` policy's rule. It returns ids and
   scores only; callers join them back to ``memories`` under RLS, a second guard.

   The speed-up needs an owner that is not subject to the table's FORCE ROW LEVEL SECURITY: a superuser (the
   embedded default, the compose stack) or a role with BYPASSRLS. A plain owner role still gets correct
   results (the policies then apply inside too), at the old speed.

2. ``fillfactor = 80`` on ``memories``: access counts, heat and linking bookkeeping update memories often;
   an update whose new row version does not fit on the same page is a non-HOT update that adds an entry to
   every index, the HNSW one included. A memory row is about 1.1 kB (the 384-float vector is inline), so
   the 0.8 kB that fillfactor 90 leaves free rarely holds a new version; 80 leaves room for one. Measured
   on 2,000 bench memories and 400 searches (ingest, access counts): HOT share of updates 62.5% at 100,
   74.4% at 90, 89.9% at 80, and the heap was no larger at 80 (2,056 kB vs 2,200 kB at 100: fewer dead
   versions). Applies to pages written from now on.

Revision ID: c4e8a1f03b27
Revises: 9b4d2e7a1c55
Create Date: 2026-11-24 12:00:00
"""
from __future__ import annotations

from alembic import op

revision = "c4e8a1f03b27"
down_revision = "9b4d2e7a1c55"
branch_labels = None
depends_on = None

SIGNATURE = "memos_lexical_matches(uuid[], tsquery, text[], double precision[], text[], double precision," \
            " double precision, double precision, integer)"


def upgrade() -> None:
    # BM25 per match (Robertson & Zaragoza 2009): sum over the query lexemes present of
    # idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen)), tf = the lexeme's positions in tsv,
    # len = length(tsv). p_limit NULL = every match (the caller filters further before its own LIMIT).
    op.execute(
        """
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
          CROSS JOIN LATERAL unnest(m.tsv) AS u
          JOIN unnest(p_lexemes, p_idf) AS q(lexeme, idf) ON q.lexeme = u.lexeme
          WHERE m.tsv @@ p_query
            AND m.status = ANY(p_statuses)
            AND m.cube_id IN (
              SELECT c.id FROM cubes c
              WHERE c.id = ANY(p_cubes)
                AND (memos_is_system() OR c.tenant_id = memos_tenant()
                     OR c.id IN (SELECT memos_granted_cubes('read'))))
          GROUP BY m.id
          ORDER BY 2 DESC
          LIMIT p_limit
        $$;
        """
    )
    op.execute(f"REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {SIGNATURE} TO memos_app")
    op.execute("ALTER TABLE memories SET (fillfactor = 80)")


def downgrade() -> None:
    op.execute("ALTER TABLE memories RESET (fillfactor)")
    op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
