"""The ``memos`` command: help, migrate, admin create-tenant (against a database), import (against a server)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from memcube.db import SYSTEM, Database
from memcube.repository import tenants as tenants_repo
from memos.cli import app
from memos.client import MemOSClient
from memos.tenants.service import hash_key
from tests.cli.conftest import run_memos
from tests.cli.test_importers import locomo_sample
from tests.conftest import CONTEXT_KEY
from tests.sdk.live import LiveServer

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = run_memos("--help")
    assert result.returncode == 0, result.stderr
    for command in ("serve", "migrate", "import", "admin"):
        assert command in result.stdout
    assert "create-tenant" in run_memos("admin", "--help").stdout


def test_cli_module_is_import_light() -> None:
    import subprocess
    import sys

    code = ("import sys, memos.cli; heavy = ('torch', 'sqlalchemy', 'sentence_transformers', 'uvicorn', 'api');"
            "print([m for m in sys.modules if m.split('.')[0] in heavy])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_migrate_a_fresh_database(pg_server_url: str) -> None:
    name = f"memos_cli_migrate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = create_engine(pg_server_url).url.set(database=name).render_as_string(hide_password=False)
    result = run_memos("migrate", env={"MEMOS_ADMIN_DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    assert "migrated" in result.stdout
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert conn.execute(text("SELECT to_regclass('memories')")).scalar() == "memories"
    engine.dispose()


def test_admin_create_tenant(make_database: Callable[[str], str], tmp_path: Path) -> None:
    url = make_database(f"memos_cli_admin_{uuid.uuid4().hex[:8]}")
    result = run_memos("admin", "create-tenant", "acme", "--key-name", "ops", "--json",
                       env={"MEMOS_DATABASE_URL": url, "MEMOS_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["api_key"].startswith("mk_")
    db = Database(url, context_key=CONTEXT_KEY, pool_size=1)
    with db.session(SYSTEM) as session:
        key = tenants_repo.find_active_key(session, hash_key(out["api_key"]))
        assert key is not None
        assert (str(key.tenant_id), str(key.id), key.name) == (out["tenant_id"], out["key_id"], "ops")
        tenant = tenants_repo.get_tenant(session, key.tenant_id)
        assert tenant is not None
        assert tenant.name == "acme"
    db.dispose()
    plain = run_memos("admin", "create-tenant", "second", env={"MEMOS_DATABASE_URL": url})
    assert "api_key:   mk_" in plain.stdout


def _import(live_server: LiveServer, key: str, *args: str) -> str:
    result = runner.invoke(app, ["import", *args, "--url", live_server.url, "--api-key", key])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_import_jsonl(live_server: LiveServer, tenant_key: str, client: MemOSClient, tmp_path: Path) -> None:
    path = tmp_path / "memories.jsonl"
    rows = [{"content": f"fact {i}", "tags": ["imported"], "role": "user", "metadata": {"i": i},
             "event_time": f"2024-03-0{i + 1}T12:00:00Z"} for i in range(5)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = _import(live_server, tenant_key, str(path), "--cube", "facts", "--batch-size", "2")
    assert "5 memories -> cube facts" in out
    [cube] = client.list_cubes()
    memories = list(client.iter_memories(cube.id))
    assert [m.content for m in memories] == [f"fact {i}" for i in range(5)]
    assert [m.metadata for m in memories] == [{"i": i} for i in range(5)]
    assert memories[2].event_time == datetime(2024, 3, 3, 12, tzinfo=UTC)
    assert {m.role for m in memories} == {"user"}
    # Importing again by id appends to the same cube.
    _import(live_server, tenant_key, str(path), "--cube", str(cube.id), "--format", "jsonl")
    assert len(list(client.iter_memories(cube.id))) == 10


def test_import_locomo_one_conversation(
    live_server: LiveServer, tenant_key: str, client: MemOSClient, tmp_path: Path
) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([locomo_sample("conv-26")]))
    _import(live_server, tenant_key, str(path), "--cube", "chat")
    [cube] = client.list_cubes()
    assert cube.name == "chat"
    memories = list(client.iter_memories(cube.id))
    assert [m.metadata for m in memories] == [
        {"dia_id": "D1:1", "session": 1, "sample_id": "conv-26"},
        {"dia_id": "D1:2", "session": 1, "sample_id": "conv-26"},
        {"dia_id": "D2:1", "session": 2, "sample_id": "conv-26"},
        {"dia_id": "D10:1", "session": 10, "sample_id": "conv-26"},
    ]
    assert [m.role for m in memories] == ["Caroline", "Melanie", "Melanie", "Caroline"]
    assert [m.session_id for m in memories][:3] == ["session_1", "session_1", "session_2"]
    assert memories[0].event_time == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert memories[2].event_time == datetime(2023, 6, 27, 10, 37, tzinfo=UTC)
    assert memories[1].content.endswith("[image: a photo of a lake at sunrise]")
    hits = client.search(cube.id, "charity race", top_k=1)
    assert hits[0].memory.metadata["dia_id"] == "D2:1"


def test_import_locomo_several_conversations(
    live_server: LiveServer, tenant_key: str, client: MemOSClient, tmp_path: Path
) -> None:
    path = tmp_path / "locomo.json"
    path.write_text(json.dumps([locomo_sample("conv-a"), locomo_sample("conv-b")]))
    out = _import(live_server, tenant_key, str(path), "--cube", "lc", "--format", "locomo")
    assert "4 memories -> cube lc-conv-a" in out
    assert sorted(c.name for c in client.list_cubes()) == ["lc-conv-a", "lc-conv-b"]
    _import(live_server, tenant_key, str(path), "--cube", "only-b", "--sample", "conv-b")
    only_b = next(c for c in client.list_cubes() if c.name == "only-b")
    assert {m.metadata["sample_id"] for m in client.iter_memories(only_b.id)} == {"conv-b"}


def test_import_errors(live_server: LiveServer, tenant_key: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": ""}\n')
    result = runner.invoke(app, ["import", str(bad), "--cube", "x", "--url", live_server.url,
                                 "--api-key", tenant_key])
    assert result.exit_code == 2
    assert "bad.jsonl:1" in result.output
    good = tmp_path / "good.jsonl"
    good.write_text('{"content": "fine"}\n')
    denied = runner.invoke(app, ["import", str(good), "--cube", "x", "--url", live_server.url,
                                 "--api-key", "mk_wrong"])
    assert denied.exit_code == 1
    assert "401" in denied.output
