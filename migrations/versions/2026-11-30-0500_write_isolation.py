"""write isolation: a signed tenant context, and policies that tie every row to a cube the tenant may use

Before this, write policies compared only the row's own ``tenant_id`` with the context, and foreign keys
(which bypass row-level security) checked only that a cube existed, so a tenant could write a row naming
itself into another tenant's cube (a ``cube_grants`` row granting itself that cube, say). Now:

- every cube-scoped row carries the cube owner's ``tenant_id``, enforced by a composite foreign key
  ``(cube_id, tenant_id) -> cubes (id, tenant_id)``;
- writes must target a cube the tenant owns or holds a write grant on (grants: owned cubes only), checked
  by ``memos_cubes(access)``; jobs are visible to their tenant only while it can still read their cube;
- the tenant context is only believed with a valid HMAC (``memos_context()``; the key's pads live in
  ``memos_context_key``, which ``memos_app`` cannot read), so an injected ``set_config`` names no tenant;
- policies wrap the context functions in ``(SELECT ...)``: evaluated once per statement, not per row;
- SECURITY DEFINER functions are no longer executable by PUBLIC; ``memos_app`` loses ``alembic_version``.

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

APP = "memos_app"
# Rows that belong to a cube and carry its owner's tenant_id.
CUBE_TABLES = ["memories", "memory_versions", "memory_links", "messages", "payload_blobs",
               "cube_lexemes", "cube_text_stats", "cube_roles"]
# (table, old single-column cube foreign key) for the tables whose cube FK becomes (cube_id, tenant_id).
CUBE_FKS = {table: f"fk_{table}_cube_id_cubes" for table in [*CUBE_TABLES, "cube_grants"]}
OLD_POLICIES = {
    "tenants": ["tenant_self"], "api_keys": ["tenant_keys"], "cubes": ["cube_read", "cube_write"],
    "cube_grants": ["grant_read", "grant_write"], "jobs": ["job_owner", "job_cube_owner_read"],
    **{t: [f"{t}_read", f"{t}_write"] for t in CUBE_TABLES},
}
T = "(SELECT memos_tenant())"
SYS = "(SELECT memos_is_system())"


def _cubes(access: str) -> str:
    return f"(SELECT memos_cubes('{access}'))"


def _policies() -> list[str]:
    ps = [
        # Tenants and keys are written by the administrator (the system context) only.
        f"CREATE POLICY tenants_read ON tenants FOR SELECT USING ({SYS} OR id = {T})",
        f"CREATE POLICY tenants_write ON tenants FOR ALL USING ({SYS}) WITH CHECK ({SYS})",
        f"CREATE POLICY api_keys_read ON api_keys FOR SELECT USING ({SYS} OR tenant_id = {T})",
        f"CREATE POLICY api_keys_write ON api_keys FOR ALL USING ({SYS}) WITH CHECK ({SYS})",
        # A tenant revokes its own keys (the only column memos_app may update: see upgrade()).
        f"CREATE POLICY api_keys_revoke ON api_keys FOR UPDATE USING (tenant_id = {T}) WITH CHECK (tenant_id = {T})",
        f"CREATE POLICY cubes_read ON cubes FOR SELECT USING ({SYS} OR tenant_id = {T} OR id IN {_cubes('read')})",
        f"CREATE POLICY cubes_write ON cubes FOR ALL USING ({SYS} OR tenant_id = {T})"
        f" WITH CHECK ({SYS} OR tenant_id = {T})",
        f"CREATE POLICY cube_grants_read ON cube_grants FOR SELECT USING ({SYS} OR tenant_id = {T} OR grantee_id = {T})",
        # Only a cube's owner grants it (the composite FK makes tenant_id that owner).
        f"CREATE POLICY cube_grants_write ON cube_grants FOR ALL USING ({SYS} OR cube_id IN {_cubes('owner')})"
        f" WITH CHECK ({SYS} OR cube_id IN {_cubes('owner')})",
        # A job belongs to the tenant that caused it, and shows while that tenant can still read its cube;
        # the cube's owner reads every job on it.
        f"CREATE POLICY jobs_read ON jobs FOR SELECT USING ({SYS}"
        f" OR (tenant_id = {T} AND (cube_id IS NULL OR cube_id IN {_cubes('read')}))"
        f" OR cube_id IN {_cubes('owner')})",
        f"CREATE POLICY jobs_write ON jobs FOR ALL USING ({SYS}"
        f" OR (tenant_id = {T} AND (cube_id IS NULL OR cube_id IN {_cubes('write')})))"
        f" WITH CHECK ({SYS} OR (tenant_id = {T} AND (cube_id IS NULL OR cube_id IN {_cubes('write')})))",
    ]
    for t in CUBE_TABLES:
        ps.append(f"CREATE POLICY {t}_read ON {t} FOR SELECT USING ({SYS} OR tenant_id = {T}"
                  f" OR cube_id IN {_cubes('read')})")
        ps.append(f"CREATE POLICY {t}_write ON {t} FOR ALL USING ({SYS} OR cube_id IN {_cubes('write')})"
                  f" WITH CHECK ({SYS} OR cube_id IN {_cubes('write')})")
    return ps


def _drop_single_cube_fk(table: str) -> None:
    """Drop the foreign key ``cube_id -> cubes`` of ``table``, whatever it was named (tables created in raw
    SQL carry PostgreSQL's default names)."""
    op.execute(
        f"""
        DO $$ DECLARE c text; BEGIN
          FOR c IN SELECT conname FROM pg_constraint
                   WHERE conrelid = '{table}'::regclass AND contype = 'f' AND confrelid = 'cubes'::regclass
                     AND array_length(conkey, 1) = 1
          LOOP EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', c); END LOOP;
        END $$;
        """
    )


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE memos_context_key (
          id int PRIMARY KEY CHECK (id = 1),
          ipad bytea NOT NULL,
          opad bytea NOT NULL
        );
        REVOKE ALL ON memos_context_key FROM PUBLIC, {APP};
        REVOKE ALL ON alembic_version FROM PUBLIC, {APP};

        -- The verified context: the value of memos.tenant_id if memos.tenant_sig is its HMAC (bound to this
        -- backend), else NULL. SECURITY DEFINER to read the key; memos_app can call it but not read the key.
        CREATE OR REPLACE FUNCTION memos_context() RETURNS text
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
          SELECT CASE WHEN v <> '' AND s = encode(sha256(k.opad || sha256(k.ipad
                        || convert_to(v || ':' || pg_backend_pid()::text, 'UTF8'))), 'hex')
                      THEN v END
          FROM (SELECT coalesce(current_setting('memos.tenant_id', true), '') AS v,
                       coalesce(current_setting('memos.tenant_sig', true), '') AS s) AS ctx
          JOIN memos_context_key k ON k.id = 1
        $$;
        CREATE OR REPLACE FUNCTION memos_is_system() RETURNS boolean LANGUAGE sql STABLE AS
        $$ SELECT coalesce(memos_context() = '*', false) $$;
        CREATE OR REPLACE FUNCTION memos_tenant() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT CASE WHEN c IS NULL OR c = '*' THEN NULL ELSE c::uuid END FROM memos_context() AS c $$;

        -- Cubes the current tenant owns ('owner'), may write ('write': owned or write-granted) or read.
        CREATE OR REPLACE FUNCTION memos_cubes(access text) RETURNS SETOF uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
          SELECT id FROM cubes WHERE tenant_id = memos_tenant()
          UNION ALL
          SELECT cube_id FROM cube_grants
          WHERE memos_cubes.access <> 'owner' AND grantee_id = memos_tenant()
            AND (memos_cubes.access = 'read' OR cube_grants.access = 'write')
        $$;
        """
    )
    for table, policies in OLD_POLICIES.items():
        for name in policies:
            op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
    op.execute("ALTER TABLE cubes ADD CONSTRAINT uq_cubes_id_tenant_id UNIQUE (id, tenant_id)")
    for table in CUBE_FKS:
        _drop_single_cube_fk(table)
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_cube_id_tenant_id_cubes FOREIGN KEY (cube_id, tenant_id)"
            " REFERENCES cubes (id, tenant_id) ON DELETE CASCADE"
        )
    for statement in _policies():
        op.execute(statement)
    # Keys are only ever revoked: no request may rewrite a hash, a tenant or a trust ceiling.
    op.execute(f"REVOKE UPDATE ON api_keys FROM {APP}")
    op.execute(f"GRANT UPDATE (revoked_at) ON api_keys TO {APP}")
    # No SECURITY DEFINER function of ours is executable by PUBLIC; memos_app gets what it calls.
    op.execute(
        f"""
        DO $$ DECLARE f regprocedure; BEGIN
          FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                   WHERE n.nspname = 'public' AND p.prosecdef
                     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
          LOOP
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO {APP}', f);
          END LOOP;
        END $$;
        """
    )


def downgrade() -> None:
    for statement in _policies():
        name, table = statement.split()[2], statement.split()[4]
        op.execute(f"DROP POLICY IF EXISTS {name} ON {table}")
    for table, old_fk in CUBE_FKS.items():
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS fk_{table}_cube_id_tenant_id_cubes")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {old_fk} FOREIGN KEY (cube_id) REFERENCES cubes (id)"
                   " ON DELETE CASCADE")
    op.execute("ALTER TABLE cubes DROP CONSTRAINT IF EXISTS uq_cubes_id_tenant_id")
    op.execute("DROP FUNCTION IF EXISTS memos_cubes(text)")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION memos_is_system() RETURNS boolean LANGUAGE sql STABLE AS
        $$ SELECT coalesce(current_setting('memos.tenant_id', true), '') = '*' $$;
        CREATE OR REPLACE FUNCTION memos_tenant() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT CASE WHEN coalesce(current_setting('memos.tenant_id', true), '') IN ('', '*') THEN NULL
                       ELSE current_setting('memos.tenant_id', true)::uuid END $$;
        DROP FUNCTION IF EXISTS memos_context();
        DROP TABLE IF EXISTS memos_context_key;
        """
    )
    # The pre-isolation policies (as 2026-11-24-0750, -1100 and -1300 created them).
    op.execute("CREATE POLICY tenant_self ON tenants USING (memos_is_system() OR id = memos_tenant())")
    op.execute("CREATE POLICY tenant_keys ON api_keys USING (memos_is_system() OR tenant_id = memos_tenant())")
    op.execute("CREATE POLICY cube_read ON cubes FOR SELECT USING (memos_is_system() OR tenant_id = memos_tenant()"
               " OR id IN (SELECT memos_granted_cubes('read')))")
    op.execute("CREATE POLICY cube_write ON cubes FOR ALL USING (memos_is_system() OR tenant_id = memos_tenant())"
               " WITH CHECK (memos_is_system() OR tenant_id = memos_tenant())")
    op.execute("CREATE POLICY grant_read ON cube_grants FOR SELECT USING (memos_is_system()"
               " OR tenant_id = memos_tenant() OR grantee_id = memos_tenant())")
    op.execute("CREATE POLICY grant_write ON cube_grants FOR ALL USING (memos_is_system()"
               " OR tenant_id = memos_tenant()) WITH CHECK (memos_is_system() OR tenant_id = memos_tenant())")
    op.execute("CREATE POLICY job_owner ON jobs USING (memos_is_system() OR tenant_id = memos_tenant())")
    op.execute("CREATE POLICY job_cube_owner_read ON jobs FOR SELECT"
               " USING (cube_id IN (SELECT c.id FROM cubes c WHERE c.tenant_id = memos_tenant()))")
    for t in CUBE_TABLES:
        op.execute(f"CREATE POLICY {t}_read ON {t} FOR SELECT USING (memos_is_system() OR tenant_id = memos_tenant()"
                   f" OR cube_id IN (SELECT memos_granted_cubes('read')))")
        op.execute(f"CREATE POLICY {t}_write ON {t} FOR ALL USING (memos_is_system() OR tenant_id = memos_tenant()"
                   f" OR cube_id IN (SELECT memos_granted_cubes('write'))) WITH CHECK (memos_is_system()"
                   f" OR tenant_id = memos_tenant() OR cube_id IN (SELECT memos_granted_cubes('write')))")
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON alembic_version TO memos_app")
    op.execute("GRANT UPDATE ON api_keys TO memos_app")
