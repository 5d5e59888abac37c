"""full-text vectors for plaintext memories only

An activation memory's content is the rendered text of the memories it was built from; indexing it too would
count their terms twice in the cube's BM25 statistics (document frequencies, document count, average length)
and let lexical search match the snapshot. ``tsv`` becomes NULL for every kind but plaintext, and the
statistics tables are rebuilt (the column rewrite fires no triggers).

Revision ID: b2d7e5a9c310
Revises: f3b8d1a7c512
Create Date: 2026-11-30 08:00:00
"""
from __future__ import annotations

from alembic import op

revision = "b2d7e5a9c310"
down_revision = "f3b8d1a7c512"
branch_labels = None
depends_on = None

REBUILD_STATS = """
    DELETE FROM cube_lexemes;
    DELETE FROM cube_text_stats;
    DELETE FROM cube_roles;
    INSERT INTO cube_lexemes (cube_id, tenant_id, lexeme, df)
    SELECT m.cube_id, (array_agg(m.tenant_id))[1], u.lexeme, count(*)
    FROM memories m CROSS JOIN LATERAL unnest(m.tsv) AS u WHERE m.tsv IS NOT NULL GROUP BY 1, 3;
    INSERT INTO cube_text_stats (cube_id, tenant_id, docs, total_len)
    SELECT cube_id, (array_agg(tenant_id))[1], count(*), sum(length(tsv))
    FROM memories WHERE tsv IS NOT NULL GROUP BY 1;
    INSERT INTO cube_roles (cube_id, tenant_id, role, n)
    SELECT cube_id, (array_agg(tenant_id))[1], role, count(*)
    FROM memories WHERE role IS NOT NULL GROUP BY 1, 3;
"""


def upgrade() -> None:
    op.execute("ALTER TABLE memories ALTER COLUMN tsv SET EXPRESSION AS"
               " (CASE WHEN kind = 'plaintext' THEN to_tsvector('english', content) END)")
    op.execute(REBUILD_STATS)


def downgrade() -> None:
    op.execute("ALTER TABLE memories ALTER COLUMN tsv SET EXPRESSION AS (to_tsvector('english', content))")
    op.execute(REBUILD_STATS)
