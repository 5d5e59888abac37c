"""The FastAPI application factory.

``create_app()`` with no arguments starts the embedded default (PostgreSQL under ``MEMOS_HOME``, migrations
applied, the admin key ensured). Tests pass a ready ``AppState`` instead.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from api.admission import EXEMPT_PATHS, AdmissionMiddleware
from api.body import BodyLimitMiddleware, reject_duplicate_keys
from api.dashboard import install_dashboard
from api.errors import document_errors, install_error_handlers
from api.heap import settle_heap
from api.mcp import PATH as MCP_PATH
from api.mcp import mount_mcp
from api.metrics import install_metrics
from api.request_id import RequestIdMiddleware
from api.routers import (
    activations,
    adapters,
    cubes,
    guard,
    health,
    jobs,
    links,
    memories,
    messages,
    scheduler,
    search,
    tenants,
    working,
)
from api.state import AppState
from memos import __version__
from memos.config import Settings, get_settings
from memos.database import DatabaseAccess

log = logging.getLogger("memos")


def build_state(settings: Settings, access: DatabaseAccess | None = None) -> AppState:
    """Start (or attach to) the database, set it up when this process holds the administrator's login, and
    load what the process keeps. Requests log in as ``memos_app``; a privileged login is refused."""
    from memos.database import prepare
    from memos.embedding import get_embedder
    from memos.retrieval.access import AccessRecorder
    from memos.tenants.service import ensure_admin_key

    settings.home.mkdir(parents=True, exist_ok=True)
    access = access or prepare(settings)
    database = access.database(pool_size=settings.db_pool_size, pool_timeout=settings.db_pool_timeout_s)
    sessions = database.sessions
    admin_hash, new_key = ensure_admin_key(settings.home, settings.admin_key)
    if new_key:
        # Printed once; only its hash is kept.
        print(f"\n  MemOS admin key (shown once, keep it): {new_key}\n", flush=True)
    embedder = get_embedder(settings)
    embedder.embed(["warm-up"])  # load the model now, not on the first request
    return AppState(settings=settings, sessions=sessions, embedder=embedder, admin_hash=admin_hash,
                    access=AccessRecorder(sessions))


def create_app(state: AppState | None = None, settings: Settings | None = None,
               access: DatabaseAccess | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        built_here = getattr(app.state, "memos", None) is None
        if built_here:
            app.state.memos = build_state(settings or get_settings(), access)
        app.state.memos.access.start()
        app.state.memos.prefetch.start()
        app.state.memos.working.start()
        if built_here:  # a serving process (tests hand in their state and keep their heap collectable)
            log.info("start-up heap frozen", extra={"objects": settle_heap()})
        try:
            async with app.state.mcp_sessions():  # the /mcp endpoint's task group (api/mcp.py)
                yield
        finally:
            app.state.memos.prefetch.stop()
            app.state.memos.working.stop()
            app.state.memos.access.stop()

    # The byte cap and admission limits must be known before the state is built (in the lifespan, when none is
    # given).
    config = state.settings if state is not None else settings or get_settings()
    app = FastAPI(
        title="MemOS",
        version=__version__,
        description="A memory operating system for LLM agents: MemCubes of versioned, provenanced memories.",
        lifespan=lifespan,
        dependencies=[Depends(reject_duplicate_keys)],
    )
    app.state.memos = state
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)  # inside the metrics: 413s counted
    # Outside the body cap (a waiting request reads nothing), inside the metrics (503s are counted).
    app.add_middleware(AdmissionMiddleware, limit=config.max_in_flight or config.db_pool_size,
                       queue=config.admission_queue, timeout_s=config.admission_timeout_s,
                       exempt=EXEMPT_PATHS | {MCP_PATH})  # /mcp's tool calls are admitted one by one
    install_metrics(app)
    app.add_middleware(RequestIdMiddleware)  # outermost: every response, refusals included, carries its id
    for module in (health, tenants, cubes, memories, search, messages, jobs, links, activations, adapters, guard,
                   scheduler, working):
        app.include_router(module.router)
    app.state.mcp_sessions = mount_mcp(app)  # /mcp: the MCP tools over streamable HTTP
    install_dashboard(app)  # /dashboard: pages and their static files (api/dashboard)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
