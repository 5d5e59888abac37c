"""The memory-access migration moves the counts out of the memories rows and back on downgrade."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from memcube.bootstrap import bootstrap_roles
from migrations.runner import downgrade, upgrade
from tests.conftest import _create_database

BEFORE = "8e1c4a7d2b90"
REVISION = "4d9b6e2f7a13"


@pytest.fixture
def legacy_url(pg_server_url: str) -> str:
    url = _create_database(pg_server_url, "memos_access_migration")
    bootstrap_roles(url)  # migrations run as the schema owner, as in production
    upgrade(url, BEFORE)
    return url


def test_counts_move_to_memory_access_and_back(legacy_url: str) -> None:
    tenant, cube, used, unused = (uuid.uuid4() for _ in range(4))
    seen = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    engine = create_engine(legacy_url)  # the server's superuser: row-level security does not apply
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, name) VALUES (:t, 'owner')"), {"t": tenant})
        conn.execute(text("INSERT INTO cubes (id, tenant_id, name) VALUES (:c, :t, 'notes')"), {"c": cube, "t": tenant})
        for memory, count, at in ((used, 7, seen), (unused, 0, None)):
            conn.execute(text("INSERT INTO memories (id, tenant_id, cube_id, kind, status, tier, content, metadata,"
                              " tags, keywords, trust, version, access_count, last_accessed_at, heat)"
                              " VALUES (:m, :t, :c, 'plaintext', 'active', 'long_term', 'x', '{}', '{}', '{}', 0.5,"
                              " 1, :n, :at, 0)"), {"m": memory, "t": tenant, "c": cube, "n": count, "at": at})

    upgrade(legacy_url, REVISION)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT memory_id, tenant_id, cube_id, access_count, last_accessed_at"
                                 " FROM memory_access")).all()
        assert [tuple(r) for r in rows] == [(used, tenant, cube, 7, seen)]  # a memory never found has no row
        columns = set(conn.execute(text("SELECT column_name FROM information_schema.columns"
                                        " WHERE table_name = 'memories'")).scalars())
        assert not columns & {"access_count", "last_accessed_at"}

    downgrade(legacy_url, BEFORE)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, access_count, last_accessed_at FROM memories ORDER BY access_count")).all()
        assert [tuple(r) for r in rows] == [(unused, 0, None), (used, 7, seen)]
        assert conn.execute(text("SELECT to_regclass('memory_access')")).scalar() is None
    upgrade(legacy_url, REVISION)
    engine.dispose()
