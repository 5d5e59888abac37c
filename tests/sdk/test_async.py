"""``AsyncMemOSClient`` against the live server, and its parity with ``MemOSClient``."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from memos.client import AsyncMemOSClient, ConflictError, MemOSClient, NotFoundError
from tests.sdk.live import LiveServer

pytestmark = pytest.mark.anyio


def _public(client: object) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(getattr(client, name))
        for name in dir(client)
        if not name.startswith("_") and callable(getattr(client, name))
    }


def test_sync_and_async_clients_expose_the_same_methods() -> None:
    sync_client, async_client = MemOSClient("http://127.0.0.1:1"), AsyncMemOSClient("http://127.0.0.1:1")
    sync, async_ = _public(sync_client), _public(async_client)
    assert sync.keys() == async_.keys()
    assert {"search", "add_memories", "get_job", "list_jobs", "iter_memories", "close"} <= sync.keys()
    for name, signature in sync.items():
        assert async_[name].parameters == signature.parameters, name
    for name in sync.keys() - {"iter_memories"}:
        assert inspect.iscoroutinefunction(getattr(async_client, name)), name
        assert not inspect.iscoroutinefunction(getattr(sync_client, name)), name
    assert inspect.isasyncgenfunction(async_client.iter_memories)
    sync_client.close()


@pytest.fixture
async def aclient(live_server: LiveServer, tenant_key: tuple[uuid.UUID, str]) -> AsyncIterator[AsyncMemOSClient]:
    async with AsyncMemOSClient(live_server.url, api_key=tenant_key[1]) as c:
        yield c


async def test_async_health_tenants_keys(live_server: LiveServer) -> None:
    async with AsyncMemOSClient(live_server.url, api_key=live_server.admin_key) as admin:
        assert (await admin.health())["database"] == "ok"
        tenant = await admin.create_tenant("async-co")
        assert tenant.id in {t.id for t in await admin.list_tenants()}
        key = await admin.create_key(tenant.id, "k")
        await admin.revoke_key(key.id)
        with pytest.raises(NotFoundError):
            await admin.revoke_key(key.id)


async def test_async_cubes_grants(aclient: AsyncMemOSClient, admin: MemOSClient) -> None:
    cube = await aclient.create_cube("async-cube")
    assert (await aclient.get_cube(cube.id)).name == "async-cube"
    assert [c.id for c in await aclient.list_cubes()] == [cube.id]
    with pytest.raises(ConflictError):
        await aclient.create_cube("async-cube")
    other = admin.create_tenant("async-partner")
    assert (await aclient.grant(cube.id, other.id, "write")).access.value == "write"
    assert [g.tenant_id for g in await aclient.list_grants(cube.id)] == [other.id]
    await aclient.revoke_grant(cube.id, other.id)
    await aclient.delete_cube(cube.id)
    assert await aclient.list_cubes() == []


async def test_async_memories_search_messages(aclient: AsyncMemOSClient) -> None:
    cube = await aclient.create_cube("async-memories")
    when = datetime(2023, 7, 1, 9, 30, tzinfo=UTC)
    [memory] = await aclient.add_memories(cube.id, [{"content": "Dana plays the cello", "event_time": when}])
    assert memory.event_time == when
    updated = await aclient.update_memory(memory.id, tags=["music"], reason="tag it")
    assert (updated.version, updated.tags) == (2, ["music"])
    assert (await aclient.get_memory(memory.id, as_of=memory.updated_at)).tags == []
    assert (await aclient.delete_memory(memory.id)).status.value == "deleted"
    assert (await aclient.rollback(memory.id, 2)).status.value == "active"
    assert [v.version for v in await aclient.history(memory.id)] == [1, 2, 3, 4]

    await aclient.add_memories(cube.id, [f"note {i}" for i in range(5)])
    page = await aclient.list_memories(cube.id, limit=2)
    assert len(page.memories) == 2
    assert page.next_cursor
    assert len([m async for m in aclient.iter_memories(cube.id, page_size=2)]) == 6

    hits = await aclient.search(cube.id, "cello", top_k=1, mode="lexical")
    assert hits[0].memory.id == memory.id
    accepted = await aclient.add_messages(cube.id, [{"role": "user", "content": "call me Dee"}], session_id="s")
    assert accepted.job_id is not None
    assert (await aclient.get_job(accepted.job_id)).type.startswith("consolidation")
    assert accepted.job_id in [j.id for j in await aclient.list_jobs(cube.id)]
    with pytest.raises(NotFoundError):
        await aclient.get_job(uuid.uuid4())
