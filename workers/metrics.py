"""Prometheus metrics of a worker: tasks run, by task, job type and outcome, and their durations; plus what
the work itself counts (the guard's decisions during consolidation, ...).

A Celery worker runs tasks in pool processes forked from its main process, so no single registry sees them
all. prometheus_client's multiprocess mode is the standard answer: every process writes its samples to
memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``, and the main process serves ``/metrics`` on
``MEMOS_WORKER_METRICS_PORT`` by aggregating the files. The directory must be in the environment before
``prometheus_client`` is first imported in the worker, so the launchers set it (``worker_env``: ``memos
worker`` and the workers ``memos serve`` starts); a fresh directory per worker start, so a restart does not
add the dead processes' counts twice. Scrape each worker (compose: each ``worker`` container on its port).
"""

from __future__ import annotations

import functools
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from celery import signals

from memos.config import Settings, get_settings

ENV = "PROMETHEUS_MULTIPROC_DIR"
log = logging.getLogger(__name__)


def worker_env(settings: Settings, env: dict[str, str] | None = None) -> dict[str, str]:
    """What a worker's environment needs for its metrics: a fresh multiprocess directory when the port is set
    (and none given already). Returns the variables to add."""
    current = os.environ if env is None else env
    if not settings.worker_metrics_port or current.get(ENV):
        return {}
    directory = settings.home.resolve() / "worker-metrics" / uuid.uuid4().hex[:12]
    directory.mkdir(parents=True, exist_ok=True)
    return {ENV: str(directory)}


@functools.cache
def _instruments() -> tuple[Any, Any]:
    from prometheus_client import Counter, Histogram

    tasks = Counter("memos_worker_tasks_total", "tasks run by this worker, by task, job type and outcome (for "
                    "jobs.run the job's status afterwards: succeeded, failed, queued for a retry, missing...)",
                    ["task", "job_type", "outcome"])
    seconds = Histogram("memos_worker_task_seconds", "task durations", ["task", "job_type"],
                        buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800))
    return tasks, seconds


_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, **_kwargs: Any) -> None:
    if task_id is not None:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_done(task_id: str | None = None, task: Any = None, retval: Any = None, state: str | None = None,
               **_kwargs: Any) -> None:
    start = _started.pop(task_id or "", None)
    if task is None:
        return
    job_type = str(getattr(task.request, "job_type", None) or "")
    outcome = retval if task.name == "jobs.run" and isinstance(retval, str) else (state or "unknown").lower()
    tasks, seconds = _instruments()
    tasks.labels(task.name, job_type, outcome).inc()
    if start is not None:
        seconds.labels(task.name, job_type).observe(time.perf_counter() - start)


@signals.worker_process_shutdown.connect
def _process_gone(pid: int | None = None, **_kwargs: Any) -> None:
    if os.environ.get(ENV) and pid is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


@signals.worker_ready.connect
def _serve(**_kwargs: Any) -> None:
    """The metrics endpoint, in the main process, over every process's samples."""
    port = get_settings().worker_metrics_port
    if not port:
        return
    from prometheus_client import CollectorRegistry, start_http_server, values

    registry: Any = None
    if os.environ.get(ENV) and Path(os.environ[ENV]).is_dir():
        from prometheus_client import multiprocess

        if "MultiProcessValue" not in values.ValueClass.__qualname__:
            log.warning("%s was set after prometheus_client was imported: pool processes' samples are missing", ENV)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    try:
        start_http_server(port, registry=registry) if registry is not None else start_http_server(port)
    except OSError as exc:  # another worker on this host holds the port: run, but say so
        log.warning("worker metrics not served on port %d: %s", port, exc)
        return
    log.info("worker metrics on :%d/metrics", port)
