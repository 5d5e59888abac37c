"""payload pins: ``memories.pinned_at``, set while an activation's snapshot is pinned in memory.

A pin keeps a payload in the memory tiers of every serving process (``memos.scheduler``). It lives on the
record, under the same row-level security as the rest of the memory, so every process applies it the first
time it serves the payload, and it survives restarts.

Revision ID: 9a4c2e7f1b35
Revises: 7d2f9b4e6a13
Create Date: 2026-12-07 11:00:00
"""
from __future__ import annotations

from alembic import op

revision = "9a4c2e7f1b35"
down_revision = "7d2f9b4e6a13"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE memories ADD COLUMN pinned_at timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE memories DROP COLUMN pinned_at")
