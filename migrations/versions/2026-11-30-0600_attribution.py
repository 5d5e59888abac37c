"""attribution: who caused each version, in columns only the server writes

``memory_versions`` gains ``caused_by_key_id`` and ``caused_by_tenant_id`` (the API key, and its tenant,
whose request caused the version) and ``job_id`` (the job that wrote it; NULL for a direct write). ``jobs``
gains ``key_id`` (the key whose request enqueued it). ``api_keys`` gains ``max_trust``, the highest
``provenance.trust`` a write through the key may assert (0.9 unless the admin sets it).

Consolidation's "already applied" check used to look for ``provenance.note = "consolidation job <id>"``,
which a client could write too (and so make a queued job drop its facts); it now reads ``job_id``, with a
partial index. Existing versions are backfilled from what the server itself wrote: the marker on versions
whose actor is ``system:consolidation`` (a client's version never has that actor), the job's tenant and key,
and ``key:<id>`` actors of direct writes. The new columns sit on tables that already have row-level
security; their policies cover them. ``memos_app`` keeps UPDATE on ``memory_versions.valid_to`` only (closing a
version is the one change history ever needs), so not even a request that reached SQL could rewrite who
caused a version.

Revision ID: f3b8d1a7c512
Revises: e6a1f4c2b903
Create Date: 2026-11-30 06:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "f3b8d1a7c512"
down_revision = "e6a1f4c2b903"
branch_labels = None
depends_on = None

# The backfill reads and writes across tenants: the tables' owner must not be filtered by FORCE'd policies
# (a superuser is not anyway). NO FORCE and FORCE again inside this migration's transaction.
BACKFILLED = ("memory_versions", "jobs", "api_keys")
APP = "memos_app"
UUID_RE = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("max_trust", sa.Float(), server_default="0.9", nullable=False))
    op.add_column("jobs", sa.Column("key_id", postgresql.UUID(as_uuid=True), nullable=True))
    for name in ("caused_by_key_id", "caused_by_tenant_id", "job_id"):
        op.add_column("memory_versions", sa.Column(name, postgresql.UUID(as_uuid=True), nullable=True))

    for table in BACKFILLED:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    # Versions consolidation wrote: the job from its marker, the job's tenant (who posted the messages).
    op.execute(
        f"""
        UPDATE memory_versions AS v
        SET job_id = m.job_id, caused_by_tenant_id = j.tenant_id
        FROM (SELECT id, substring(provenance->>'note' FROM '^consolidation job ({UUID_RE})$')::uuid AS job_id
              FROM memory_versions
              WHERE actor = 'system:consolidation'
                AND provenance->>'note' ~ '^consolidation job {UUID_RE}$') AS m
        LEFT JOIN jobs AS j ON j.id = m.job_id
        WHERE v.id = m.id
        """
    )
    # Direct writes: the actor is the caller's key.
    op.execute(
        f"""
        UPDATE memory_versions AS v
        SET caused_by_key_id = k.id, caused_by_tenant_id = k.tenant_id
        FROM api_keys AS k
        WHERE v.actor ~ '^key:{UUID_RE}$' AND k.id = substring(v.actor FROM 5)::uuid
        """
    )
    for table in BACKFILLED:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")

    op.create_index(
        "ix_memory_versions_job_id", "memory_versions", ["job_id"], unique=False,
        postgresql_where=sa.text("job_id IS NOT NULL"),
    )
    op.execute(f"REVOKE UPDATE ON memory_versions FROM {APP}")
    op.execute(f"GRANT UPDATE (valid_to) ON memory_versions TO {APP}")


def downgrade() -> None:
    op.execute(f"GRANT UPDATE ON memory_versions TO {APP}")
    op.drop_index("ix_memory_versions_job_id", table_name="memory_versions")
    for name in ("job_id", "caused_by_tenant_id", "caused_by_key_id"):
        op.drop_column("memory_versions", name)
    op.drop_column("jobs", "key_id")
    op.drop_column("api_keys", "max_trust")
