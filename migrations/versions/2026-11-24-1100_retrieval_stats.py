"""retrieval statistics: BM25 document frequencies, cube text stats, known speakers; session order index

Hybrid search scores its lexical side with BM25 (Robertson & Zaragoza 2009), which needs, per cube, the
number of documents, their total length and each lexeme's document frequency. Counting those at query time
is a scan per query term (tens of ms at 100k memories); instead statement-level triggers keep them in
three small tables as memories are inserted, change content or are removed:

* ``cube_lexemes (cube_id, lexeme) -> df``
* ``cube_text_stats (cube_id) -> docs, total_len`` (length = distinct lexemes, ``length(tsv)``)
* ``cube_roles (cube_id, role) -> n``: the cube's known speakers, for query name handling

One aggregated upsert per INSERT statement, lexemes in sorted order (two concurrent ingests of one cube lock
common lexemes in the same order: they wait, they do not deadlock); the row locks are held only from the
memories INSERT to the commit. Status changes (delete = a tombstone version) keep their counts: IDF is a
statistic and tolerates the drift. The policies mirror the memories table's.

``ix_memories_cube_session`` gains ``created_at``: a turn's neighbours are the previous/next memory of the same
(cube, session) in insertion order.

Revision ID: 9b4d2e7a1c55
Revises: 7f2b6c1d9e30
Create Date: 2026-11-24 11:00:00
"""
from __future__ import annotations

from alembic import op

revision = "9b4d2e7a1c55"
down_revision = "7f2b6c1d9e30"
branch_labels = None
depends_on = None

TABLES = ["cube_lexemes", "cube_text_stats", "cube_roles"]

# Rows (cube_id, tenant_id, tsv, role, s) each trigger folds in with sign s. An UPDATE counts only rows whose
# text or speaker changed (access counts, heat and linking update memories too, and must stay cheap).
_CHANGED = ("FROM old_rows o JOIN new_rows n ON n.id = o.id"
            " WHERE o.tsv IS DISTINCT FROM n.tsv OR o.role IS DISTINCT FROM n.role")
SOURCES = {
    "ins": "SELECT cube_id, tenant_id, tsv, role, 1 AS s FROM new_rows",
    # A cube's deletion cascades to its memories and to these tables: nothing to fold for a cube that is gone.
    "del": "SELECT o.cube_id, o.tenant_id, o.tsv, o.role, -1 AS s FROM old_rows o"
           " WHERE EXISTS (SELECT 1 FROM cubes c WHERE c.id = o.cube_id)",
    "upd": f"SELECT o.cube_id, o.tenant_id, o.tsv, o.role, -1 AS s {_CHANGED}"
           f" UNION ALL SELECT n.cube_id, n.tenant_id, n.tsv, n.role, 1 AS s {_CHANGED}",
}


def _fold_function(name: str, source: str) -> str:
    """A trigger function folding the statement's transition rows into the three tables, one aggregated upsert
    each, in key order. Invoker's rights: the same row-level security as the memories write that fired it."""
    return f"""
    CREATE OR REPLACE FUNCTION memos_text_stats_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO cube_lexemes AS t (cube_id, tenant_id, lexeme, df)
      SELECT d.cube_id, (array_agg(d.tenant_id))[1], u.lexeme, sum(d.s)
      FROM ({source}) d CROSS JOIN LATERAL unnest(d.tsv) AS u
      WHERE d.tsv IS NOT NULL
      GROUP BY d.cube_id, u.lexeme HAVING sum(d.s) <> 0 ORDER BY d.cube_id, u.lexeme
      ON CONFLICT (cube_id, lexeme) DO UPDATE SET df = t.df + excluded.df;

      INSERT INTO cube_text_stats AS t (cube_id, tenant_id, docs, total_len)
      SELECT d.cube_id, (array_agg(d.tenant_id))[1], sum(d.s), sum(d.s * length(d.tsv))
      FROM ({source}) d WHERE d.tsv IS NOT NULL GROUP BY d.cube_id ORDER BY d.cube_id
      ON CONFLICT (cube_id) DO UPDATE
        SET docs = t.docs + excluded.docs, total_len = t.total_len + excluded.total_len;

      INSERT INTO cube_roles AS t (cube_id, tenant_id, role, n)
      SELECT d.cube_id, (array_agg(d.tenant_id))[1], d.role, sum(d.s)
      FROM ({source}) d WHERE d.role IS NOT NULL
      GROUP BY d.cube_id, d.role HAVING sum(d.s) <> 0 ORDER BY d.cube_id, d.role
      ON CONFLICT (cube_id, role) DO UPDATE SET n = t.n + excluded.n;
      RETURN NULL;
    END $$;
    """


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE cube_lexemes (
            cube_id uuid NOT NULL REFERENCES cubes(id) ON DELETE CASCADE,
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            lexeme text NOT NULL,
            df integer NOT NULL,
            CONSTRAINT pk_cube_lexemes PRIMARY KEY (cube_id, lexeme)
        );
        CREATE TABLE cube_text_stats (
            cube_id uuid NOT NULL REFERENCES cubes(id) ON DELETE CASCADE,
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            docs bigint NOT NULL,
            total_len bigint NOT NULL,
            CONSTRAINT pk_cube_text_stats PRIMARY KEY (cube_id)
        );
        CREATE TABLE cube_roles (
            cube_id uuid NOT NULL REFERENCES cubes(id) ON DELETE CASCADE,
            tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
            role varchar(200) NOT NULL,
            n integer NOT NULL,
            CONSTRAINT pk_cube_roles PRIMARY KEY (cube_id, role)
        );
        """
    )
    for name, source in SOURCES.items():
        op.execute(_fold_function(name, source))
    op.execute(
        """
        CREATE TRIGGER memories_text_stats_ins AFTER INSERT ON memories
          REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION memos_text_stats_ins();
        CREATE TRIGGER memories_text_stats_del AFTER DELETE ON memories
          REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION memos_text_stats_del();
        CREATE TRIGGER memories_text_stats_upd AFTER UPDATE ON memories
          REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
          FOR EACH STATEMENT EXECUTE FUNCTION memos_text_stats_upd();
        """
    )
    # Backfill what exists.
    op.execute(
        """
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
    )
    for table in TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO memos_app")
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        op.execute(
            f"""
            CREATE POLICY {table}_read ON {table} FOR SELECT USING (
              memos_is_system() OR tenant_id = memos_tenant()
              OR cube_id IN (SELECT memos_granted_cubes('read')))
            """
        )
        op.execute(
            f"""
            CREATE POLICY {table}_write ON {table} FOR ALL USING (
              memos_is_system() OR tenant_id = memos_tenant()
              OR cube_id IN (SELECT memos_granted_cubes('write')))
            WITH CHECK (
              memos_is_system() OR tenant_id = memos_tenant()
              OR cube_id IN (SELECT memos_granted_cubes('write')))
            """
        )
    op.drop_index("ix_memories_cube_session", table_name="memories")
    op.create_index("ix_memories_cube_session", "memories", ["cube_id", "session_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_memories_cube_session", table_name="memories")
    op.create_index("ix_memories_cube_session", "memories", ["cube_id", "session_id"])
    op.execute(
        """
        DROP TRIGGER IF EXISTS memories_text_stats_ins ON memories;
        DROP TRIGGER IF EXISTS memories_text_stats_del ON memories;
        DROP TRIGGER IF EXISTS memories_text_stats_upd ON memories;
        DROP FUNCTION IF EXISTS memos_text_stats_ins();
        DROP FUNCTION IF EXISTS memos_text_stats_del();
        DROP FUNCTION IF EXISTS memos_text_stats_upd();
                """
    )
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
