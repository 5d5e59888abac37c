"""memory guard: risk on memories and their versions, lessons, per-cube guard settings

* ``memories.risk`` / ``memories.guard`` and the same on ``memory_versions``: the guard's score in [0, 1] and
  its reasons (``{"score", "reasons": {cue: weight}, "by"}``), written with the version that carries them;
  versions stay append-only (``memos_app`` may still update only ``memory_versions.valid_to``).
* ``cubes.guard``: the cube's guard settings (thresholds, trusted and untrusted sources, the read-time check);
  NULL = the service's defaults.
* ``guard_lessons``: what a rejected or dropped record looked like (its text and vector, its cues, its source
  and the query that surfaced it), consulted when later records are screened. Cube-owned like every other cube
  table: composite key to ``cubes (id, tenant_id)``, row-level security forced, written only into cubes the
  tenant may write.

Revision ID: 5c0e7a1d4b28
Revises: b2d7e5a9c310
Create Date: 2026-12-07 09:00:00
"""
from __future__ import annotations

from alembic import op

revision = "5c0e7a1d4b28"
down_revision = "b2d7e5a9c310"
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
        ALTER TABLE memories ADD COLUMN risk double precision NOT NULL DEFAULT 0, ADD COLUMN guard jsonb;
        ALTER TABLE memory_versions ADD COLUMN risk double precision, ADD COLUMN guard jsonb;
        ALTER TABLE cubes ADD COLUMN guard jsonb;
        CREATE INDEX ix_memories_cube_quarantine ON memories (cube_id, risk DESC, id)
          WHERE status = 'quarantined';

        CREATE TABLE guard_lessons (
          id uuid PRIMARY KEY,
          tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
          cube_id uuid NOT NULL,
          memory_id uuid REFERENCES memories (id) ON DELETE SET NULL,
          content text NOT NULL,
          embedding vector(384),
          cues jsonb NOT NULL DEFAULT '{{}}'::jsonb,
          source text,
          actor text,
          trigger text,
          decided_by text,
          reason text,
          created_at timestamptz NOT NULL DEFAULT now(),
          CONSTRAINT fk_guard_lessons_cube_id_tenant_id_cubes FOREIGN KEY (cube_id, tenant_id)
            REFERENCES cubes (id, tenant_id) ON DELETE CASCADE
        );
        CREATE INDEX ix_guard_lessons_cube ON guard_lessons (cube_id, created_at);
        CREATE INDEX ix_guard_lessons_tenant_id ON guard_lessons (tenant_id);
        ALTER TABLE guard_lessons ENABLE ROW LEVEL SECURITY;
        ALTER TABLE guard_lessons FORCE ROW LEVEL SECURITY;
        CREATE POLICY guard_lessons_read ON guard_lessons FOR SELECT
          USING ({SYS} OR tenant_id = {T} OR cube_id IN {_cubes('read')});
        CREATE POLICY guard_lessons_write ON guard_lessons FOR ALL
          USING ({SYS} OR cube_id IN {_cubes('write')}) WITH CHECK ({SYS} OR cube_id IN {_cubes('write')});
        GRANT SELECT, INSERT, UPDATE, DELETE ON guard_lessons TO {APP};
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE guard_lessons;
        DROP INDEX ix_memories_cube_quarantine;
        ALTER TABLE cubes DROP COLUMN guard;
        ALTER TABLE memory_versions DROP COLUMN risk, DROP COLUMN guard;
        ALTER TABLE memories DROP COLUMN risk, DROP COLUMN guard;
        """
    )
