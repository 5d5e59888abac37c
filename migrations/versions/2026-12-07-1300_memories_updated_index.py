"""memories (cube_id, updated_at): what changed in a cube since a moment, read from an index.

A session's working memory (memos.scheduler.working) is reused for a query only with the memories of its cube
that changed since it was filled; this index makes that a few rows' read whatever the cube's size.

Revision ID: 5b7d1e9c3a20
Revises: c3e8f1a2d946
Create Date: 2026-12-07 13:00:00
"""
from __future__ import annotations

from alembic import op

revision = "5b7d1e9c3a20"
down_revision = "c3e8f1a2d946"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_memories_cube_updated", "memories", ["cube_id", "updated_at"])


def downgrade() -> None:
    op.drop_index("ix_memories_cube_updated", table_name="memories")
