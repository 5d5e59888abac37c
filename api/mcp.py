"""The MCP tools over streamable HTTP at ``/mcp``, on the API's own port.

Stateless (every POST stands alone, no session id to pin): any web process or replica can answer any call,
as for the REST API. The caller's API key (``Authorization: Bearer mk_...``, or ``X-API-Key``) is checked
before the MCP layer runs (401 otherwise), then each tool call is a REST call made in process (httpx's
ASGI transport into this same app) with that key, so authentication, row-level security, the guard, metrics
and request ids apply to it unchanged. Admission control counts those inner calls, not the outer ``/mcp``
request (counting both could fill every slot with outer requests waiting for inner ones).

DNS-rebinding protection (Host/Origin allow-lists) is off: it guards unauthenticated local servers, and every
call here needs a key.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio.to_thread
import httpx
from fastapi import FastAPI
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp, StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_json
from api.state import AppState
from memos.client import AsyncMemOSClient
from memos.errors import MemOSError
from memos.mcp import build_server

PATH = "/mcp"
INTERNAL_URL = "http://memos.internal"  # the base URL of in-process calls (never resolved)


def api_key_of(headers: Any) -> str | None:
    """The key of a request (Starlette ``Headers`` or a dict with lower-case names)."""
    auth = headers.get("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return str(value.strip())
    key = headers.get("x-api-key")
    return str(key).strip() if key and str(key).strip() else None


def _check_key(state: AppState, key: str) -> None:
    from memos.tenants.service import authenticate

    with state.sessions() as session:
        authenticate(session, key, admin_hash=state.admin_hash, cache=state.principals)


class KeyGate:
    """Answers 401 to an MCP request without a valid key, before the MCP layer reads it."""

    def __init__(self, app: FastAPI, inner: ASGIApp) -> None:
        self.app = app
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        key = api_key_of(headers)
        if key is None:
            response = error_json(401, "unauthorized", "missing API key: send `Authorization: Bearer <key>`",
                                  {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        try:
            await anyio.to_thread.run_sync(_check_key, self.app.state.memos, key)
        except MemOSError as exc:
            challenge = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
            await error_json(exc.status_code, exc.error, exc.message, challenge)(scope, receive, send)
            return
        await self.inner(scope, receive, send)


def mount_mcp(app: FastAPI) -> Callable[[], AbstractAsyncContextManager[None]]:
    """Add ``/mcp`` to ``app``; returns what each run of the app's lifespan must enter (the MCP session
    manager's task group: a fresh manager per run, since one can run only once and tests start an app's
    lifespan more than once)."""

    @asynccontextmanager
    async def clients(ctx: Context) -> AsyncIterator[AsyncMemOSClient]:
        request = ctx.request_context.request
        key = api_key_of(request.headers) if request is not None else None
        headers = {"X-Request-ID": request.headers.get("x-request-id") or uuid.uuid4().hex} if request else {}
        transport = httpx.ASGITransport(app=app)
        async with AsyncMemOSClient(INTERNAL_URL, api_key=key or "", transport=transport, headers=headers,
                                    max_retries=0) as client:
            yield client

    server = build_server(clients)
    sub = server.streamable_http_app(
        streamable_http_path=PATH, stateless_http=True, json_response=True,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )
    (endpoint,) = [r.endpoint for r in sub.routes if isinstance(r, Route) and r.path == PATH]
    assert isinstance(endpoint, StreamableHTTPASGIApp)
    app.router.routes.append(Route(PATH, KeyGate(app, endpoint), include_in_schema=False))

    def sessions() -> AbstractAsyncContextManager[None]:
        old = endpoint.session_manager
        endpoint.session_manager = StreamableHTTPSessionManager(
            app=old.app, json_response=old.json_response, stateless=old.stateless,
            security_settings=old.security_settings, max_request_body_size=old.max_request_body_size)
        return endpoint.session_manager.run()

    return sessions
