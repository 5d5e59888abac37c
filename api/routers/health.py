"""Liveness (``/healthz``) and readiness (``/readyz``).

``/healthz`` says the process answers and reaches its database (one ``SELECT 1``). ``/readyz`` says whether
the service can do its work: the database (and the outbox's backlog), the broker, and live workers for each
queue (their Redis heartbeats, workers/heartbeat.py). Every check is bounded by ``MEMOS_READY_TIMEOUT_S``;
any failing one makes it 503. Neither needs a key (orchestrators and load balancers call them), and
admission control lets both through.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import StateDep
from api.state import AppState
from memos import __version__

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(state: StateDep) -> JSONResponse:
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
        db = "ok"
    except Exception as exc:  # report, don't raise: health checks must answer
        db = f"error: {type(exc).__name__}"
    status = 200 if db == "ok" else 503
    return JSONResponse({"status": "ok" if status == 200 else "degraded", "database": db,
                         "version": __version__}, status_code=status)


def _failed(exc: Exception) -> dict[str, Any]:
    return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}


def check_database(state: AppState) -> dict[str, Any]:
    from memcube.db import SYSTEM, tenant_session
    from memcube.repository import ops

    start = time.perf_counter()
    try:
        with tenant_session(state.sessions, SYSTEM) as session:
            ops.limit_statement_time(session, int(state.settings.ready_timeout_s * 1000))
            ops.ping(session)
            lag = ops.outbox_lag(session)
    except Exception as exc:  # report, don't raise
        return _failed(exc)
    return {"status": "ok", "latency_ms": round((time.perf_counter() - start) * 1000, 2),
            "outbox_pending": lag.pending, "outbox_lag_s": round(lag.oldest_age_s, 3)}


def check_broker_and_workers(state: AppState) -> tuple[dict[str, Any], dict[str, Any]]:
    from workers.app import light_queue
    from workers.heartbeat import read_heartbeats, redis_client

    settings = state.settings
    if not settings.redis_url:
        missing = {"status": "error", "error": "no broker configured (MEMOS_REDIS_URL)"}
        return missing, missing
    try:
        client = redis_client(settings.redis_url, settings.ready_timeout_s)
    except ValueError as exc:  # a URL redis-py cannot read
        return _failed(exc), {"status": "error", "error": "the broker is unreachable"}
    try:
        start = time.perf_counter()
        try:
            client.ping()
        except Exception as exc:  # report, don't raise
            return _failed(exc), {"status": "error", "error": "the broker is unreachable"}
        broker = {"status": "ok", "latency_ms": round((time.perf_counter() - start) * 1000, 2)}
        try:
            beats = read_heartbeats(client)
        except Exception as exc:
            return broker, _failed(exc)
    finally:
        client.close()
    queues = [settings.celery_queue, light_queue(settings)]
    served = {q for beat in beats for q in beat.queues}
    unserved = [q for q in queues if q not in served]
    workers: dict[str, Any] = {
        "status": "ok" if not unserved else "error",
        "queues": queues,
        "workers": [{"hostname": b.hostname, "queues": b.queues, "pid": b.pid, "concurrency": b.concurrency,
                     "age_s": b.age_s} for b in beats if set(b.queues) & set(queues)],
    }
    if unserved:
        workers["error"] = "no live worker consumes " + ", ".join(unserved)
    return broker, workers


# Out of the OpenAPI schema, like /metrics: an operator's probe whose 503 is an answer, not a failure.
@router.get("/readyz", include_in_schema=False)
def readyz(state: StateDep) -> JSONResponse:
    database = check_database(state)
    broker, workers = check_broker_and_workers(state)
    checks = {"database": database, "broker": broker, "workers": workers}
    ready = all(c["status"] == "ok" for c in checks.values())
    return JSONResponse({"status": "ready" if ready else "not ready", "version": __version__, "checks": checks},
                        status_code=200 if ready else 503)
