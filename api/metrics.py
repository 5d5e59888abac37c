"""Prometheus metrics: request counts and latency by route template (not raw path: ids would explode it), and
the admission counters.

A pure ASGI middleware: the router records the route it chose in ``scope["route"]``, read once the request
has been handled; a path no route matches is labelled ``unmatched``.
"""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
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


def route_template(scope: Scope) -> str:
    return getattr(scope.get("route"), "path", None) or "unmatched"


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
