"""The MCP server: MemOS's memory tools for agents that speak the Model Context Protocol.

``memos mcp`` serves them over stdio to one local agent (``memos.mcp.stdio``); the API serves them over
streamable HTTP at ``/mcp`` (``api/mcp.py``). Either way every tool call is a REST call made with the caller's
API key through the SDK, so authentication, row-level security, the guard and the error rules hold exactly
as they do for the REST API. See docs/mcp.md.
"""

from memos.mcp.tools import ClientFactory, build_server

__all__ = ["ClientFactory", "build_server"]
