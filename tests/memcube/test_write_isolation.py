"""Isolation that PostgreSQL enforces by itself, tested in raw SQL as the request login (``memos_app``).

For every table: tenant B cannot read, insert, update or delete the rows of tenant A's cube, whatever
``tenant_id`` it writes, including through a grant it forges for itself; a forged tenant context names
nobody; a new table without row-level security, policies and a case here fails the suite.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from memcube.db import SYSTEM, PrivilegedLogin, context_signature
from memos.database import DatabaseAccess
from tests.conftest import CONTEXT_KEY

VECTOR = "[" + ",".join(["0.1"] * 384) + "]"


def set_context(conn: Connection, value: str, *, key: bytes = CONTEXT_KEY, signed_as: str | None = None) -> None:
    """What ``memcube.db`` does per transaction; ``signed_as`` signs another value than the one set (a forgery)."""
    pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
    sig = context_signature(key, signed_as if signed_as is not None else value, pid)
    conn.execute(text("SELECT set_config('memos.tenant_id', :v, true), set_config('memos.tenant_sig', :s, true)"),
                 {"v": value, "s": sig})


@dataclass
class World:
    a: uuid.UUID  # owner of cube_a
    b: uuid.UUID  # the attacker, owner of cube_b
    cube_a: uuid.UUID
    cube_b: uuid.UUID
    memory_a: uuid.UUID
    memory_b: uuid.UUID

    @property
    def params(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "cube_a": self.cube_a, "cube_b": self.cube_b,
                "memory_a": self.memory_a, "memory_b": self.memory_b, "vec": VECTOR}


def _memory_sql(cube: str, tenant: str, mid: str, content: str) -> str:
    return (f"INSERT INTO memories (id, tenant_id, cube_id, kind, status, tier, content, metadata, tags, keywords,"
            f" trust, embedding, version, heat, role, created_at, updated_at)"
            f" VALUES ({mid}, {tenant}, {cube}, 'plaintext', 'active', 'long_term', '{content}', '{{}}', '{{}}',"
            f" '{{}}', 0.5, CAST(:vec AS vector), 1, 0, 'alice', now(), now())")


@pytest.fixture
def world(connection: Connection) -> World:
    """Tenants A and B, a cube each, and in A's cube one row of every cube-scoped table (the statistics
    tables are filled by the memories triggers), shared read-only with a third tenant."""
    w = World(*(uuid.uuid4() for _ in range(6)))
    set_context(connection, SYSTEM)
    p = w.params
    for tenant, cube, memory, name in ((w.a, w.cube_a, w.memory_a, "a"), (w.b, w.cube_b, w.memory_b, "b")):
        q = {**p, "t": tenant, "c": cube, "m": memory, "n": f"tenant-{name}-{tenant.hex[:6]}"}
        connection.execute(text("INSERT INTO tenants (id, name, created_at) VALUES (:t, :n, now())"), q)
        connection.execute(text("INSERT INTO api_keys (id, tenant_id, name, key_hash, created_at)"
                                " VALUES (gen_random_uuid(), :t, 'k', md5(:n) || md5(:n), now())"), q)
        connection.execute(text("INSERT INTO cubes (id, tenant_id, name, created_at)"
                                " VALUES (:c, :t, 'notes', now())"), q)
        connection.execute(text(_memory_sql(":c", ":t", ":m", f"secret of {name}")), q)
    # A has shared its cube with a third tenant (a grant row B must not see or change).
    connection.execute(text("INSERT INTO tenants (id, name, created_at) VALUES (:c, :n, now())"),
                       {"c": (third := uuid.uuid4()), "n": f"tenant-c-{third.hex[:6]}"})
    connection.execute(text("INSERT INTO cube_grants (cube_id, grantee_id, tenant_id, access, created_at)"
                            " VALUES (:cube_a, :c, :a, 'read', now())"), {**p, "c": third})
    connection.execute(text(
        "INSERT INTO memory_versions (memory_id, tenant_id, cube_id, version, status, content, metadata, tags,"
        " valid_from) VALUES (:memory_a, :a, :cube_a, 1, 'active', 'secret of a', '{}', '{}', now())"), p)
    connection.execute(text(_memory_sql(":cube_a", ":a", "gen_random_uuid()", "second secret of a")), p)
    connection.execute(text(
        "INSERT INTO memory_links (id, tenant_id, cube_id, source_id, target_id, type, strength, created_at)"
        " SELECT gen_random_uuid(), :a, :cube_a, :memory_a, id, 'related', 0.5, now() FROM memories"
        " WHERE cube_id = :cube_a AND id <> :memory_a"), p)
    connection.execute(text("INSERT INTO messages (id, tenant_id, cube_id, role, content, created_at)"
                            " VALUES (gen_random_uuid(), :a, :cube_a, 'user', 'hello', now())"), p)
    connection.execute(text("INSERT INTO guard_lessons (id, tenant_id, cube_id, content, created_at)"
                            " VALUES (gen_random_uuid(), :a, :cube_a, 'a lesson', now())"), p)
    connection.execute(text("INSERT INTO memory_co_use (id, tenant_id, cube_id, signature, memory_ids, uses)"
                            " VALUES (gen_random_uuid(), :a, :cube_a, 'a set', ARRAY[:memory_a], 3)"), p)
    connection.execute(text("INSERT INTO memory_access (memory_id, tenant_id, cube_id, access_count,"
                            " last_accessed_at) VALUES (:memory_a, :a, :cube_a, 3, now())"), p)
    connection.execute(text("INSERT INTO payload_blobs (id, tenant_id, cube_id, sha256, size_bytes, residency,"
                            " created_at) VALUES (gen_random_uuid(), :a, :cube_a, md5('x') || md5('y'), 1, 'disk',"
                            " now())"), p)
    connection.execute(text("INSERT INTO jobs (id, tenant_id, cube_id, type, payload, status, attempts, llm_calls,"
                            " llm_tokens, created_at) VALUES (gen_random_uuid(), :a, :cube_a, 'jobs.noop', '{}',"
                            " 'queued', 0, 0, 0, now())"), p)
    return w


# Per table: which rows are A's, and a row B tries to write into A's cube. Inserts try both tenant ids a row
# could carry (A's, to pass for the owner's row; B's own, to pass the old tenant_id check).
@dataclass(frozen=True)
class Case:
    where: str  # A's rows
    set_: str  # a harmless assignment for UPDATE
    inserts: tuple[str, ...]
    move: str | None = None  # an UPDATE moving one of B's own rows into A's cube


CASES: dict[str, Case] = {
    "tenants": Case("id = :a", "name = name",
                    ("INSERT INTO tenants (id, name, created_at) VALUES (gen_random_uuid(), 'x', now())",)),
    "api_keys": Case("tenant_id = :a", "revoked_at = now()", tuple(
        f"INSERT INTO api_keys (id, tenant_id, name, key_hash, created_at) VALUES (gen_random_uuid(), {t}, 'x',"
        " md5(random()::text) || md5(random()::text), now())" for t in (":a", ":b"))),
    "cubes": Case("id = :cube_a", "name = name", ("INSERT INTO cubes (id, tenant_id, name, created_at)"
                                                  " VALUES (gen_random_uuid(), :a, 'planted', now())",),
                  move="UPDATE cubes SET tenant_id = :a WHERE id = :cube_b"),
    "cube_grants": Case("cube_id = :cube_a", "access = 'write'", tuple(
        f"INSERT INTO cube_grants (cube_id, grantee_id, tenant_id, access, created_at) VALUES (:cube_a, :b, {t},"
        " 'write', now())" for t in (":a", ":b"))),
    "jobs": Case("cube_id = :cube_a", "status = 'queued'", tuple(
        f"INSERT INTO jobs (id, tenant_id, cube_id, type, payload, status, attempts, llm_calls, llm_tokens,"
        f" created_at) VALUES (gen_random_uuid(), {t}, :cube_a, 'jobs.noop', '{{}}', 'queued', 0, 0, 0, now())"
        for t in (":a", ":b"))),
    "memories": Case("cube_id = :cube_a", "content = content", tuple(
        _memory_sql(":cube_a", t, "gen_random_uuid()", "planted") for t in (":a", ":b")),
        move="UPDATE memories SET cube_id = :cube_a WHERE id = :memory_b"),
    "memory_versions": Case("cube_id = :cube_a", "reason = 'x'", tuple(
        f"INSERT INTO memory_versions (memory_id, tenant_id, cube_id, version, status, content, metadata, tags,"
        f" valid_from) VALUES (:memory_a, {t}, :cube_a, 99, 'deleted', 'planted', '{{}}', '{{}}', now())"
        for t in (":a", ":b"))),
    "memory_links": Case("cube_id = :cube_a", "strength = 1", tuple(
        f"INSERT INTO memory_links (id, tenant_id, cube_id, source_id, target_id, type, strength, created_at)"
        f" VALUES (gen_random_uuid(), {t}, :cube_a, :memory_a, :memory_b, 'planted', 1, now())"
        for t in (":a", ":b"))),
    "messages": Case("cube_id = :cube_a", "content = content", tuple(
        f"INSERT INTO messages (id, tenant_id, cube_id, role, content, created_at)"
        f" VALUES (gen_random_uuid(), {t}, :cube_a, 'user', 'planted', now())" for t in (":a", ":b"))),
    "payload_blobs": Case("cube_id = :cube_a", "residency = 'disk'", tuple(
        f"INSERT INTO payload_blobs (id, tenant_id, cube_id, sha256, size_bytes, residency, created_at)"
        f" VALUES (gen_random_uuid(), {t}, :cube_a, md5(random()::text) || md5(random()::text), 1, 'disk', now())"
        for t in (":a", ":b"))),
    "cube_lexemes": Case("cube_id = :cube_a", "df = df", tuple(
        f"INSERT INTO cube_lexemes (cube_id, tenant_id, lexeme, df) VALUES (:cube_a, {t}, 'planted', 1)"
        for t in (":a", ":b"))),
    "cube_text_stats": Case("cube_id = :cube_a", "docs = docs", tuple(
        f"INSERT INTO cube_text_stats (cube_id, tenant_id, docs, total_len) VALUES (:cube_a, {t}, 1, 1)"
        " ON CONFLICT (cube_id) DO UPDATE SET docs = 0" for t in (":a", ":b"))),
    "cube_roles": Case("cube_id = :cube_a", "n = n", tuple(
        f"INSERT INTO cube_roles (cube_id, tenant_id, role, n) VALUES (:cube_a, {t}, 'planted', 1)"
        for t in (":a", ":b"))),
    "memory_co_use": Case("cube_id = :cube_a", "uses = uses + 1", tuple(
        f"INSERT INTO memory_co_use (id, tenant_id, cube_id, signature, memory_ids, uses)"
        f" VALUES (gen_random_uuid(), {t}, :cube_a, md5(random()::text), ARRAY[:memory_a], 9)" for t in (":a", ":b"))),
    # Written by the system context only (the access-statistics flush); B cannot count hits on A's memories,
    # nor plant a row for one of its own memories in A's cube.
    "memory_access": Case("cube_id = :cube_a", "access_count = access_count + 1", tuple(
        f"INSERT INTO memory_access (memory_id, tenant_id, cube_id, access_count) VALUES ({m}, {t}, :cube_a, 9)"
        f" ON CONFLICT (memory_id) DO UPDATE SET access_count = 99" for m in (":memory_a", ":memory_b")
        for t in (":a", ":b"))),
    "guard_lessons": Case("cube_id = :cube_a", "reason = 'x'", tuple(
        f"INSERT INTO guard_lessons (id, tenant_id, cube_id, content, created_at)"
        f" VALUES (gen_random_uuid(), {t}, :cube_a, 'planted', now())" for t in (":a", ":b"))),
}
# Tables memos_app has no privilege on at all (checked below instead of policies).
PRIVATE_TABLES = {"alembic_version", "memos_context_key"}


@pytest.fixture
def as_system(connection: Connection) -> Any:
    def count(table: str, where: str, params: dict[str, Any]) -> int:
        set_context(connection, SYSTEM)
        return int(connection.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one())
    return count


def _refused(conn: Connection, sql: str, params: dict[str, Any]) -> bool:
    """Run ``sql`` in a savepoint; True if PostgreSQL refused it or it touched no row."""
    nested = conn.begin_nested()
    try:
        result = conn.execute(text(sql), params)
    except DBAPIError as exc:
        nested.rollback()
        # 42501: row-level security; 23503: the composite foreign key (cube_id, tenant_id).
        if getattr(exc.orig, "sqlstate", None) not in {"42501", "23503"}:
            raise
        return True
    touched = result.rowcount
    nested.rollback()
    return touched == 0


def public_tables(conn: Connection) -> set[str]:
    rows = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
    return set(rows)


def test_every_table_has_forced_row_security_policies_and_a_case_here(connection: Connection) -> None:
    tables = public_tables(connection)
    guarded = tables - PRIVATE_TABLES
    rows = connection.execute(text(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        " (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind = 'r'")).all()
    for name, enabled, forced, policies in rows:
        if name in guarded:
            assert enabled, f"{name}: row-level security is off"
            assert forced, f"{name}: row-level security is not forced (the owner would bypass it)"
            assert policies >= 2, f"{name}: expected read and write policies"
    assert guarded == set(CASES), "a table without an isolation case here (add it to CASES)"
    for table in PRIVATE_TABLES & tables:
        privileges = connection.execute(text(
            "SELECT has_table_privilege('memos_app', :t, 'SELECT,INSERT,UPDATE,DELETE')"), {"t": table}).scalar()
        assert privileges is False, f"memos_app can touch {table}"


@pytest.mark.parametrize("table", sorted(CASES))
def test_tenant_b_cannot_read_or_write_tenant_a_rows(
    connection: Connection, world: World, as_system: Any, table: str
) -> None:
    case, p = CASES[table], world.params
    before = as_system(table, case.where, p)
    assert before >= 1, f"the fixture has no row of A in {table}"
    set_context(connection, str(world.b))
    assert connection.execute(text(f"SELECT count(*) FROM {table} WHERE {case.where}"), p).scalar_one() == 0
    assert _refused(connection, f"UPDATE {table} SET {case.set_} WHERE {case.where}", p)
    assert _refused(connection, f"DELETE FROM {table} WHERE {case.where}", p)
    for insert in case.inserts:
        assert _refused(connection, insert, p), insert
    if case.move:
        assert _refused(connection, case.move, p), case.move
    assert as_system(table, case.where, p) == before


def test_a_forged_grant_does_not_open_the_cube(connection: Connection, world: World, as_system: Any) -> None:
    p = world.params
    set_context(connection, str(world.b))
    for insert in CASES["cube_grants"].inserts:
        assert _refused(connection, insert, p)
    assert connection.execute(text("SELECT count(*) FROM memories WHERE cube_id = :cube_a"), p).scalar_one() == 0
    assert as_system("cube_grants", "grantee_id = :b", p) == 0


def test_a_forged_context_names_nobody(connection: Connection, world: World) -> None:
    p = world.params
    sql = text("SELECT count(*) FROM memories WHERE cube_id = :cube_a")
    # Unsigned, signed for another tenant, signed with another key, and the system context unsigned.
    connection.execute(text("SELECT set_config('memos.tenant_id', :a, true), set_config('memos.tenant_sig', '', true)"),
                       {"a": str(world.a)})
    assert connection.execute(sql, p).scalar_one() == 0
    set_context(connection, str(world.a), signed_as=str(world.b))
    assert connection.execute(sql, p).scalar_one() == 0
    set_context(connection, str(world.a), key=b"a guessed key")
    assert connection.execute(sql, p).scalar_one() == 0
    connection.execute(text("SELECT set_config('memos.tenant_id', '*', true)"))
    assert connection.execute(sql, p).scalar_one() == 0
    assert connection.execute(text("SELECT memos_tenant() IS NULL AND NOT memos_is_system()")).scalar_one()
    set_context(connection, str(world.a))  # the real thing still works
    assert connection.execute(sql, p).scalar_one() == 2


def test_a_signature_from_another_connection_is_worthless(app_engine: Any, world: World) -> None:
    """Signatures are bound to the server backend: one read off a connection does not work on another."""
    with app_engine.connect() as other:
        pid = other.connection.dbapi_connection.info.backend_pid
        foreign = context_signature(CONTEXT_KEY, str(world.a), pid + 1)
        other.execute(text("SELECT set_config('memos.tenant_id', :v, true), set_config('memos.tenant_sig', :s, true)"),
                      {"v": str(world.a), "s": foreign})
        assert other.execute(text("SELECT memos_tenant()")).scalar() is None


def test_write_grant_lets_the_grantee_write_rows_of_the_owner_only(
    connection: Connection, world: World, as_system: Any
) -> None:
    p = world.params
    set_context(connection, str(world.a))
    connection.execute(text("INSERT INTO cube_grants (cube_id, grantee_id, tenant_id, access, created_at)"
                            " VALUES (:cube_a, :b, :a, 'write', now())"), p)
    set_context(connection, str(world.b))
    assert connection.execute(text("SELECT count(*) FROM memories WHERE cube_id = :cube_a"), p).scalar_one() == 2
    connection.execute(text(_memory_sql(":cube_a", ":a", "gen_random_uuid()", "written by b")), p)
    # ... but only as the owner's row, and it cannot re-grant the cube or widen its own grant.
    assert _refused(connection, _memory_sql(":cube_a", ":b", "gen_random_uuid()", "as b"), p)
    assert _refused(connection, "INSERT INTO cube_grants (cube_id, grantee_id, tenant_id, access, created_at)"
                    " VALUES (:cube_a, gen_random_uuid(), :a, 'read', now())", p)
    assert _refused(connection, "UPDATE cube_grants SET access = 'write' WHERE cube_id = :cube_a", p)
    assert as_system("memories", "cube_id = :cube_a", p) == 3


def test_read_grant_reads_and_never_writes(connection: Connection, world: World) -> None:
    p = world.params
    set_context(connection, str(world.a))
    connection.execute(text("INSERT INTO cube_grants (cube_id, grantee_id, tenant_id, access, created_at)"
                            " VALUES (:cube_a, :b, :a, 'read', now())"), p)
    set_context(connection, str(world.b))
    assert connection.execute(text("SELECT count(*) FROM memories WHERE cube_id = :cube_a"), p).scalar_one() == 2
    for table in ("memories", "memory_versions", "memory_links", "messages"):
        case = CASES[table]
        assert _refused(connection, f"UPDATE {table} SET {case.set_} WHERE {case.where}", p)
        assert _refused(connection, f"DELETE FROM {table} WHERE {case.where}", p)
        for insert in case.inserts:
            assert _refused(connection, insert, p)


def test_revoking_a_grant_hides_the_grantees_jobs_on_that_cube(connection: Connection, world: World) -> None:
    p = world.params
    set_context(connection, str(world.a))
    connection.execute(text("INSERT INTO cube_grants (cube_id, grantee_id, tenant_id, access, created_at)"
                            " VALUES (:cube_a, :b, :a, 'write', now())"), p)
    set_context(connection, str(world.b))
    connection.execute(text(CASES["jobs"].inserts[1]), p)
    jobs_of_b = text("SELECT count(*) FROM jobs WHERE tenant_id = :b AND cube_id = :cube_a")
    assert connection.execute(jobs_of_b, p).scalar_one() == 1
    set_context(connection, str(world.a))
    assert connection.execute(jobs_of_b, p).scalar_one() == 1  # the owner sees jobs on its cube
    connection.execute(text("DELETE FROM cube_grants WHERE cube_id = :cube_a AND grantee_id = :b"), p)
    set_context(connection, str(world.b))
    assert connection.execute(jobs_of_b, p).scalar_one() == 0


def test_the_request_login_cannot_escalate(connection: Connection) -> None:
    login = connection.execute(text(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user"
    )).one()
    assert connection.execute(text("SELECT current_user")).scalar() == "memos_app"
    assert tuple(login) == (False, False, False, False)
    for role in ("postgres", "memos_owner"):
        nested = connection.begin_nested()
        with pytest.raises(DBAPIError):
            connection.execute(text(f'SET ROLE "{role}"'))
        nested.rollback()
    nested = connection.begin_nested()
    with pytest.raises(DBAPIError):
        connection.execute(text("SELECT * FROM memos_context_key"))
    nested.rollback()


def test_no_security_definer_function_is_executable_by_public(connection: Connection) -> None:
    rows = connection.execute(text(
        "SELECT p.oid::regprocedure::text AS fn, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can"
        " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'public' AND p.prosecdef")).all()
    assert rows, "expected the SECURITY DEFINER lookups"
    assert [r.fn for r in rows if r.public_can] == []


def test_the_service_refuses_a_login_that_bypasses_row_security(admin_database_url: str) -> None:
    """Configured with the superuser's URL as its request login, a process refuses to start."""
    access = DatabaseAccess(app_url=admin_database_url, admin_url=None, context_key=CONTEXT_KEY)
    with pytest.raises(PrivilegedLogin, match="memos_app"):
        access.database(pool_size=1)
