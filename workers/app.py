"""The Celery app, configured from ``memos.config.Settings``.

Redis (``MEMOS_REDIS_URL``) is broker and result backend; JSON only; ``acks_late`` with
``reject_on_worker_lost`` and a prefetch of 1, so a task whose worker dies is delivered again rather
than lost (the job runner makes the second delivery harmless). The job state of record is in
PostgreSQL (the ``jobs`` table), not in Celery results. Task names are ``domain.verb``.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals

from memos.config import Settings, get_settings

TASK_MODULES = ("workers.tasks.jobs", "workers.tasks.sweeps")
# Without MEMOS_REDIS_URL the service starts its own Redis (workers/embedded.py) and passes its URL to
# the worker in the environment; a worker started by hand with nothing set uses the local default.
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """Periodic sweeps; each expires when the next one is due, so a backlog never piles them up."""

    def every(task: str, seconds: float) -> dict[str, Any]:
        return {"task": task, "schedule": seconds, "options": {"expires": seconds}}

    return {
        "outbox": every("sweeps.outbox", settings.sweep_outbox_every_s),
        "heat": every("sweeps.heat", settings.sweep_heat_every_s),
        "ttl": every("sweeps.ttl", settings.sweep_ttl_every_s),
        "relink": every("sweeps.relink", settings.sweep_relink_every_s),
        "archive": every("sweeps.archive", settings.sweep_archive_every_s),
        "transform": every("sweeps.transform", settings.sweep_transform_every_s),
        "propose": every("sweeps.propose", settings.sweep_propose_every_s),
    }


def create_celery(settings: Settings) -> Celery:
    url = settings.redis_url or DEFAULT_REDIS_URL
    app = Celery("memos", set_as_current=False)
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # job state lives in PostgreSQL
        result_expires=3600,
        task_default_queue=settings.celery_queue,
        # A send to a Redis that is down must fail fast: the relay keeps the row and retries later.
        broker_connection_timeout=3,
        broker_connection_retry_on_startup=True,
        task_publish_retry=True,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                                   "interval_max": 0.5},
        # An unacked message of a SIGKILLed worker comes back after this; the stuck-job sweep
        # usually re-dispatches it sooner, and the runner ignores the late duplicate.
        broker_transport_options={"visibility_timeout": 3600},
        worker_send_task_events=False,
        beat_schedule=beat_schedule(settings),
        imports=TASK_MODULES,
        timezone="UTC",
    )
    return app


app = create_celery(get_settings())


# Job types that need no embedding model and go to the light queue (``<MEMOS_CELERY_QUEUE>.light``): a
# worker consuming only that queue never loads torch, and these jobs never wait behind a consolidation
# backlog (nor hold one up). ``memos worker`` consumes both queues unless told otherwise.
LIGHT_JOB_TYPES = frozenset({"linking.link"})


def light_queue(settings: Settings) -> str:
    return f"{settings.celery_queue}.light"


def queue_for(job_type: str, settings: Settings) -> str:
    return light_queue(settings) if job_type in LIGHT_JOB_TYPES else settings.celery_queue


def send_job(celery: Celery, settings: Settings, job_id: object, job_type: str) -> None:
    """Hand one job id to the broker (the relay's send), on its type's queue. No result is asked for: with
    a result backend that is down, Celery would otherwise spend ~20 s reconnecting to it before failing."""
    # The type rides in a header so the worker's metrics can label the task with it (workers/metrics.py).
    celery.send_task("jobs.run", args=[str(job_id)], ignore_result=True, queue=queue_for(job_type, settings),
                     headers={"job_type": job_type})


def _warm_up() -> None:
    """Load handlers and the embedding model in the background, so the first job does not wait ~10 s
    (not the model in a light-queue worker: ``MEMOS_WORKER_WARM_UP=false``)."""
    import threading

    from memos.jobs.registry import load_handlers
    from workers import resources

    load_handlers()  # a broken handler module fails the worker's start, not its first job
    if not get_settings().worker_warm_up:
        return

    def warm() -> None:
        try:
            resources.get().ctx.embedder.embed(["warm-up"])
        except Exception:  # only an optimisation: the first job will load it (and report any error)
            logging.getLogger(__name__).warning("embedder warm-up failed", exc_info=True)

    threading.Thread(target=warm, name="memos-warm-up", daemon=True).start()


@signals.worker_process_init.connect
def _after_fork(**_kwargs: Any) -> None:
    """A prefork child must not use the parent's connections: build its engine after the fork."""
    from workers import resources

    resources.reset()
    _warm_up()


@signals.worker_ready.connect
def _ready(sender: Any = None, **_kwargs: Any) -> None:
    # The solo pool runs tasks in the main process (no worker_process_init); warm up there. A prefork
    # parent never runs tasks and must not load torch (children may be forked from it again).
    pool = getattr(sender, "pool", None)
    if pool is not None and type(pool).__module__.endswith(".solo"):
        _warm_up()


@signals.beat_embedded_init.connect
def _die_with_worker(**_kwargs: Any) -> None:
    """The beat embedded in a worker (``--beat``) is a child process the worker does not stop if it is killed
    (Celery gives its pool children a parent-death signal, not beat): give beat one too."""
    from celery.platforms import set_pdeathsig

    set_pdeathsig("SIGKILL")


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _log_format(logger: logging.Logger | None = None, **_kwargs: Any) -> None:
    """Celery's log lines in the service's format (JSON by default, with the request id field)."""
    from memos.logs import use_format_on

    if logger is not None and get_settings().log_format == "json":
        use_format_on(logger, "json")


# Heartbeats for /readyz and the worker's metrics endpoint: their signal handlers connect on import.
from workers import heartbeat, metrics  # noqa: E402, F401
