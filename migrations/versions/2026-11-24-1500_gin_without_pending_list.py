"""GIN indexes without a pending list: searches stay fast while memories are being written

GIN's ``fastupdate`` (on by default) appends new entries to a pending list that is merged into the index
only by VACUUM or when it outgrows ``gin_pending_list_limit`` (4 MB); until then every search reads the
whole list. In a store that writes and searches all the time that is the normal state: right after 5,000
memories were added, one full-text lookup of three terms took 1.28 ms in the index scan, 0.02 ms once the
list was merged (60x), and consolidation runs hundreds of them per pass (BM25 candidates), next to the
search's lexical stage and the idempotency check on ``memory_versions.provenance``. With ``fastupdate``
off, each insert updates the index in place: a little more work per write, no slow searches. The lists
built so far are merged here.

Revision ID: 8b3f6d2e9a41
Revises: 5e0a9c4d2b17
Create Date: 2026-11-24 15:00:00
"""
from __future__ import annotations

from alembic import op

revision = "8b3f6d2e9a41"
down_revision = "5e0a9c4d2b17"
branch_labels = None
depends_on = None

GIN_INDEXES = ("ix_memories_tsv", "ix_memories_tags", "ix_memory_versions_provenance")


def upgrade() -> None:
    for name in GIN_INDEXES:
        op.execute(f"ALTER INDEX {name} SET (fastupdate = off)")
        op.execute(f"SELECT gin_clean_pending_list('{name}'::regclass)")


def downgrade() -> None:
    for name in GIN_INDEXES:
        op.execute(f"ALTER INDEX {name} RESET (fastupdate)")
