"""Shared fixtures: one real embedded PostgreSQL + pgvector per run, migrated once; one rolled-back
transaction per test; the API through ASGI on that transaction.

Set ``MEMOS_TEST_DATABASE_URL`` to run against another PostgreSQL with pgvector instead.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Before anything imports platformdirs/transformers: a private runtime dir, offline hubs, quiet litellm.
_RUNTIME = Path(tempfile.gettempdir()) / f"memos-test-runtime-{os.getuid()}"
_RUNTIME.mkdir(mode=0o700, exist_ok=True)
_RUNTIME.chmod(0o700)
os.environ["XDG_RUNTIME_DIR"] = str(_RUNTIME)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
# The key every process of the run signs the tenant context with (servers and workers the tests start inherit it).
os.environ.setdefault("MEMOS_CONTEXT_SECRET", "memos-test-context-secret")
CONTEXT_KEY = os.environ["MEMOS_CONTEXT_SECRET"].encode()

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine, create_engine, text  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from api.app import create_app  # noqa: E402
from api.state import AppState  # noqa: E402
from memcube.bootstrap import app_url  # noqa: E402
from memcube.db import install_tenant_context, make_engine, start_embedded  # noqa: E402
from memos.config import Settings  # noqa: E402
from memos.embedding import Embedder, get_embedder  # noqa: E402
from memos.retrieval.access import AccessRecorder  # noqa: E402
from memos.scheduler.predict import PayloadPredictor  # noqa: E402
from memos.scheduler.working import LocalStore, WorkingMemory  # noqa: E402
from memos.tenants.service import hash_key  # noqa: E402
from migrations.runner import setup_database  # noqa: E402

ADMIN_KEY = "mk_test_admin_key"


def _create_database(url: str, name: str) -> str:
    """A fresh database ``name`` on the server of ``url``; returns its (superuser) URL."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(create_engine(url).url.set(database=name).render_as_string(hide_password=False))


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of the PostgreSQL server the run uses (embedded unless MEMOS_TEST_DATABASE_URL is set)."""
    configured = os.environ.get("MEMOS_TEST_DATABASE_URL")
    if configured:
        return configured
    return start_embedded(tmp_path_factory.mktemp("pg") / "pgdata")


def _set_up(pg_server_url: str, name: str) -> tuple[str, str]:
    """A fresh database set up as ``memos migrate`` does it: (superuser URL, memos_app URL)."""
    admin = _create_database(pg_server_url, name)
    setup_database(admin, context_key=CONTEXT_KEY)
    return admin, app_url(admin)


@pytest.fixture(scope="session")
def test_database(pg_server_url: str) -> tuple[str, str]:
    """The migrated database of the rolled-back-transaction tests: (superuser URL, memos_app URL)."""
    return _set_up(pg_server_url, "memos_test")


@pytest.fixture(scope="session")
def database_url(test_database: tuple[str, str]) -> str:
    """The request login (memos_app) of the rolled-back-transaction tests' database."""
    return test_database[1]


@pytest.fixture(scope="session")
def admin_database_url(test_database: tuple[str, str]) -> str:
    """The same database as a superuser (for checks the request role must not be able to make)."""
    return test_database[0]


@pytest.fixture(scope="session")
def make_database(pg_server_url: str) -> Callable[[str], str]:
    """Create and set up a fresh, committed database (for tests with several processes); returns the
    memos_app URL (processes the tests start inherit MEMOS_CONTEXT_SECRET)."""

    def _make(name: str) -> str:
        return _set_up(pg_server_url, name)[1]

    return _make


@pytest.fixture(scope="session")
def app_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return get_embedder(Settings())


@pytest.fixture
def connection(app_engine: Engine) -> Iterator[Any]:
    """One transaction per test, rolled back at the end: tests never see each other's rows."""
    conn = app_engine.connect()
    tx = conn.begin()
    yield conn
    tx.rollback()
    conn.close()


@pytest.fixture
def sessions(connection: Any) -> sessionmaker[Session]:
    """Sessions that join the test transaction through savepoints (their commits stay inside it)."""
    factory = sessionmaker(
        bind=connection, expire_on_commit=False, autoflush=False, join_transaction_mode="create_savepoint"
    )
    install_tenant_context(factory, CONTEXT_KEY)
    return factory


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, admin_key=ADMIN_KEY, max_batch_size=50, max_content_chars=2_000,
                    max_page_size=100)


@pytest.fixture
def app_state(settings: Settings, sessions: sessionmaker[Session], embedder: Embedder) -> AppState:
    state = AppState(
        settings=settings, sessions=sessions, embedder=embedder, admin_hash=hash_key(ADMIN_KEY),
        # Flushed only when the app stops: a background thread must not share the test's connection.
        access=AccessRecorder(sessions, interval_s=3600),
    )
    # Predictions matched in the request's thread, for the same reason.
    state.prefetch = PayloadPredictor(sessions, lambda: state._activation, parametric=lambda: state._parametric,
                                      inline=True)
    state.working = WorkingMemory(LocalStore(), settings, inline=True)
    return state


@pytest.fixture
def client(app_state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(app_state), raise_server_exceptions=False) as c:
        yield c


ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


class TenantFactory:
    """Creates tenants through the API and returns their auth headers."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def __call__(self, name: str | None = None) -> tuple[uuid.UUID, dict[str, str]]:
        r = self.client.post("/v1/tenants", json={"name": name or f"t-{uuid.uuid4().hex[:6]}"}, headers=ADMIN)
        assert r.status_code == 201, r.text
        tenant_id = uuid.UUID(r.json()["id"])
        r = self.client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": "test"}, headers=ADMIN)
        assert r.status_code == 201, r.text
        return tenant_id, {"Authorization": f"Bearer {r.json()['key']}"}


@pytest.fixture
def make_tenant(client: TestClient) -> TenantFactory:
    return TenantFactory(client)


@pytest.fixture
def tenant(make_tenant: TenantFactory) -> tuple[uuid.UUID, dict[str, str]]:
    return make_tenant("acme")


@pytest.fixture
def auth(tenant: tuple[uuid.UUID, dict[str, str]]) -> dict[str, str]:
    return tenant[1]


@pytest.fixture
def cube_id(client: TestClient, auth: dict[str, str]) -> str:
    r = client.post("/v1/cubes", json={"name": "notes"}, headers=auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
