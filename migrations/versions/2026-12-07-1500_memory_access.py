"""memory access: search-hit counts in a narrow table of their own, out of the memories rows.

The access-statistics flush (``memos.retrieval.access``) added every search hit to ``memories.access_count`` /
``last_accessed_at`` every 2 s. Each such UPDATE wrote a new version of the wide ``memories`` row (its vector,
text and tsvector), new entries in its indexes (HNSW and GIN included: the rows have no room for a HOT update)
and ran its statement triggers; bench/cpu_budget.py put it at 34-53% of PostgreSQL's time during dense search.
Now the flush upserts ``memory_access`` (one row per memory ever found; no indexed column changes, and the
fillfactor leaves room for HOT updates). Cube-owned like every other cube table: composite key to
``cubes (id, tenant_id)``, row-level security forced; written by the system context (the flush), read by
tenants through their cubes, as ``memories`` are. The counts are copied over and the old columns dropped.

Revision ID: 4d9b6e2f7a13
Revises: 8e1c4a7d2b90
Create Date: 2026-12-07 15:00:00
"""
from __future__ import annotations

from alembic import op

revision = "4d9b6e2f7a13"
down_revision = "8e1c4a7d2b90"
branch_labels = None
depends_on = None

APP = "memos_app"
T = "(SELECT memos_tenant())"
SYS = "(SELECT memos_is_system())"
READ_CUBES = "(SELECT memos_cubes('read'))"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE memory_access (
          memory_id uuid NOT NULL,
          tenant_id uuid NOT NULL,
          cube_id uuid NOT NULL,
          access_count integer NOT NULL DEFAULT 0,
          last_accessed_at timestamptz,
          CONSTRAINT pk_memory_access PRIMARY KEY (memory_id),
          CONSTRAINT fk_memory_access_memory_id_memories FOREIGN KEY (memory_id)
            REFERENCES memories (id) ON DELETE CASCADE,
          CONSTRAINT fk_memory_access_tenant_id_tenants FOREIGN KEY (tenant_id)
            REFERENCES tenants (id) ON DELETE CASCADE,
          CONSTRAINT fk_memory_access_cube_id_tenant_id_cubes FOREIGN KEY (cube_id, tenant_id)
            REFERENCES cubes (id, tenant_id) ON DELETE CASCADE
        ) WITH (fillfactor = 70);
        CREATE INDEX ix_memory_access_tenant_id ON memory_access (tenant_id);

        ALTER TABLE memories NO FORCE ROW LEVEL SECURITY;
        INSERT INTO memory_access (memory_id, tenant_id, cube_id, access_count, last_accessed_at)
        SELECT id, tenant_id, cube_id, access_count, last_accessed_at FROM memories
        WHERE access_count > 0 OR last_accessed_at IS NOT NULL;
        ALTER TABLE memories FORCE ROW LEVEL SECURITY;
        ALTER TABLE memories DROP COLUMN access_count, DROP COLUMN last_accessed_at;

        ALTER TABLE memory_access ENABLE ROW LEVEL SECURITY;
        ALTER TABLE memory_access FORCE ROW LEVEL SECURITY;
        CREATE POLICY memory_access_read ON memory_access FOR SELECT
          USING ({SYS} OR tenant_id = {T} OR cube_id IN {READ_CUBES});
        CREATE POLICY memory_access_write ON memory_access FOR ALL
          USING ({SYS}) WITH CHECK ({SYS});
        GRANT SELECT, INSERT, UPDATE, DELETE ON memory_access TO {APP};
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE memories ADD COLUMN access_count integer NOT NULL DEFAULT 0,
                             ADD COLUMN last_accessed_at timestamptz;
        ALTER TABLE memories ALTER COLUMN access_count DROP DEFAULT;
        ALTER TABLE memories NO FORCE ROW LEVEL SECURITY;
        ALTER TABLE memory_access NO FORCE ROW LEVEL SECURITY;
        UPDATE memories AS m SET access_count = a.access_count, last_accessed_at = a.last_accessed_at
        FROM memory_access AS a WHERE a.memory_id = m.id;
        ALTER TABLE memories FORCE ROW LEVEL SECURITY;
        DROP TABLE memory_access;
        """
    )
