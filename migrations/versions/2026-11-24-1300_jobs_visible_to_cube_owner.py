"""jobs visible to the cube's owner: a write-grantee's jobs work on someone else's cube

A job belongs to the tenant that started it (``jobs.tenant_id``: its key posted the messages or memories),
and the ``job_owner`` policy shows it to that tenant only. When a write-grantee posts into a shared cube, the
cube's owner could not see the jobs changing their cube. This adds a read-only policy: the owner of a cube
may SELECT the jobs of that cube (not change them). Readers of a shared cube still see no jobs but their own.

Revision ID: d81f3a5c6e02
Revises: c4e8a1f03b27
Create Date: 2026-11-24 13:00:00
"""
from __future__ import annotations

from alembic import op

revision = "d81f3a5c6e02"
down_revision = "c4e8a1f03b27"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE POLICY job_cube_owner_read ON jobs FOR SELECT"
        " USING (cube_id IN (SELECT c.id FROM cubes c WHERE c.tenant_id = memos_tenant()))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY IF EXISTS job_cube_owner_read ON jobs")
