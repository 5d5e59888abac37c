"""linking bookkeeping: when a memory was last linked, provenance lookups on versions

``memories.linked_at``: set by the linking job; the re-link sweep picks memories whose neighbours changed
after it (or that were never linked). A GIN index on ``memory_versions.provenance`` makes "which versions
came from this message / this consolidation job" a containment lookup (consolidation's idempotency check).

Revision ID: 7f2b6c1d9e30
Revises: 3c7e91d0a4b2
Create Date: 2026-11-24 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "7f2b6c1d9e30"
down_revision = "3c7e91d0a4b2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("memories", sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_memory_versions_provenance", "memory_versions", ["provenance"],
        postgresql_using="gin", postgresql_ops={"provenance": "jsonb_path_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_memory_versions_provenance", table_name="memory_versions")
    op.drop_column("memories", "linked_at")
