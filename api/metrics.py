"""Prometheus metrics: request counts and latency by route template (not raw path: ids would explode it), and
the admission counters.

A pure ASGI middleware: the router records the route it chose in ``scope["route"]``, read once the request
has been handled; a path no route matches is labelled ``unmatched``.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("memos_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "memos_http_request_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# Admission control (api.admission): what was let in, what was turned away and why, what is running now.
ADMITTED = Counter("memos_admission_admitted_total", "requests admitted (at once or after a wait in the queue)")
REJECTED = Counter("memos_admission_rejected_total", "requests answered 503 overloaded", ["reason"])
IN_FLIGHT = Gauge("memos_admission_in_flight", "admitted requests not yet answered")
QUEUED = Gauge("memos_admission_queued", "requests waiting for a slot")


REFUSED_ROUTE = "memos.route"  # scope key: the route template of a request answered before routing


def route_template(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", None) or scope.get(REFUSED_ROUTE) or "unmatched"


def note_route(scope: Scope) -> None:
    """Record in ``scope`` the template of the route the router would choose, for a request answered before
    routing (a refusal by admission control), so its metrics name the route it was refused on. Matched against
    the OpenAPI paths, as ``api.errors.allowed_methods`` does (FastAPI's included routers do not expose the
    final route before they handle the request)."""
    app = scope.get("app")
    if app is None:
        return
    index: list[tuple[Any, set[str], str]] | None = getattr(app.state, "route_index", None)
    if index is None:
        index = [(compile_path(template)[0], {m.upper() for m in item}, template)
                 for template, item in app.openapi().get("paths", {}).items()]
        app.state.route_index = index
    for regex, methods, template in index:
        if scope["method"] in methods and regex.match(scope["path"]):
            scope[REFUSED_ROUTE] = template
            return


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless a response starts: an exception escaping the app becomes a 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_template(scope)
            LATENCY.labels(scope["method"], route).observe(time.perf_counter() - start)
            REQUESTS.labels(scope["method"], route, str(status)).inc()


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:  # on the event loop: answers even when every worker thread is busy
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
