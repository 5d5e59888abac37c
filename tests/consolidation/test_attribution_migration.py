"""The attribution migration fills in what the server had recorded before it (consolidation's job marker on
its own versions, ``key:<id>`` actors) and nothing a client wrote; it downgrades and upgrades again."""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import create_engine, text

from memcube.bootstrap import bootstrap_roles
from migrations.runner import downgrade, upgrade
from tests.conftest import _create_database

BEFORE = "e6a1f4c2b903"
REVISION = "f3b8d1a7c512"


@pytest.fixture
def legacy_url(pg_server_url: str) -> str:
    url = _create_database(pg_server_url, "memos_attribution_migration")
    bootstrap_roles(url)  # migrations run as the schema owner, as in production
    upgrade(url, BEFORE)
    return url


def test_backfill_trusts_only_what_the_server_wrote(legacy_url: str) -> None:
    tenant, grantee, key, cube, memory, job = (uuid.uuid4() for _ in range(6))
    # The server's own marker, and the same words written by a client (its version's actor is its key).
    versions = [
        (1, "system:consolidation", {"source": "consolidation", "note": f"consolidation job {job}"}),
        (2, f"key:{key}", {"source": "agent", "note": f"consolidation job {job}"}),
        (3, "system:linking", {"source": "system"}),
    ]
    engine = create_engine(legacy_url)  # the server's superuser: row-level security does not apply
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO tenants (id, name) VALUES (:a, 'owner'), (:b, 'grantee')"),
                     {"a": tenant, "b": grantee})
        conn.execute(text("INSERT INTO api_keys (id, tenant_id, name, key_hash) VALUES (:k, :t, 'k', :h)"),
                     {"k": key, "t": grantee, "h": uuid.uuid4().hex})
        conn.execute(text("INSERT INTO cubes (id, tenant_id, name) VALUES (:c, :t, 'notes')"),
                     {"c": cube, "t": tenant})
        conn.execute(text("INSERT INTO jobs (id, tenant_id, cube_id, type, payload, status, attempts, llm_calls,"
                          " llm_tokens) VALUES (:j, :t, :c, 'consolidation.messages', '{}', 'succeeded', 1, 0, 0)"),
                     {"j": job, "t": grantee, "c": cube})
        conn.execute(text("INSERT INTO memories (id, tenant_id, cube_id, kind, status, tier, content, metadata,"
                          " tags, keywords, trust, version, access_count, heat) VALUES (:m, :t, :c, 'plaintext',"
                          " 'active', 'long_term', 'x', '{}', '{}', '{}', 0.5, 3, 0, 0)"),
                     {"m": memory, "t": tenant, "c": cube})
        for version, actor, provenance in versions:
            conn.execute(text("INSERT INTO memory_versions (memory_id, tenant_id, cube_id, version, status, content,"
                              " metadata, tags, provenance, actor, valid_from) VALUES (:m, :t, :c, :v, 'active',"
                              " 'x', '{}', '{}', CAST(:p AS jsonb), :a, now())"),
                         {"m": memory, "t": tenant, "c": cube, "v": version, "p": json.dumps(provenance), "a": actor})

    upgrade(legacy_url, REVISION)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT version, caused_by_key_id, caused_by_tenant_id, job_id FROM memory_versions"
                                 " ORDER BY version")).all()
        assert [tuple(r) for r in rows] == [
            (1, None, grantee, job),  # the job's tenant: who posted the messages
            (2, key, grantee, None),  # the client's note is not a marker
            (3, None, None, None),
        ]
        assert conn.execute(text("SELECT max_trust FROM api_keys")).scalar_one() == 0.9
        assert conn.execute(text("SELECT key_id FROM jobs")).scalar_one() is None

    downgrade(legacy_url, BEFORE)
    with engine.connect() as conn:
        columns = set(conn.execute(text("SELECT column_name FROM information_schema.columns"
                                        " WHERE table_name = 'memory_versions'")).scalars())
    assert not columns & {"caused_by_key_id", "caused_by_tenant_id", "job_id"}
    upgrade(legacy_url, REVISION)
    engine.dispose()


def test_memos_app_may_only_close_versions(legacy_url: str) -> None:
    upgrade(legacy_url, REVISION)
    engine = create_engine(legacy_url)
    with engine.connect() as conn:
        granted: dict[str, bool] = dict(conn.execute(text(
            "SELECT column_name, has_column_privilege('memos_app', 'memory_versions', column_name, 'UPDATE')"
            " FROM information_schema.columns WHERE table_name = 'memory_versions'")).all())
    engine.dispose()
    assert {c for c, ok in granted.items() if ok} == {"valid_to"}
