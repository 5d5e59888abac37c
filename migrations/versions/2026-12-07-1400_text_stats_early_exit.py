"""memos_text_stats_upd returns at once when no row's text or speaker changed.

Most UPDATEs of memories touch neither (access counts after every search, heat, linking, status); the trigger
folded them through three upserts, each joining the statement's old and new rows again to find that nothing
changed. Now one join finds it first. Measured with bench/cpu_budget.py: no visible change in that update's
cost (it is 34-53% of a dense search's PostgreSQL time, and most of it is the rows' own updates); kept because
the function does strictly less work.

Revision ID: 8e1c4a7d2b90
Revises: 5b7d1e9c3a20
Create Date: 2026-12-07 14:00:00
"""
from __future__ import annotations

from alembic import op

revision = "8e1c4a7d2b90"
down_revision = "5b7d1e9c3a20"
branch_labels = None
depends_on = None

_CHANGED = ("FROM old_rows o JOIN new_rows n ON n.id = o.id"
            " WHERE o.tsv IS DISTINCT FROM n.tsv OR o.role IS DISTINCT FROM n.role")
_SOURCE = (f"SELECT o.cube_id, o.tenant_id, o.tsv, o.role, -1 AS s {_CHANGED}"
           f" UNION ALL SELECT n.cube_id, n.tenant_id, n.tsv, n.role, 1 AS s {_CHANGED}")


def _function(early_exit: bool) -> str:
    check = f"IF NOT EXISTS (SELECT 1 {_CHANGED}) THEN RETURN NULL; END IF;" if early_exit else ""
    return f"""
    CREATE OR REPLACE FUNCTION memos_text_stats_upd() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      {check}
      INSERT INTO cube_lexemes AS t (cube_id, tenant_id, lexeme, df)
      SELECT d.cube_id, (array_agg(d.tenant_id))[1], u.lexeme, sum(d.s)
      FROM ({_SOURCE}) d CROSS JOIN LATERAL unnest(d.tsv) AS u
      WHERE d.tsv IS NOT NULL
      GROUP BY d.cube_id, u.lexeme HAVING sum(d.s) <> 0 ORDER BY d.cube_id, u.lexeme
      ON CONFLICT (cube_id, lexeme) DO UPDATE SET df = t.df + excluded.df;

      INSERT INTO cube_text_stats AS t (cube_id, tenant_id, docs, total_len)
      SELECT d.cube_id, (array_agg(d.tenant_id))[1], sum(d.s), sum(d.s * length(d.tsv))
      FROM ({_SOURCE}) d WHERE d.tsv IS NOT NULL GROUP BY d.cube_id ORDER BY d.cube_id
      ON CONFLICT (cube_id) DO UPDATE
        SET docs = t.docs + excluded.docs, total_len = t.total_len + excluded.total_len;

      INSERT INTO cube_roles AS t (cube_id, tenant_id, role, n)
      SELECT d.cube_id, (array_agg(d.tenant_id))[1], d.role, sum(d.s)
      FROM ({_SOURCE}) d WHERE d.role IS NOT NULL
      GROUP BY d.cube_id, d.role HAVING sum(d.s) <> 0 ORDER BY d.cube_id, d.role
      ON CONFLICT (cube_id, role) DO UPDATE SET n = t.n + excluded.n;
      RETURN NULL;
    END $$;
    """


def upgrade() -> None:
    op.execute(_function(early_exit=True))


def downgrade() -> None:
    op.execute(_function(early_exit=False))
