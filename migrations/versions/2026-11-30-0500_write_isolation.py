"""write isolation: policies tie every written row to a cube the tenant owns or may write

Revision ID: e6a1f4c2b903
Revises: 8b3f6d2e9a41
Create Date: 2026-11-30 05:00:00
"""
from __future__ import annotations

from alembic import op

revision = "e6a1f4c2b903"
down_revision = "8b3f6d2e9a41"
branch_labels = None
depends_on = None

DEFINER_FUNCTIONS = ["memos_granted_cubes(text)", "memos_tenant_exists(uuid)"]


def upgrade() -> None:
    for fn in DEFINER_FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO memos_app")


def downgrade() -> None:
    for fn in DEFINER_FUNCTIONS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {fn} TO PUBLIC")
