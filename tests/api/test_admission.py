"""Admission control: more concurrent requests than the pool holds get 200s and immediate 503s with
``Retry-After``, never a hang or a pool timeout; health and metrics answer during the burst.

Ordering is made deterministic with gates (requests held inside the handler until the test lets them go),
not with sleeps or timings; the only time bounds are generous ones that turn a hang into a failure.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from api.admission import Admission, AdmissionMiddleware
from api.app import create_app
from api.state import AppState
from memcube.db import Database
from memos.config import Settings
from memos.embedding import Embedder
from memos.retrieval.access import AccessRecorder
from memos.tenants.service import hash_key
from tests.conftest import ADMIN, ADMIN_KEY, CONTEXT_KEY

HANG = 60.0  # seconds: only to turn a hang into a failure


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- the admission queue itself ---------------------------------------------------------------------------------

def test_admission_admits_queues_in_order_and_refuses() -> None:
    async def scenario() -> None:
        adm = Admission(2, queue=2, timeout_s=HANG)
        assert await adm.acquire() is None
        assert await adm.acquire() is None
        first = asyncio.create_task(adm.acquire())
        second = asyncio.create_task(adm.acquire())
        while adm.waiting < 2:
            await asyncio.sleep(0)
        assert await adm.acquire() == "queue_full"  # at once: the queue is full
        adm.release()
        assert await first is None  # the slot changed hands, first come first served
        assert not second.done()
        assert adm.in_flight == 2
        adm.release()
        assert await second is None
        adm.release()
        adm.release()
        assert adm.in_flight == 0
        assert adm.waiting == 0

    asyncio.run(scenario())


def test_a_wait_past_the_timeout_is_refused_and_leaves_the_queue() -> None:
    async def scenario() -> None:
        adm = Admission(1, queue=1, timeout_s=0.01)
        assert await adm.acquire() is None
        assert await adm.acquire() == "timeout"
        assert adm.waiting == 0
        adm.release()
        assert adm.in_flight == 0
        assert await adm.acquire() is None  # the slot is free again

    asyncio.run(scenario())


def test_a_cancelled_waiter_gives_its_place_up() -> None:
    async def scenario() -> None:
        adm = Admission(1, queue=2, timeout_s=HANG)
        assert await adm.acquire() is None
        doomed = asyncio.create_task(adm.acquire())
        patient = asyncio.create_task(adm.acquire())
        while adm.waiting < 2:
            await asyncio.sleep(0)
        doomed.cancel()
        with pytest.raises(asyncio.CancelledError):
            await doomed
        adm.release()
        assert await patient is None
        assert adm.in_flight == 1

    asyncio.run(scenario())


# --- the middleware, on a toy app ------------------------------------------------------------------------------

def test_the_middleware_answers_503_at_once_and_exempts_health() -> None:
    async def scenario() -> None:
        gate = asyncio.Event()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["path"] == "/slow":
                await gate.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        admitted = AdmissionMiddleware(app, limit=1, queue=1, timeout_s=HANG)
        transport = httpx.ASGITransport(app=admitted)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            held = asyncio.create_task(client.get("/slow"))
            queued = asyncio.create_task(client.get("/slow"))
            while admitted.admission.waiting < 1:
                await asyncio.sleep(0)
            refused = await client.get("/slow")
            assert refused.status_code == 503
            assert refused.headers["Retry-After"] == "1"
            assert refused.json()["error"] == "overloaded"
            assert "limit of 1 requests in flight" in refused.json()["detail"]
            for path in ("/healthz", "/metrics"):
                assert (await client.get(path)).status_code == 200  # exempt: answered while full
            gate.set()
            assert (await held).status_code == 200
            assert (await queued).status_code == 200
        assert admitted.admission.in_flight == 0

    asyncio.run(scenario())


# --- the real service on a real server --------------------------------------------------------------------------

class GatedEmbedder:
    """The real embedder, but every embedding waits for ``gate``: a search holds its slot and its pooled
    connection (the cube is read before the query is embedded) until the test opens the gate."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not (name.startswith("embed") and callable(attr)):
            return attr

        def gated(*args: Any, **kwargs: Any) -> Any:
            if not self.gate.wait(HANG):
                raise RuntimeError("the test never opened the gate")
            return attr(*args, **kwargs)

        return gated


class Server:
    """uvicorn in a thread on a loopback port of its own."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + HANG
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(HANG)
        self.sock.close()


POOL = 2


@pytest.fixture(scope="module")
def database(make_database: Callable[[str], str]) -> Iterator[Database]:
    # The pool the issue saw exhausted, shrunk: 2 connections + 2 overflow.
    db = Database(make_database("memos_admission"), context_key=CONTEXT_KEY, pool_size=POOL)
    yield db
    db.dispose()


def service(database: Database, embedder: Embedder, home: Path, **settings: Any) -> AppState:
    return AppState(
        settings=Settings(home=home, admin_key=ADMIN_KEY, db_pool_size=POOL, **settings),
        sessions=database.sessions, embedder=embedder, admin_hash=hash_key(ADMIN_KEY),
        access=AccessRecorder(database.sessions, interval_s=3600),
    )


def tenant_with_memories(client: httpx.Client) -> tuple[str, dict[str, str]]:
    r = client.post("/v1/tenants", json={"name": f"t-{uuid.uuid4().hex[:8]}"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    r = client.post(f"/v1/tenants/{r.json()['id']}/keys", json={"name": "load"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['key']}"}
    r = client.post("/v1/cubes", json={"name": "load"}, headers=auth)
    assert r.status_code == 201, r.text
    cube_id = r.json()["id"]
    r = client.post(f"/v1/cubes/{cube_id}/memories", headers=auth, json={"memories": [
        {"content": f"Caroline adopted cat number {i}"} for i in range(5)]})
    assert r.status_code == 201, r.text
    return cube_id, auth


def check_refusal(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"] == "overloaded"


def test_forty_concurrent_searches_on_a_pool_of_two(database: Database, embedder: Embedder, tmp_path: Path) -> None:
    """40 searches at once on a real server: 2 run (each holding a connection), 2 wait, 36 are refused at once;
    health and metrics answer meanwhile; then the 4 finish."""
    gated = GatedEmbedder(embedder)
    state = service(database, cast(Embedder, gated), tmp_path, max_in_flight=POOL, admission_queue=2,
                    admission_timeout_s=HANG)
    rejected_before = sample("memos_admission_rejected_total", reason="queue_full")
    with Server(create_app(state)) as server, \
            httpx.Client(base_url=server.url, timeout=HANG, limits=httpx.Limits(max_connections=64)) as client:
        cube_id, auth = tenant_with_memories(client)
        gated.gate.clear()

        def search(i: int) -> httpx.Response:
            return client.post(f"/v1/cubes/{cube_id}/search", json={"query": f"cat {i}"}, headers=auth)

        with ThreadPoolExecutor(max_workers=40) as pool:
            futures = [pool.submit(search, i) for i in range(40)]
            # Nothing admitted can finish while the gate is closed, so the first 36 answers are the refusals.
            done: list[Future[httpx.Response]] = []
            for future in as_completed(futures, timeout=HANG):
                done.append(future)
                if len(done) == 36:
                    break
            for future in done:
                check_refusal(future.result())
            health = client.get("/healthz")
            assert health.status_code == 200, health.text  # its connection comes from the overflow
            assert health.json()["database"] == "ok"
            metrics = client.get("/metrics")
            assert metrics.status_code == 200
            assert "memos_admission_in_flight" in metrics.text
            gated.gate.set()
            rest = [f.result(timeout=HANG) for f in futures if f not in done]
        assert [r.status_code for r in rest] == [200] * 4
        assert all(r.json()["results"] for r in rest)
        # Refusals are counted under the route they were refused on.
        assert 'method="POST",route="/v1/cubes/{cube_id}/search",status="503"' in client.get("/metrics").text
    assert sample("memos_admission_rejected_total", reason="queue_full") - rejected_before == 36


def test_a_burst_with_a_short_queue_gets_only_200s_and_503s(
    database: Database, embedder: Embedder, tmp_path: Path
) -> None:
    """The default manner: a short queue timeout, real searches, 40 clients at once; no hang, no 500."""
    state = service(database, embedder, tmp_path, max_in_flight=POOL, admission_queue=2, admission_timeout_s=0.2)
    with Server(create_app(state)) as server, \
            httpx.Client(base_url=server.url, timeout=HANG, limits=httpx.Limits(max_connections=64)) as client:
        cube_id, auth = tenant_with_memories(client)
        with ThreadPoolExecutor(max_workers=40) as pool:
            health = pool.submit(client.get, "/healthz")
            answers = list(pool.map(lambda i: client.post(f"/v1/cubes/{cube_id}/search", json={"query": f"cat {i}"},
                                                          headers=auth), range(40), timeout=HANG))
            assert health.result(timeout=HANG).status_code == 200
    assert {r.status_code for r in answers} <= {200, 503}
    assert any(r.status_code == 200 for r in answers)
    for r in answers:
        if r.status_code == 503:
            check_refusal(r)


def test_no_free_connection_is_a_503_not_a_hang(make_database: Callable[[str], str], embedder: Embedder,
                                                tmp_path: Path) -> None:
    """Something outside the request path holds every pooled connection: the request waits
    MEMOS_DB_POOL_TIMEOUT_S at most and is shed like an overloaded one."""
    database = Database(make_database("memos_pool_timeout"), context_key=CONTEXT_KEY, pool_size=1, pool_timeout=0.1)
    held = [database.engine.connect(), database.engine.connect()]  # the pool (1) and its overflow (1)
    try:
        state = service(database, embedder, tmp_path)
        with TestClient(create_app(state), raise_server_exceptions=False) as client:
            r = client.post("/v1/tenants", json={"name": "x"}, headers=ADMIN)
            check_refusal(r)
            assert "no database connection" in r.json()["detail"]
    finally:
        for conn in held:
            conn.close()
        database.dispose()
