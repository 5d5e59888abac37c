"""The MCP server through the ``mcp`` package's own client: ``memos mcp`` over stdio (a real subprocess
calling the live server) and streamable HTTP at ``/mcp`` on the live server. Each transport lists the tools
and calls every one; keys and row-level security hold (another tenant's cube is out of reach)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from memos.client import MemOSClient
from tests.sdk.live import LiveServer, working_fills
from tests.workers.background import wait_for

pytestmark = pytest.mark.anyio

TOOLS = {"list_cubes", "add_memories", "search", "get_context", "get_history"}
MEMOS = Path(sys.executable).parent / "memos"


@asynccontextmanager
async def stdio_session(server: LiveServer, key: str) -> AsyncIterator[ClientSession]:
    command, args = (str(MEMOS), ["mcp"]) if MEMOS.exists() else (sys.executable, ["-m", "memos.cli", "mcp"])
    params = StdioServerParameters(command=command, args=args, cwd=os.getcwd(),
                                   env={**os.environ, "MEMOS_URL": server.url, "MEMOS_API_KEY": key})
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def http_session(server: LiveServer, key: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=60) as http, \
            streamable_http_client(f"{server.url}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


SESSIONS = {"stdio": stdio_session, "http": http_session}


def result_of(result: Any) -> Any:
    """A successful tool call's value (structured output when the tool returned a list, its text otherwise)."""
    assert not result.is_error, result.content
    if result.structured_content is not None:
        value = result.structured_content
        return value["result"] if set(value) == {"result"} else value
    return json.loads(result.content[0].text)


def error_of(result: Any) -> str:
    assert result.is_error, result
    return " ".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_tools_listed_and_each_called(live_server: LiveServer, tenant_key: str, transport: str) -> None:
    with MemOSClient(live_server.url, api_key=tenant_key) as sdk:
        cube = sdk.create_cube(f"notes-{transport}")
    async with SESSIONS[transport](live_server, tenant_key) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert set(tools) == TOOLS
        assert {"cube", "memories"} <= set(tools["add_memories"].input_schema["required"])

        cubes = result_of(await session.call_tool("list_cubes", {}))
        assert [c["name"] for c in cubes] == [cube.name]
        assert cubes[0]["access"] == "owner"

        written = result_of(await session.call_tool("add_memories", {
            "cube": cube.name, "memories": ["Caroline adopted a grey cat named Pixel in March.",
                                            "Melanie ran a charity race for mental health."],
            "tags": ["pets"]}))
        assert [m["status"] for m in written] == ["active", "active"]
        assert written[0]["tags"] == ["pets"]
        pixel = written[0]["id"]

        hits = result_of(await session.call_tool("search", {"cube": str(cube.id), "query": "What is the cat called?",
                                                            "top_k": 2}))
        assert hits[0]["id"] == pixel
        assert hits[0]["score"] > 0

        context = result_of(await session.call_tool("get_context", {"cube": cube.name, "query": "Caroline's cat",
                                                                    "token_budget": 200}))
        assert "Pixel" in context["context"]
        assert pixel in context["memory_ids"]
        assert 0 < context["tokens"] <= 200
        assert "working_memory_reused" not in context
        # With a session: its working memory (memos.scheduler.working) answers the follow-up.
        for query, reused in (("What is Caroline's cat called?", False), ("What's Caroline's cat called?", True)):
            followed = result_of(await session.call_tool("get_context", {"cube": cube.name, "query": query,
                                                                         "session": "mcp-chat"}))
            assert followed["working_memory_reused"] is reused
            assert pixel in followed["memory_ids"]
            with MemOSClient(live_server.url, api_key=tenant_key) as sdk:  # the set is written after the answer
                wait_for(lambda sdk=sdk: working_fills(sdk, cube.id, "mcp-chat"), timeout=30,  # type: ignore[misc]
                         what="the working memory's fill")

        # A second version, written through the REST API, shows up in the history.
        sdk_memory = MemOSClient(live_server.url, api_key=tenant_key)
        with sdk_memory:
            sdk_memory.update_memory(pixel, content="Caroline adopted a grey cat named Pixel in April.",
                                     reason="the month was wrong")
        history = result_of(await session.call_tool("get_history", {"memory_id": pixel}))
        assert [v["version"] for v in history] == [1, 2]
        assert history[1]["reason"] == "the month was wrong"
        assert "April" in history[1]["content"]
        assert history[0]["valid_to"] is not None
        assert history[1]["valid_to"] is None

        # Bad input: a clear tool error carrying the API's or the tool's message, not a crash.
        assert "no cube named 'nope'" in error_of(await session.call_tool("search", {"cube": "nope", "query": "x"}))
        assert "must be a UUID" in error_of(await session.call_tool("get_history", {"memory_id": "42"}))


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_another_tenants_cube_is_out_of_reach(live_server: LiveServer, tenant_key: str, other_key: str,
                                                    transport: str) -> None:
    with MemOSClient(live_server.url, api_key=other_key) as other:
        secret_cube = other.create_cube("private")
        (secret,) = other.add_memories(secret_cube.id, ["the vault code is 4711"])
    async with SESSIONS[transport](live_server, tenant_key) as session:
        assert result_of(await session.call_tool("list_cubes", {})) == []
        for tool, args in (("search", {"cube": str(secret_cube.id), "query": "vault code"}),
                           ("add_memories", {"cube": str(secret_cube.id), "memories": ["planted"]}),
                           ("get_history", {"memory_id": str(secret.id)})):
            assert "not found" in error_of(await session.call_tool(tool, args)).lower(), tool
    with MemOSClient(live_server.url, api_key=other_key) as other:
        assert [m.content for m in other.list_memories(secret_cube.id).memories] == ["the vault code is 4711"]


def test_http_endpoint_needs_a_valid_key(live_server: LiveServer) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-06-18"}
    missing = httpx.post(f"{live_server.url}/mcp", json=body, headers=headers, timeout=30)
    assert missing.status_code == 401
    assert missing.json()["error"] == "unauthorized"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = httpx.post(f"{live_server.url}/mcp", json=body, timeout=30,
                       headers={**headers, "Authorization": f"Bearer mk_{uuid.uuid4().hex}"})
    assert wrong.status_code == 401
    assert "invalid or revoked" in wrong.json()["detail"]
