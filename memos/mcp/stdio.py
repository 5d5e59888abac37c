"""``memos mcp``: the tools over stdio for one local agent, calling a MemOS server with one API key.

The agent's MCP configuration starts ``memos mcp`` with ``MEMOS_URL`` and ``MEMOS_API_KEY`` in its
environment (or ``--url`` / ``--api-key``); stdout carries the protocol, so nothing else may print there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import Context

from memos.client import AsyncMemOSClient
from memos.mcp.tools import build_server


def run(url: str | None, api_key: str | None) -> None:
    """Serve until the agent closes stdin. One client for the session: its connection pool is reused."""
    import anyio

    async def main() -> None:
        async with AsyncMemOSClient(url, api_key=api_key) as client:

            @asynccontextmanager
            async def clients(_ctx: Context) -> AsyncIterator[AsyncMemOSClient]:
                yield client

            await build_server(clients).run_stdio_async()

    anyio.run(main)
