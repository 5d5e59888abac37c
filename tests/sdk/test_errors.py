"""Error mapping, retries, configuration from the environment, and response parsing of the jobs routes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from memcube.schemas import Cube, JobStatus
from memos.client import (
    APIConnectionError,
    APIError,
    AsyncMemOSClient,
    AuthenticationError,
    ConflictError,
    MemOSClient,
    MemOSClientError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ValidationError,
)
from tests.sdk.live import LiveServer, free_port


def test_exception_tree() -> None:
    for cls in (NotFoundError, AuthenticationError, PermissionDeniedError, ConflictError, ValidationError,
                ServerError):
        assert issubclass(cls, APIError)
    assert issubclass(APIError, MemOSClientError)
    assert issubclass(APIConnectionError, MemOSClientError)


def test_not_found_including_other_tenants(client: MemOSClient, cube: Cube, admin: MemOSClient,
                                           live_server: LiveServer) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_memory(uuid.uuid4())
    assert (info.value.status, info.value.error) == (404, "not_found")
    stranger = admin.create_tenant("stranger")
    with MemOSClient(live_server.url, api_key=admin.create_key(stranger.id).key) as other, \
            pytest.raises(NotFoundError):
        other.get_cube(cube.id)


def test_authentication_and_permission(live_server: LiveServer, client: MemOSClient, admin: MemOSClient) -> None:
    with MemOSClient(live_server.url, api_key="mk_wrong") as bad, pytest.raises(AuthenticationError) as info:
        bad.list_cubes()
    assert info.value.status == 401
    with MemOSClient(live_server.url, api_key="") as anonymous, pytest.raises(AuthenticationError):
        anonymous.list_cubes()
    with pytest.raises(PermissionDeniedError):
        client.create_tenant("not allowed")  # needs the admin key
    with pytest.raises(PermissionDeniedError) as denied:
        admin.list_cubes()  # the admin key has no cubes of its own
    assert denied.value.status == 403


def test_read_grant_cannot_write(client: MemOSClient, cube: Cube, admin: MemOSClient,
                                 live_server: LiveServer) -> None:
    reader = admin.create_tenant("reader")
    client.grant(cube.id, reader.id, "read")
    with MemOSClient(live_server.url, api_key=admin.create_key(reader.id).key) as r, \
            pytest.raises(PermissionDeniedError):
        r.add_memories(cube.id, ["not mine to write"])


def test_conflict(client: MemOSClient, cube: Cube) -> None:
    with pytest.raises(ConflictError) as info:
        client.create_cube(cube.name)
    assert info.value.status == 409
    [m] = client.add_memories(cube.id, ["v1"])
    client.update_memory(m.id, content="v2")
    with pytest.raises(ConflictError):
        client.update_memory(m.id, content="v3", expected_version=1)


def test_validation(client: MemOSClient, cube: Cube) -> None:
    with pytest.raises(ValidationError) as info:
        client.add_memories(cube.id, [{"content": ""}])
    assert info.value.status == 422
    assert isinstance(info.value.detail, list)  # FastAPI's validation shape is kept
    with pytest.raises(ValidationError):
        client.search(cube.id, "x", top_k=0)
    with pytest.raises(ValidationError):
        client.get_memory(uuid.uuid4(), as_of="not a time")
    with pytest.raises(ValidationError):
        client.list_memories(cube.id, cursor="garbage")
    with pytest.raises(ValidationError) as too_large:
        client.add_memories(cube.id, ["x" * 40_000])  # over MEMOS_MAX_CONTENT_CHARS
    assert too_large.value.status == 413


def test_server_error_mapping() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": "unavailable", "detail": "database unavailable"})

    with MemOSClient("http://memos.test", transport=httpx.MockTransport(handler)) as c, \
            pytest.raises(ServerError) as info:
        c.list_cubes()
    assert (info.value.status, info.value.error, info.value.detail) == (503, "unavailable", "database unavailable")


def test_closed_port_raises_connection_error_after_bounded_retries() -> None:
    port = free_port()  # nothing listens there any more
    with MemOSClient(f"http://127.0.0.1:{port}", max_retries=2, backoff=0.01) as c, \
            pytest.raises(APIConnectionError, match="ConnectError"):
        c.health()


class Flaky:
    """A transport that fails ``failures`` times with ``exc``, then answers."""

    def __init__(self, failures: int, exc: type[httpx.TransportError] = httpx.ConnectError) -> None:
        self.failures = failures
        self.exc = exc
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc("boom", request=request)
        return httpx.Response(200, json={"status": "ok", "database": "ok", "version": "x"})


def test_flaky_transport_is_retried_until_it_answers() -> None:
    flaky = Flaky(failures=2)
    with MemOSClient("http://memos.test", transport=httpx.MockTransport(flaky), backoff=0.001) as c:
        assert c.health()["status"] == "ok"
    assert flaky.calls == 3


def test_retries_are_bounded() -> None:
    flaky = Flaky(failures=5)
    with MemOSClient("http://memos.test", transport=httpx.MockTransport(flaky), max_retries=2,
                     backoff=0.001) as c, pytest.raises(APIConnectionError):
        c.health()
    assert flaky.calls == 3


def test_non_idempotent_request_is_not_resent_after_a_read_error() -> None:
    # The server may have applied the POST already: resending could write twice.
    flaky = Flaky(failures=1, exc=httpx.ReadError)
    with MemOSClient("http://memos.test", transport=httpx.MockTransport(flaky), backoff=0.001) as c, \
            pytest.raises(APIConnectionError):
        c.create_cube("x")
    assert flaky.calls == 1
    flaky = Flaky(failures=1, exc=httpx.ReadError)
    with MemOSClient("http://memos.test", transport=httpx.MockTransport(flaky), backoff=0.001) as c:
        c.health()  # a GET is safe to resend
    assert flaky.calls == 2


@pytest.mark.anyio
async def test_async_retries_then_succeeds() -> None:
    flaky = Flaky(failures=2, exc=httpx.ConnectTimeout)
    async with AsyncMemOSClient("http://memos.test", transport=httpx.MockTransport(flaky), backoff=0.001) as c:
        assert (await c.health())["database"] == "ok"
    assert flaky.calls == 3


@pytest.mark.anyio
async def test_async_closed_port() -> None:
    async with AsyncMemOSClient(f"http://127.0.0.1:{free_port()}", max_retries=1, backoff=0.01) as c:
        with pytest.raises(APIConnectionError):
            await c.list_cubes()


def test_url_and_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"cubes": []})

    monkeypatch.setenv("MEMOS_URL", "http://env-host:9999/")
    monkeypatch.setenv("MEMOS_API_KEY", "mk_from_env")
    with MemOSClient(transport=httpx.MockTransport(handler)) as c:
        assert c.list_cubes() == []
    assert str(seen[0].url) == "http://env-host:9999/v1/cubes"
    assert seen[0].headers["Authorization"] == "Bearer mk_from_env"


def test_jobs_are_parsed() -> None:
    job_id, cube_id = uuid.uuid4(), uuid.uuid4()
    job = {"id": str(job_id), "cube_id": str(cube_id), "type": "consolidate", "status": "succeeded",
           "attempts": 1, "created_at": "2025-01-01T00:00:00Z", "result": {"added": 2}}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"jobs": [job]} if request.url.path.endswith("/jobs") else job
        return httpx.Response(200, json=body)

    with MemOSClient("http://memos.test", transport=httpx.MockTransport(handler)) as c:
        got = c.get_job(job_id)
        assert (got.id, got.status, got.result) == (job_id, JobStatus.succeeded, {"added": 2})
        assert got.created_at == datetime(2025, 1, 1, tzinfo=UTC)
        assert [j.id for j in c.list_jobs(cube_id, limit=5)] == [job_id]
    assert seen[0].url.path == f"/v1/jobs/{job_id}"
    assert seen[1].url.path == f"/v1/cubes/{cube_id}/jobs"
    assert dict(seen[1].url.params) == {"limit": "5"}


def test_bad_id_is_rejected_before_sending() -> None:
    with MemOSClient("http://memos.test", transport=httpx.MockTransport(lambda r: httpx.Response(500))) as c, \
            pytest.raises(ValueError, match="badly formed"):
        c.get_cube("not-a-uuid")


class Overloaded:
    """Refuses ``refusals`` times with the admission 503 (``Retry-After: 0``), then answers."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.refusals:
            return httpx.Response(503, headers={"Retry-After": "0"},
                                  json={"error": "overloaded", "detail": "too many requests in flight"})
        return httpx.Response(201, json={"id": "6f1c0cf4-3b5e-4b8e-9d7e-0d6c2b1f3a11", "name": "x",
                                         "tenant_id": "6f1c0cf4-3b5e-4b8e-9d7e-0d6c2b1f3a12",
                                         "created_at": "2026-12-07T00:00:00Z"})


def test_an_overloaded_refusal_is_resent_even_for_a_post() -> None:
    # Admission refuses before the request runs: resending cannot write twice.
    server = Overloaded(refusals=2)
    with MemOSClient("http://memos.test", transport=httpx.MockTransport(server), backoff=0.001) as c:
        assert c.create_cube("x").name == "x"
    assert server.calls == 3
    server = Overloaded(refusals=5)
    with MemOSClient("http://memos.test", transport=httpx.MockTransport(server), max_retries=1,
                     backoff=0.001) as c, pytest.raises(ServerError) as info:
        c.create_cube("x")
    assert (info.value.status, info.value.error, server.calls) == (503, "overloaded", 2)


@pytest.mark.anyio
async def test_async_overloaded_refusal_is_resent() -> None:
    server = Overloaded(refusals=1)
    async with AsyncMemOSClient("http://memos.test", transport=httpx.MockTransport(server), backoff=0.001) as c:
        assert (await c.create_cube("x")).name == "x"
    assert server.calls == 2
