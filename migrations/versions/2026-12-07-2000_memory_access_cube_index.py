"""memory access: an index on its cube, for the cascade when a cube is deleted.

Deleting a cube deletes its ``memory_access`` rows through the composite key to ``cubes (id, tenant_id)``;
without an index on those columns PostgreSQL reads the whole table once per deleted cube (every tenant's
rows: a million memories that were ever found). ``cube_id`` never changes, so the counts' upserts stay HOT
updates; only a memory's first hit writes an entry.

Revision ID: 6f2a9c4e1b58
Revises: 4d9b6e2f7a13
Create Date: 2026-12-07 20:00:00
"""
from __future__ import annotations

from alembic import op

revision = "6f2a9c4e1b58"
down_revision = "4d9b6e2f7a13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX ix_memory_access_cube_id_tenant_id ON memory_access (cube_id, tenant_id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_memory_access_cube_id_tenant_id")
