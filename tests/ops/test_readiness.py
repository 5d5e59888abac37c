"""``/readyz`` and the worker's metrics against the real background path: a Redis, Celery worker processes
(prefork, two children), the relay, a committed database."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable

import httpx
from rich.console import Console

from memos.cli_follow import status_table
from tests.workers.background import ROOT, BackgroundPath, wait_for

MakeBackground = Callable[..., BackgroundPath]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def heartbeat_check(bg: BackgroundPath) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MEMOS_REDIS_URL": str(bg.settings.redis_url)}
    return subprocess.run([sys.executable, "-m", "workers.heartbeat"], capture_output=True, text=True, env=env,
                          timeout=60, check=False, cwd=ROOT)


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus exposition, or None."""
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        if labels:
            found = dict(re.findall(r'(\w+)="([^"]*)"', line[line.index("{"):line.index("}")]))
            if any(found.get(k) != v for k, v in labels.items()):
                continue
        return float(line.rsplit(" ", 1)[1])
    return None


def test_readyz_follows_worker_heartbeats_and_the_worker_serves_its_task_metrics(
        background: MakeBackground) -> None:
    port = free_port()
    bg = background(worker_heartbeat_s=0.3, worker_metrics_port=port)
    tenant_id, _auth, cube_id = bg.tenant_and_cube()

    # No worker yet: the database and the broker answer, the queues have nobody.
    r = bg.client.get("/readyz")
    assert r.status_code == 503, r.text
    checks = r.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["broker"]["status"] == "ok"
    assert checks["workers"]["status"] == "error"
    assert checks["workers"]["error"] == f"no live worker consumes {bg.settings.celery_queue}, " \
                                         f"{bg.settings.celery_queue}.light"

    # A job waits in the outbox (no relay yet): the backlog is visible in /readyz and /metrics.
    job_id = bg.enqueue(tenant_id, cube_id, "test.note", {"content": "measured"})
    wait_for(lambda: bg.client.get("/readyz").json()["checks"]["database"]["outbox_lag_s"] > 0, timeout=10,
             what="the outbox lag to grow")
    metrics = bg.client.get("/metrics").text
    assert sample(metrics, "memos_outbox_pending") == 1
    assert sample(metrics, "memos_outbox_lag_seconds") > 0
    assert sample(metrics, "memos_jobs_unfinished", type="test.note", status="queued") == 1

    worker = bg.start_worker(worker_concurrency=2)
    ready = wait_for(lambda: (r := bg.client.get("/readyz")).status_code == 200 and r.json(), timeout=30,
                     what="/readyz to see the worker")
    (beat,) = ready["checks"]["workers"]["workers"]
    assert sorted(beat["queues"]) == [bg.settings.celery_queue, f"{bg.settings.celery_queue}.light"]
    assert beat["concurrency"] == 2
    assert beat["age_s"] < 3

    # What `memos status` prints for it.
    console = Console(record=True, width=200)
    console.print(status_table(ready, "http://memos.test"))
    table = console.export_text()
    assert "MemOS 0.1.0 at http://memos.test: ready" in table
    assert f"{beat['hostname']} (2 proc, {', '.join(beat['queues'])}, beat" in table
    assert "outbox: 1 pending" in table

    # The worker container's health check: a live heartbeat from this host.
    alive = heartbeat_check(bg)
    assert alive.returncode == 0, alive.stdout + alive.stderr
    assert beat["hostname"] in alive.stdout

    bg.relay.start()
    bg.wait_job(job_id)
    for content in ("two", "three"):
        bg.wait_job(bg.enqueue(tenant_id, cube_id, "test.note", {"content": content}))
    assert sample(bg.client.get("/metrics").text, "memos_outbox_pending") == 0

    # The worker's endpoint adds up its pool processes' samples (prometheus_client's multiprocess mode).
    def scraped() -> str | None:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        done = sample(text, "memos_worker_tasks_total", task="jobs.run", job_type="test.note", outcome="succeeded")
        return text if done == 3 else None

    text = wait_for(scraped, timeout=15, what="three jobs in the worker's metrics")
    assert sample(text, "memos_worker_task_seconds_count", task="jobs.run", job_type="test.note") == 3
    assert sample(text, "memos_worker_task_seconds_sum", task="jobs.run", job_type="test.note") > 0

    # The worker logs JSON lines (MEMOS_LOG_FORMAT's default), Celery's own included.
    log_text = (bg.home / "worker-0.log").read_text(errors="replace")
    logged = [json.loads(line) for line in log_text.splitlines() if line.startswith("{")]
    ready_line = next(rec for rec in logged if str(rec.get("message", "")).endswith(" ready."))
    assert ready_line["level"] == "INFO"
    assert ready_line["logger"].startswith("celery")
    assert "request_id" in ready_line

    # A dead worker stops beating: not ready within three heartbeat periods.
    bg.kill(worker)
    r = wait_for(lambda: (r := bg.client.get("/readyz")).status_code == 503 and r, timeout=10,
                 what="/readyz to notice the dead worker")
    assert r.json()["checks"]["workers"]["workers"] == []
    dead = heartbeat_check(bg)
    assert dead.returncode == 1
    assert dead.stdout.strip() == "no heartbeat"


def test_readyz_reports_an_unreachable_broker_within_its_timeout(background: MakeBackground) -> None:
    bg = background(redis=f"redis://127.0.0.1:{free_port()}/0", ready_timeout_s=0.5)
    r = bg.client.get("/readyz")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["broker"]["status"] == "error"
    assert "ConnectionError" in checks["broker"]["error"]
    assert checks["workers"] == {"status": "error", "error": "the broker is unreachable"}
