"""Prometheus metrics: request counts and latency by route template (not raw path: ids would explode it), the
admission counters, and what is read from the app's state at scrape time (the outbox's lag, unfinished jobs,
the guard's queue, the memory tiers of KV snapshots and the adapter pool).

A pure ASGI middleware: the router records the route it chose in ``scope["route"]``, read once the request
has been handled; a path no route matches is labelled ``unmatched``. Counters of work done in other processes
(jobs run by workers, guard decisions made there) are served by the worker's own endpoint
(``workers/metrics.py``, docs/operations.md#observability).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from api.state import AppState

log = logging.getLogger(__name__)

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


class StateCollector(Collector):
    """Gauges read when scraped, from the database (in the system context, each statement bounded) and from
    what this process holds. A database that does not answer gives ``memos_database_up 0``, not a failed
    scrape: the process's own metrics still matter then."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        yield from self._database()
        yield from self._tiers()

    def _database(self) -> Iterator[Any]:
        from memcube.db import SYSTEM, tenant_session
        from memcube.repository import ops

        up = GaugeMetricFamily("memos_database_up", "1 when the scrape's database reads succeeded")
        try:
            with tenant_session(self.state.sessions, SYSTEM) as session:
                ops.limit_statement_time(session)
                lag = ops.outbox_lag(session)
                jobs = ops.unfinished_jobs(session)
                quarantined = ops.quarantined(session)
                lessons = ops.guard_lessons(session)
        except Exception as exc:  # report, don't raise: a scrape must answer
            log.warning("metrics: database reads failed: %s: %s", type(exc).__name__, exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("memos_outbox_pending", "jobs due and not yet handed to the broker",
                                value=lag.pending)
        yield GaugeMetricFamily("memos_outbox_lag_seconds", "how long the oldest undispatched due job has waited",
                                value=lag.oldest_age_s)
        unfinished = GaugeMetricFamily("memos_jobs_unfinished", "queued and running jobs", labels=["type", "status"])
        for (job_type, status), count in sorted(jobs.items()):
            unfinished.add_metric([job_type, status], count)
        yield unfinished
        yield GaugeMetricFamily("memos_guard_quarantined", "memories waiting in the guard's review queue",
                                value=quarantined)
        learned = GaugeMetricFamily("memos_guard_lessons", "records the guard learned from, by who decided",
                                    labels=["decided_by"])
        for decided_by, count in sorted(lessons.items()):
            learned.add_metric([decided_by], count)
        yield learned

    def _tiers(self) -> Iterator[Any]:
        """This process's memory tiers, which hold KV snapshots and LoRA adapters (memos.scheduler.tiers, made on
        first use), and its adapter pool: what is held against which budget, and what moved."""
        runtime = self.state._activation
        if runtime is None:
            return
        status = runtime.cache.manager.status()
        gauges = {"budget_bytes": ("memos_tier_budget_bytes", "the tier's byte budget"),
                  "used_bytes": ("memos_tier_used_bytes", "bytes of payloads held in the tier"),
                  "items": ("memos_tier_items", "payloads held in the tier"),
                  "pinned": ("memos_tier_pinned", "payloads pinned in the tier")}
        counters = {"hits": ("memos_tier_hits", "requests served from the tier"),
                    "promotions": ("memos_tier_promotions", "payloads moved into the tier (or loaded from disk)"),
                    "demotions": ("memos_tier_demotions", "payloads moved out of the tier"),
                    "bytes_in": ("memos_tier_bytes_in", "bytes moved into the tier"),
                    "bytes_out": ("memos_tier_bytes_out", "bytes moved out of the tier")}
        labels = ["tier", "device", "emulated"]
        families: dict[str, GaugeMetricFamily | CounterMetricFamily] = {
            key: GaugeMetricFamily(name, doc, labels=labels) for key, (name, doc) in gauges.items()}
        families |= {key: CounterMetricFamily(name, doc, labels=labels) for key, (name, doc) in counters.items()}
        for tier in status["tiers"]:
            values = [tier["name"], tier["device"], str(tier["emulated"]).lower()]
            for key, family in families.items():
                family.add_metric(values, tier[key])
        yield from families.values()
        for key, doc in (("misses", "payload requests (snapshots, adapters) that loaded from disk"),
                         ("prefetches", "snapshots loaded ahead of use"),
                         ("prefetch_hits", "requests served by a prefetched snapshot"),
                         ("load_bytes", "bytes read from disk"), ("load_seconds", "time spent reading from disk")):
            yield CounterMetricFamily(f"memos_tier_{key}", doc, value=status[key])
        parametric = self.state._parametric
        if parametric is not None:
            pool = parametric.pool
            yield GaugeMetricFamily("memos_adapter_pool_bytes", "LoRA adapter bytes in the serving models (gpu tier)",
                                    value=pool.loaded_bytes)
            yield GaugeMetricFamily("memos_adapter_pool_budget_bytes",
                                    "the cap on adapter bytes in the serving models (MEMOS_ADAPTER_POOL_MAX_BYTES)",
                                    value=pool.max_bytes)
            yield GaugeMetricFamily("memos_adapter_pool_adapters", "LoRA adapters in the serving models (gpu tier)",
                                    value=len(pool.resident()))
            for key in ("hits", "misses", "evictions"):
                yield CounterMetricFamily(f"memos_adapter_pool_{key}", f"adapter pool {key}",
                                          value=getattr(pool.stats, key))


def state_metrics(state: AppState | None) -> bytes:
    if state is None:
        return b""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(state))
    return generate_latest(registry)


def install_metrics(app: FastAPI) -> None:
    app.add_middleware(MetricsMiddleware)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        # The process's metrics on the event loop (they answer even when every worker thread is busy); the
        # database reads in one thread of their own, so scrapes never take a request thread or pile up.
        limiter = getattr(app.state, "metrics_limiter", None)
        if limiter is None:
            limiter = app.state.metrics_limiter = anyio.CapacityLimiter(1)
        state = getattr(request.app.state, "memos", None)
        read = await anyio.to_thread.run_sync(state_metrics, state, limiter=limiter)
        return Response(generate_latest() + read, media_type=CONTENT_TYPE_LATEST)
