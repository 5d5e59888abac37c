"""MCP fixtures: the live server of the SDK tests (a real uvicorn on a committed database) and tenants on it."""

from __future__ import annotations

import uuid

import pytest

from memos.client import MemOSClient
from tests.sdk.live import LiveServer, live_server

__all__ = ["live_server"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def new_tenant_key(server: LiveServer) -> str:
    with MemOSClient(server.url, api_key=server.admin_key) as admin:
        tenant = admin.create_tenant(f"mcp-{uuid.uuid4().hex[:8]}")
        return admin.create_key(tenant.id, "mcp").key


@pytest.fixture
def tenant_key(live_server: LiveServer) -> str:
    return new_tenant_key(live_server)


@pytest.fixture
def other_key(live_server: LiveServer) -> str:
    return new_tenant_key(live_server)
