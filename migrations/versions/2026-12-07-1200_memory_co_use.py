"""memory co-use: sets of memories that contexts carried together, counted (the scheduler's transformations).

``memory_co_use`` counts, per cube, how often ``/context`` assembled the same top memories together. A set
used often enough gets an activation snapshot built for it by the ``sweeps.transform`` sweep, which records the
activation here. Cube-owned like every other cube table: composite key to ``cubes (id, tenant_id)``, row-level
security forced; the counts are written by the system context (the access-statistics flush), read by tenants
through their cubes.

Revision ID: c3e8f1a2d946
Revises: 9a4c2e7f1b35
Create Date: 2026-12-07 12:00:00
"""
from __future__ import annotations

from alembic import op

revision = "c3e8f1a2d946"
down_revision = "9a4c2e7f1b35"
branch_labels = None
depends_on = None

APP = "memos_app"
T = "(SELECT memos_tenant())"
SYS = "(SELECT memos_is_system())"


def _cubes(access: str) -> str:
    return f"(SELECT memos_cubes('{access}'))"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE memory_co_use (
          id uuid PRIMARY KEY,
          tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
          cube_id uuid NOT NULL,
          signature text NOT NULL,
          memory_ids uuid[] NOT NULL,
          uses integer NOT NULL DEFAULT 0,
          first_at timestamptz NOT NULL DEFAULT now(),
          last_at timestamptz NOT NULL DEFAULT now(),
          activation_id uuid REFERENCES memories (id) ON DELETE SET NULL,
          CONSTRAINT uq_memory_co_use_cube_id_signature UNIQUE (cube_id, signature),
          CONSTRAINT fk_memory_co_use_cube_id_tenant_id_cubes FOREIGN KEY (cube_id, tenant_id)
            REFERENCES cubes (id, tenant_id) ON DELETE CASCADE
        );
        CREATE INDEX ix_memory_co_use_tenant_id ON memory_co_use (tenant_id);
        CREATE INDEX ix_memory_co_use_ripe ON memory_co_use (uses DESC) WHERE activation_id IS NULL;
        ALTER TABLE memory_co_use ENABLE ROW LEVEL SECURITY;
        ALTER TABLE memory_co_use FORCE ROW LEVEL SECURITY;
        CREATE POLICY memory_co_use_read ON memory_co_use FOR SELECT
          USING ({SYS} OR tenant_id = {T} OR cube_id IN {_cubes('read')});
        CREATE POLICY memory_co_use_write ON memory_co_use FOR ALL
          USING ({SYS}) WITH CHECK ({SYS});
        GRANT SELECT, INSERT, UPDATE, DELETE ON memory_co_use TO {APP};
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE memory_co_use")
