"""What a request costs the database before its real work: statements counted with SQLAlchemy's
``before_cursor_execute`` and pool checkouts with the pool's ``checkout`` event, on a real engine and pool
(not the rolled-back test transaction, whose savepoints would be counted too).

The numbers asserted here are the design, not measurements: a key resolved in the last
``MEMOS_AUTH_CACHE_TTL_S`` seconds costs no statement, the transaction's signed tenant context is one, and the
cube with the caller's grant is one. A change that adds a statement to every request fails here; change the
number on purpose, with the reason, if it must.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from api.app import create_app
from api.state import AppState
from memcube.db import Database
from memos.config import Settings
from memos.embedding import Embedder
from memos.retrieval.access import AccessRecorder
from memos.tenants.cache import PrincipalCache
from memos.tenants.service import hash_key
from tests.conftest import ADMIN, ADMIN_KEY, CONTEXT_KEY

Auth = dict[str, str]
CONTEXT = "set_config('memos.tenant_id'"


@dataclass
class Log:
    """Statements and checkouts since the last ``clear``."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0

    def clear(self) -> None:
        self.statements.clear()
        self.checkouts = 0

    def kinds(self) -> list[str]:
        """Each statement named by what it does (the first table it reads, or the context)."""
        out = []
        for s in self.statements:
            flat = " ".join(s.split())
            if CONTEXT in flat:
                out.append("context")
            elif flat.startswith("SELECT cubes.") and "LEFT OUTER JOIN cube_grants" in flat:
                out.append("cube+grant")
            elif "FROM api_keys" in flat:
                out.append("api_key")
            else:
                out.append(flat[:60])
        return out


@pytest.fixture(scope="module")
def database(make_database: Callable[[str], str]) -> Iterator[Database]:
    db = Database(make_database("memos_round_trips"), context_key=CONTEXT_KEY, pool_size=2)
    yield db
    db.dispose()


@pytest.fixture
def log(database: Database) -> Iterator[Log]:
    found = Log()

    def statement(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        found.statements.append(sql)

    def checkout(*_args: Any) -> None:
        found.checkouts += 1

    event.listen(database.engine, "before_cursor_execute", statement)
    event.listen(database.engine.pool, "checkout", checkout)
    yield found
    event.remove(database.engine, "before_cursor_execute", statement)
    event.remove(database.engine.pool, "checkout", checkout)


def make_state(database: Database, embedder: Embedder, home: Path) -> AppState:
    return AppState(settings=Settings(home=home, admin_key=ADMIN_KEY), sessions=database.sessions,
                    embedder=embedder, admin_hash=hash_key(ADMIN_KEY),
                    access=AccessRecorder(database.sessions, interval_s=3600))  # no flush while counting


@pytest.fixture
def state(database: Database, embedder: Embedder, tmp_path: Path) -> AppState:
    return make_state(database, embedder, tmp_path)


@pytest.fixture
def client(state: AppState) -> Iterator[TestClient]:
    with TestClient(create_app(state), raise_server_exceptions=False) as c:
        yield c


def new_tenant(client: TestClient) -> tuple[uuid.UUID, str, Auth]:
    """(tenant id, key id, auth) of a new tenant."""
    r = client.post("/v1/tenants", json={"name": f"t-{uuid.uuid4().hex[:8]}"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    tenant_id = uuid.UUID(r.json()["id"])
    key_id, auth = new_key(client, tenant_id)
    return tenant_id, key_id, auth


def new_key(client: TestClient, tenant_id: uuid.UUID) -> tuple[str, Auth]:
    r = client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": "k"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()["id"], {"Authorization": f"Bearer {r.json()['key']}"}


def new_cube(client: TestClient, auth: Auth) -> str:
    r = client.post("/v1/cubes", json={"name": f"c-{uuid.uuid4().hex[:8]}"}, headers=auth)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_a_known_key_and_its_cube_cost_two_statements(client: TestClient, log: Log) -> None:
    tenant_id, _, auth = new_tenant(client)
    cube_id = new_cube(client, auth)  # the key is now resolved in this process
    log.clear()
    assert client.get(f"/v1/cubes/{cube_id}", headers=auth).status_code == 200
    assert log.kinds() == ["context", "cube+grant"]
    assert log.checkouts == 1

    # A key this process has not seen: looked up in the system context, then the same transaction switches.
    _, fresh = new_key(client, tenant_id)
    log.clear()
    assert client.get(f"/v1/cubes/{cube_id}", headers=fresh).status_code == 200
    assert log.kinds() == ["context", "api_key", "context", "cube+grant"]
    assert log.checkouts == 1
    log.clear()
    assert client.get(f"/v1/cubes/{cube_id}", headers=fresh).status_code == 200
    assert log.kinds() == ["context", "cube+grant"]


def test_a_grantee_reads_its_access_in_the_same_statement(client: TestClient, log: Log) -> None:
    _, _, owner = new_tenant(client)
    grantee_id, _, grantee = new_tenant(client)
    cube_id = new_cube(client, owner)
    r = client.post(f"/v1/cubes/{cube_id}/grants", json={"tenant_id": str(grantee_id), "access": "write"},
                    headers=owner)
    assert r.status_code == 201, r.text
    assert client.get("/v1/cubes", headers=grantee).status_code == 200  # resolve the key
    log.clear()
    r = client.get(f"/v1/cubes/{cube_id}", headers=grantee)
    assert r.status_code == 200
    assert r.json()["access"] == "write"
    assert log.kinds() == ["context", "cube+grant"]


@pytest.mark.parametrize(("mode", "statements"), [("dense", 3), ("hybrid", 5), ("lexical", 4)])
def test_statements_of_a_search(client: TestClient, log: Log, mode: str, statements: int) -> None:
    """Two statements before the query (context, cube with grant); then retrieval's own: dense is one (the
    candidates with their memories); lexical two (term statistics with the candidates, then the fused top-k's
    memories); hybrid three (term statistics with the lexical matches, run while the query is embedded; the
    dense candidates with the union's rows; the fused top-k's memories)."""
    _, _, auth = new_tenant(client)
    cube_id = new_cube(client, auth)
    r = client.post(f"/v1/cubes/{cube_id}/memories", headers=auth,
                    json={"memories": [{"content": "Caroline adopted a grey cat"}, {"content": "Mel went hiking"}]})
    assert r.status_code == 201, r.text
    log.clear()
    r = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "who adopted a cat", "mode": mode}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["results"]
    kinds = log.kinds()
    assert kinds[:2] == ["context", "cube+grant"]
    assert "api_key" not in kinds
    assert kinds.count("context") == 1
    assert kinds.count("cube+grant") == 1
    assert len(kinds) == statements, kinds
    assert log.checkouts == 1


def test_searches_end_their_reads_with_commit_so_statements_stay_prepared(client: TestClient, database: Database
                                                                           ) -> None:
    """A ROLLBACK makes psycopg forget the connection's prepared statements; search and context end their
    read with COMMIT (memcube.db.end_read), so after a few requests their statements are prepared on the
    pool's connections and PostgreSQL no longer parses (or, with a generic plan, plans) them each time."""
    _, _, auth = new_tenant(client)
    cube_id = new_cube(client, auth)
    r = client.post(f"/v1/cubes/{cube_id}/memories", headers=auth,
                    json={"memories": [{"content": "Caroline adopted a grey cat"}, {"content": "Mel went hiking"}]})
    assert r.status_code == 201, r.text
    idle: list[bool] = []

    def reset(dbapi_conn: Any, *_args: Any) -> None:  # before the pool's reset-on-return
        idle.append(dbapi_conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE)

    event.listen(database.engine.pool, "reset", reset)
    try:
        for n in range(12):  # two pooled connections, taken in turn: six of each on each
            path, body = (("search", {"query": f"who adopted a cat {n}", "mode": "hybrid"}) if n % 4 < 2 else
                          ("context", {"query": f"who went hiking {n}", "token_budget": 200}))
            assert client.post(f"/v1/cubes/{cube_id}/{path}", json=body, headers=auth).status_code == 200
    finally:
        event.remove(database.engine.pool, "reset", reset)
    assert idle
    assert all(idle), idle
    with database.engine.connect() as first, database.engine.connect() as second:
        prepared = [c.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars().all()
                    for c in (first, second)]
    assert any("cube_grants" in s for found in prepared for s in found), prepared


def test_every_request_checks_out_one_connection_once(client: TestClient, log: Log) -> None:
    """Requests that write commit once and build their answer from what they hold: no second checkout after
    the commit, no second session (the access recorder buffers; it writes from its own thread)."""
    tenant_id, _, auth = new_tenant(client)
    other_id, _, _ = new_tenant(client)
    cube_id = new_cube(client, auth)
    memory = client.post(f"/v1/cubes/{cube_id}/memories", headers=auth,
                         json={"memories": [{"content": "Caroline adopted a grey cat"}]}).json()["memories"][0]
    mid = memory["id"]
    calls: list[tuple[str, str, Any]] = [
        ("POST", f"/v1/cubes/{cube_id}/memories", {"memories": [{"content": "Mel went hiking in May"}]}),
        ("GET", f"/v1/cubes/{cube_id}/memories", None),
        ("GET", f"/v1/memories/{mid}", None),
        ("PATCH", f"/v1/memories/{mid}", {"content": "Caroline adopted a black cat"}),
        ("GET", f"/v1/memories/{mid}/history", None),
        ("POST", f"/v1/memories/{mid}/rollback", {"version": 1}),
        ("POST", f"/v1/cubes/{cube_id}/search", {"query": "cat"}),
        ("POST", f"/v1/cubes/{cube_id}/context", {"query": "cat", "token_budget": 200}),
        ("POST", f"/v1/cubes/{cube_id}/messages", {"messages": [{"role": "user", "content": "I like tea"}]}),
        ("GET", f"/v1/cubes/{cube_id}/jobs", None),
        ("GET", f"/v1/memories/{mid}/links", None),
        ("GET", f"/v1/cubes/{cube_id}/graph", None),
        ("GET", "/v1/cubes", None),
        ("POST", f"/v1/cubes/{cube_id}/grants", {"tenant_id": str(other_id), "access": "read"}),
        ("GET", f"/v1/cubes/{cube_id}/grants", None),
        ("DELETE", f"/v1/cubes/{cube_id}/grants/{other_id}", None),
        ("DELETE", f"/v1/memories/{mid}", None),
    ]
    for method, path, body in calls:
        log.clear()
        r = client.request(method, path, json=body, headers=auth)
        assert r.status_code < 300, (method, path, r.text)
        assert log.checkouts == 1, (method, path, log.checkouts)
        assert log.kinds().count("context") == 1, (method, path, log.kinds())
    log.clear()
    assert client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": "x"}, headers=ADMIN).status_code == 201
    assert log.checkouts == 1


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_revoked_key_is_refused_at_once_here_and_after_the_ttl_elsewhere(
    client: TestClient, state: AppState, database: Database, embedder: Embedder, tmp_path: Path
) -> None:
    tenant_id, _, auth = new_tenant(client)
    key_id, doomed = new_key(client, tenant_id)
    # Another process of the service: its own cache over the same database, with a clock the test moves.
    clock = Clock()
    other_state = make_state(database, embedder, tmp_path / "other")
    other_state.principals = PrincipalCache(5.0, clock=clock)
    with TestClient(create_app(other_state), raise_server_exceptions=False) as other:
        assert client.get("/v1/cubes", headers=doomed).status_code == 200
        assert other.get("/v1/cubes", headers=doomed).status_code == 200
        assert len(state.principals) > 0
        assert len(other_state.principals) > 0

        assert client.delete(f"/v1/keys/{key_id}", headers=auth).status_code == 204
        r = client.get("/v1/cubes", headers=doomed)
        assert r.status_code == 401  # the revoking process: at once
        assert r.json()["error"] == "unauthorized"

        clock.now = 4.9
        assert other.get("/v1/cubes", headers=doomed).status_code == 200  # within the documented TTL
        clock.now = 5.0
        assert other.get("/v1/cubes", headers=doomed).status_code == 401
        assert client.get("/v1/cubes", headers=auth).status_code == 200  # the tenant's other key still works


def test_a_lookup_racing_a_revocation_cannot_cache_the_key() -> None:
    from memos.tenants.service import Principal

    cache = PrincipalCache(60.0)
    key_id = uuid.uuid4()
    principal = Principal(tenant_id=uuid.uuid4(), key_id=key_id)
    generation = cache.generation  # a request starts looking the key up...
    cache.forget(key_id)  # ...another revokes it and commits...
    cache.put("h", principal, generation=generation)  # ...the first finishes with what it read before
    assert cache.get("h") is None
    cache.put("h", principal, generation=cache.generation)
    assert cache.get("h") == principal
    cache.forget(key_id)
    assert cache.get("h") is None


def test_the_key_cache_is_bounded_and_can_be_off() -> None:
    from memos.tenants.service import Principal

    cache = PrincipalCache(60.0, max_entries=2)
    for name in ("a", "b", "c"):
        cache.put(name, Principal(tenant_id=uuid.uuid4(), key_id=uuid.uuid4()), generation=cache.generation)
    assert len(cache) == 2
    assert cache.get("a") is None
    assert cache.get("c") is not None
    off = PrincipalCache(0.0)
    off.put("a", Principal(tenant_id=uuid.uuid4(), key_id=uuid.uuid4()), generation=off.generation)
    assert off.get("a") is None
    assert len(off) == 0
