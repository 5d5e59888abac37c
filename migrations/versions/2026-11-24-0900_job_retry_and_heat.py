"""background work: job retry time, heat bookkeeping for the decay sweep

``jobs.not_before``: a failed attempt goes back to the outbox with a backoff; the relay skips it until then.
``memories.heat_at`` / ``heat_hits``: when heat was last decayed and how many of ``access_count`` hits it
already includes, so the sweep can fold new hits in and decay exactly once per elapsed interval.

Revision ID: 3c7e91d0a4b2
Revises: 5a1c0e2f7b10
Create Date: 2026-11-24 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "3c7e91d0a4b2"
down_revision = "5a1c0e2f7b10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.add_column("memories", sa.Column("heat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("memories", sa.Column("heat_hits", sa.Integer(), server_default="0", nullable=False))
    # Stuck-job sweep: rows handed to the broker whose job has not finished.
    op.create_index(
        "ix_jobs_unfinished", "jobs", ["dispatched_at"],
        postgresql_where=sa.text("status IN ('queued', 'running') AND dispatched_at IS NOT NULL"),
    )
    # TTL sweep: only memories that can expire.
    op.create_index(
        "ix_memories_expires_at", "memories", ["expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL AND status <> 'deleted'"),
    )


def downgrade() -> None:
    op.drop_index("ix_memories_expires_at", table_name="memories")
    op.drop_index("ix_jobs_unfinished", table_name="jobs")
    op.drop_column("memories", "heat_hits")
    op.drop_column("memories", "heat_at")
    op.drop_column("jobs", "not_before")
