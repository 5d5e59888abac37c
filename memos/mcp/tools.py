"""The tools, written once against the async SDK; the transport decides where the client points.

A tool takes a cube by id or by name (the caller's own cubes first, then cubes shared with it), returns plain
JSON-able data, and turns an API error into a tool error carrying the API's message (an MCP client shows it
to the model, which can correct its call).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from memcube.schemas import Cube, Memory
from memos import __version__
from memos.client import AsyncMemOSClient, MemOSClientError

# Given the tool call's context, an SDK client authenticated as the caller (opened and closed around the call).
ClientFactory = Callable[[Context], AbstractAsyncContextManager[AsyncMemOSClient]]

INSTRUCTIONS = (
    "MemOS keeps an agent's long-term memory in cubes. Call list_cubes first; write facts worth keeping with "
    "add_memories; before answering, call get_context (a ready-to-use block within a token budget) or search "
    "(ranked memories with ids); get_history shows how one memory changed over time."
)

CubeArg = Annotated[str, Field(description="a cube's id, or the name of one of your cubes (see list_cubes)")]


def _memory(m: Memory) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(m.id), "content": m.content, "status": m.status.value, "version": m.version,
                           "created_at": m.created_at.isoformat()}
    if m.tags:
        out["tags"] = m.tags
    if m.event_time is not None:
        out["event_time"] = m.event_time.isoformat()
    if m.role:
        out["role"] = m.role
    if m.session_id:
        out["session_id"] = m.session_id
    return out


def _cube(c: Cube) -> dict[str, Any]:
    return {"id": str(c.id), "name": c.name, "access": c.access, "description": c.description}


async def _resolve(client: AsyncMemOSClient, cube: str) -> uuid.UUID:
    try:
        return uuid.UUID(cube)
    except ValueError:
        pass
    cubes = await client.list_cubes()
    for wanted in ("owner", "write", "read"):
        for c in cubes:
            if c.name == cube and c.access == wanted:
                return c.id
    names = ", ".join(sorted({c.name for c in cubes})) or "none"
    raise ToolError(f"no cube named {cube!r} (your cubes: {names})")


def build_server(clients: ClientFactory, *, name: str = "memos") -> MCPServer:
    """An MCP server whose tools call MemOS through ``clients``."""
    # MCPServer() calls logging.basicConfig (a rich handler on the root logger at INFO) when the root has no
    # handler: a library must not reconfigure the process's logging, so that is undone.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server: MCPServer = MCPServer(name, version=__version__, instructions=INSTRUCTIONS)
    root.handlers[:] = handlers
    root.setLevel(level)

    async def call(ctx: Context, work: Callable[[AsyncMemOSClient], Awaitable[Any]]) -> Any:
        try:
            async with clients(ctx) as client:
                return await work(client)
        except MemOSClientError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool()
    async def list_cubes(ctx: Context) -> list[dict[str, Any]]:
        """The cubes your key can use: your own (access "owner") and those shared with you ("read"/"write")."""

        async def work(client: AsyncMemOSClient) -> list[dict[str, Any]]:
            return [_cube(c) for c in await client.list_cubes()]

        result: list[dict[str, Any]] = await call(ctx, work)
        return result

    @server.tool()
    async def add_memories(
        ctx: Context,
        cube: CubeArg,
        memories: Annotated[list[str], Field(min_length=1, description="the facts to remember, one per item")],
        tags: Annotated[list[str] | None, Field(description="tags put on every memory written")] = None,
        session_id: Annotated[str | None, Field(description="the conversation they come from")] = None,
    ) -> list[dict[str, Any]]:
        """Write memories into a cube (each is screened by the cube's guard: a suspicious one is kept but
        quarantined, status "quarantined"). Returns them with their ids."""

        async def work(client: AsyncMemOSClient) -> list[dict[str, Any]]:
            items = [{"content": text, "tags": tags or [], "session_id": session_id,
                      "provenance": {"source": "agent", "session_id": session_id}} for text in memories]
            written = await client.add_memories(await _resolve(client, cube), items)
            return [_memory(m) for m in written]

        result: list[dict[str, Any]] = await call(ctx, work)
        return result

    @server.tool()
    async def search(
        ctx: Context,
        cube: CubeArg,
        query: Annotated[str, Field(min_length=1, description="what to look for, in natural language")],
        top_k: Annotated[int, Field(ge=1, le=100)] = 10,
        mode: Literal["hybrid", "dense", "lexical"] = "hybrid",
    ) -> list[dict[str, Any]]:
        """Search a cube's memories, best first, with scores and ids."""

        async def work(client: AsyncMemOSClient) -> list[dict[str, Any]]:
            hits = await client.search(await _resolve(client, cube), query, top_k=top_k, mode=mode)
            return [{"score": round(h.score, 4), **_memory(h.memory)} for h in hits]

        result: list[dict[str, Any]] = await call(ctx, work)
        return result

    @server.tool()
    async def get_context(
        ctx: Context,
        cube: CubeArg,
        query: Annotated[str, Field(min_length=1, description="the question or task at hand")],
        token_budget: Annotated[int, Field(ge=1, le=100_000, description="cl100k_base tokens at most")] = 2000,
        session: Annotated[str | None, Field(
            min_length=1, max_length=200, description="a name for this conversation: its working memory answers"
            " follow-up queries faster")] = None,
    ) -> dict[str, Any]:
        """The memories a prompt should carry for a query: dated, grouped by session, within the budget."""

        async def work(client: AsyncMemOSClient) -> dict[str, Any]:
            out = await client.context(await _resolve(client, cube), query, token_budget=token_budget,
                                       working_session=session)
            result = {"context": out.context, "tokens": out.tokens, "memory_ids": [str(m.id) for m in out.memories]}
            if out.working is not None:
                result["working_memory_reused"] = out.working.reused
            return result

        result: dict[str, Any] = await call(ctx, work)
        return result

    @server.tool()
    async def get_history(
        ctx: Context,
        memory_id: Annotated[str, Field(description="the memory's id (from search or add_memories)")],
    ) -> list[dict[str, Any]]:
        """Every version of a memory, oldest first: content, status, who changed it, why and when."""
        try:
            mid = uuid.UUID(memory_id)
        except ValueError:
            raise ToolError(f"memory_id must be a UUID, not {memory_id!r}") from None

        async def work(client: AsyncMemOSClient) -> list[dict[str, Any]]:
            return [{"version": v.version, "status": v.status.value, "content": v.content, "actor": v.actor,
                     "reason": v.reason, "valid_from": v.valid_from.isoformat(),
                     "valid_to": v.valid_to.isoformat() if v.valid_to else None}
                    for v in await client.history(mid)]

        result: list[dict[str, Any]] = await call(ctx, work)
        return result

    return server
