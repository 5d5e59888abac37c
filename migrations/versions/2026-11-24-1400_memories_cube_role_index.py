"""memories (cube_id, role, created_at): a speaker's latest memories without a scan of the cube

Consolidation compares each new fact with the nearest memories of the same speaker as well as the cube's
nearest overall: in a large cube the overall nearest are crowded with other people's facts of the same
kind ("X lives in Y"), and the speaker's own earlier fact, the one an UPDATE or DELETE must find, falls
out of the top few. This index lets that per-speaker search read only the speaker's latest rows (it is
exact over at most 2,000 of them: a role-filtered HNSW scan can stop short of a rare speaker's rows).

Revision ID: 5e0a9c4d2b17
Revises: d81f3a5c6e02
Create Date: 2026-11-24 14:00:00
"""
from __future__ import annotations

from alembic import op

revision = "5e0a9c4d2b17"
down_revision = "d81f3a5c6e02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_memories_cube_role", "memories", ["cube_id", "role", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_memories_cube_role", table_name="memories")
