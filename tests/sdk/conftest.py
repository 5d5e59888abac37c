"""SDK fixtures: a live server (see ``live.py``), an admin client, and a fresh tenant with its own client."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from memcube.schemas import Cube
from memos.client import MemOSClient
from tests.sdk.live import LiveServer, live_server

__all__ = ["live_server"]


@pytest.fixture(scope="session")
def admin(live_server: LiveServer) -> Iterator[MemOSClient]:
    with MemOSClient(live_server.url, api_key=live_server.admin_key) as c:
        yield c


@pytest.fixture
def tenant_key(admin: MemOSClient) -> tuple[uuid.UUID, str]:
    """A new tenant and one of its keys (tests share the server, so each gets its own tenant)."""
    tenant = admin.create_tenant(f"t-{uuid.uuid4().hex[:8]}")
    return tenant.id, admin.create_key(tenant.id, "sdk-test").key


@pytest.fixture
def client(live_server: LiveServer, tenant_key: tuple[uuid.UUID, str]) -> Iterator[MemOSClient]:
    with MemOSClient(live_server.url, api_key=tenant_key[1]) as c:
        yield c


@pytest.fixture
def cube(client: MemOSClient) -> Cube:
    return client.create_cube("notes", description="sdk tests")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
