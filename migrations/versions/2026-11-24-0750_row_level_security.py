"""row-level security: the memos_app role and per-tenant policies

Every request runs as ``memos_app`` (no BYPASSRLS) with ``memos.tenant_id`` set per transaction.
A tenant sees its own rows and the rows of cubes granted to it; writes to a granted cube need a
``write`` grant. The value ``*`` is the system context of relays and sweeps.

Revision ID: 5a1c0e2f7b10
Revises: 8d93a4b8783f
Create Date: 2026-11-24 07:50:00
"""
from __future__ import annotations

from alembic import op

revision = "5a1c0e2f7b10"
down_revision = "8d93a4b8783f"
branch_labels = None
depends_on = None

ROLE = "memos_app"
# Tables whose rows belong to a cube: readable through any grant, writable through a write grant.
CUBE_TABLES = ["memories", "memory_versions", "memory_links", "messages", "payload_blobs"]
ALL_TABLES = ["tenants", "api_keys", "cubes", "cube_grants", "jobs", *CUBE_TABLES]


def upgrade() -> None:
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN
            CREATE ROLE {ROLE} LOGIN NOBYPASSRLS;  -- memcube.bootstrap creates it first
          END IF;
        END $$;
        """
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {ROLE}")
    op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {ROLE}")

    op.execute(
        """
        CREATE OR REPLACE FUNCTION memos_is_system() RETURNS boolean LANGUAGE sql STABLE AS
        $$ SELECT coalesce(current_setting('memos.tenant_id', true), '') = '*' $$;
        CREATE OR REPLACE FUNCTION memos_tenant() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT CASE WHEN coalesce(current_setting('memos.tenant_id', true), '') IN ('', '*') THEN NULL
                       ELSE current_setting('memos.tenant_id', true)::uuid END $$;
        """
    )
    # SECURITY DEFINER so the lookup is not itself filtered by cube_grants' policy (and cannot recurse).
    op.execute(
        """
        CREATE OR REPLACE FUNCTION memos_granted_cubes(min_access text) RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT cube_id FROM cube_grants
           WHERE grantee_id = memos_tenant() AND (min_access = 'read' OR access = 'write') $$;
        """
    )

    # Granting a cube names another tenant, whose row the granter cannot see: existence only.
    op.execute(
        """
        CREATE OR REPLACE FUNCTION memos_tenant_exists(tid uuid) RETURNS boolean
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS
        $$ SELECT EXISTS (SELECT 1 FROM tenants WHERE id = tid) $$;
        """
    )

    for table in ALL_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")

    # Tenants and keys are managed with the admin key (system context); a tenant sees its own row only.
    op.execute(
        "CREATE POLICY tenant_self ON tenants USING (memos_is_system() OR id = memos_tenant())"
    )
    op.execute(
        "CREATE POLICY tenant_keys ON api_keys USING (memos_is_system() OR tenant_id = memos_tenant())"
    )
    op.execute(
        """
        CREATE POLICY cube_read ON cubes FOR SELECT USING (
          memos_is_system() OR tenant_id = memos_tenant() OR id IN (SELECT memos_granted_cubes('read')))
        """
    )
    op.execute(
        """
        CREATE POLICY cube_write ON cubes FOR ALL USING (memos_is_system() OR tenant_id = memos_tenant())
        WITH CHECK (memos_is_system() OR tenant_id = memos_tenant())
        """
    )
    op.execute(
        """
        CREATE POLICY grant_read ON cube_grants FOR SELECT USING (
          memos_is_system() OR tenant_id = memos_tenant() OR grantee_id = memos_tenant())
        """
    )
    op.execute(
        """
        CREATE POLICY grant_write ON cube_grants FOR ALL USING (memos_is_system() OR tenant_id = memos_tenant())
        WITH CHECK (memos_is_system() OR tenant_id = memos_tenant())
        """
    )
    op.execute("CREATE POLICY job_owner ON jobs USING (memos_is_system() OR tenant_id = memos_tenant())")
    for table in CUBE_TABLES:
        op.execute(
            f"""
            CREATE POLICY {table}_read ON {table} FOR SELECT USING (
              memos_is_system() OR tenant_id = memos_tenant()
              OR cube_id IN (SELECT memos_granted_cubes('read')))
            """
        )
        op.execute(
            f"""
            CREATE POLICY {table}_write ON {table} FOR ALL USING (
              memos_is_system() OR tenant_id = memos_tenant()
              OR cube_id IN (SELECT memos_granted_cubes('write')))
            WITH CHECK (
              memos_is_system() OR tenant_id = memos_tenant()
              OR cube_id IN (SELECT memos_granted_cubes('write')))
            """
        )


def downgrade() -> None:
    for table in CUBE_TABLES:
        op.execute(f"DROP POLICY IF EXISTS {table}_read ON {table}")
        op.execute(f"DROP POLICY IF EXISTS {table}_write ON {table}")
    for name, table in [
        ("tenant_self", "tenants"), ("tenant_keys", "api_keys"), ("cube_read", "cubes"),
        ("cube_write", "cubes"), ("grant_read", "cube_grants"), ("grant_write", "cube_grants"),
        ("job_owner", "jobs"),
    ]:
        op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
    for table in ALL_TABLES:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS memos_granted_cubes(text)")
    op.execute("DROP FUNCTION IF EXISTS memos_tenant_exists(uuid)")
    op.execute("DROP FUNCTION IF EXISTS memos_tenant()")
    op.execute("DROP FUNCTION IF EXISTS memos_is_system()")
