"""The two database roles and the tenant-context key: what an administrator's connection sets up once.

- ``memos_owner`` owns the schema; migrations run as it (``SET ROLE`` from the administrator's login, so it
  cannot log in itself). It has BYPASSRLS, so data migrations and the SECURITY DEFINER lookups (which run
  as it) see every tenant's rows.
- ``memos_app`` is the login of every request and worker: not a superuser, no BYPASSRLS, no CREATEROLE,
  member of no role. Row-level security binds it, and it cannot switch to a role it does not bind.
- The tenant context is signed (``memcube.db.context_signature``); the key's HMAC pads live in
  ``memos_context_key``, which only the owner can read, so ``memos_app`` can check a signature only through
  the SECURITY DEFINER ``memos_context()`` and never learn the key.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

OWNER = "memos_owner"
APP = "memos_app"
BLOCK = 64  # SHA-256 block size: HMAC pads (RFC 2104)


class BootstrapError(RuntimeError):
    """The administrator's connection cannot set the database up."""


def libpq(url: str) -> str:
    """A psycopg (libpq) connection string from a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def app_url(admin_url: str, password: str | None = None) -> str:
    """The URL of ``memos_app`` on the same server and database as ``admin_url``."""
    url = make_url(admin_url).set(username=APP, password=password)
    return url.render_as_string(hide_password=False)


def bootstrap_roles(admin_url: str, *, app_password: str | None = None) -> None:
    """Create (or correct) both roles, the vector extension, and hand the database's schema to the owner.
    Idempotent; ``admin_url`` must log in as a superuser."""
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        superuser = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if not (superuser and superuser[0]):
            # The owner needs BYPASSRLS (the SECURITY DEFINER lookups read grants under FORCE ROW LEVEL
            # SECURITY) and the vector extension is untrusted: both take a superuser.
            raise BootstrapError("the administrator's database login must be a superuser (it creates the "
                                 "memos_owner and memos_app roles and the vector extension)")
        existing = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)",
                                                (OWNER, APP))}
        if OWNER not in existing:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(OWNER)))
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN BYPASSRLS").format(sql.Identifier(OWNER)))
        if APP not in existing:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(APP)))
        # Whatever an earlier version left (NOLOGIN, memberships), the request role ends up plain.
        conn.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE NOCREATEDB NOREPLICATION")
                     .format(sql.Identifier(APP)))
        if app_password:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(APP), sql.Literal(app_password)))
        for (granted,) in conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid"
            " JOIN pg_roles a ON a.oid = m.member WHERE a.rolname = %s", (APP,)
        ).fetchall():
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), sql.Identifier(APP)))
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        database = conn.execute("SELECT current_database()").fetchone()
        assert database is not None
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(database[0]),
                                                                      sql.Identifier(OWNER)))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database[0]),
                                                                          sql.Identifier(APP)))
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER)))
        _reassign_schema_objects(conn)


def _reassign_schema_objects(conn: psycopg.Connection) -> None:
    """Hand tables, sequences and functions in ``public`` that an earlier version created as the
    administrator to the owner (objects of extensions stay with their extension)."""
    not_extension = "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = {oid} AND d.deptype = 'e')"
    owner = sql.Identifier(OWNER)
    for relname, kind in conn.execute(
        "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'S', 'v', 'm')"
        " AND pg_get_userbyid(c.relowner) <> %s AND " + not_extension.format(oid="c.oid"), (OWNER,)
    ).fetchall():
        what = {"S": "SEQUENCE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(kind, "TABLE")
        conn.execute(sql.SQL(f"ALTER {what} {{}} OWNER TO {{}}").format(sql.Identifier(relname), owner))
    for (signature,) in conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) <> %s AND "
        + not_extension.format(oid="p.oid"), (OWNER,)
    ).fetchall():
        conn.execute(sql.SQL("ALTER ROUTINE {} OWNER TO {}").format(sql.SQL(signature), owner))


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """The inner and outer HMAC-SHA256 pads of ``key`` (RFC 2104): PostgreSQL has sha256() but no hmac()
    without pgcrypto, so it computes sha256(opad || sha256(ipad || message)) from these."""
    if len(key) > BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)


def install_context_key(admin_url: str, key: bytes) -> None:
    """Store the pads of the context-signing key (replacing an older key: contexts signed with it stop
    verifying at once)."""
    ipad, opad = hmac_pads(key)
    with psycopg.connect(libpq(admin_url), autocommit=True) as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER)))
        conn.execute(
            "INSERT INTO memos_context_key (id, ipad, opad) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET ipad = excluded.ipad, opad = excluded.opad",
            (ipad, opad),
        )
