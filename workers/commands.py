"""What ``memos worker``, ``memos beat`` and ``memos relay`` run (the CLI only parses options)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

from memos.config import Settings
from memos.database import resolve
from memos.jobs.relay import Relay

log = logging.getLogger(__name__)


def make_relay(settings: Settings) -> Relay:
    """A relay on its own small engine, sending through the app configured from ``settings``."""
    from workers.app import create_celery, send_job

    access = resolve(settings)
    database = access.database(pool_size=2)
    celery = create_celery(settings)
    return Relay(database.sessions, lambda job_id, job_type: send_job(celery, settings, job_id, job_type),
                 database_url=access.app_url,
                 batch_size=settings.relay_batch_size, poll_interval_s=settings.relay_poll_interval_s)


def run_worker(settings: Settings, *, concurrency: int | None = None, beat: bool = False,
               queues: list[str] | None = None) -> None:
    """A Celery worker in the foreground (prefork when concurrency > 1, else solo), on ``queues`` (default:
    the main and the light queue)."""
    from workers.app import app
    from workers.embedded import worker_command

    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    argv = worker_command(settings, beat=beat, queues=queues)
    app.worker_main(argv[argv.index("worker"):])


def run_beat(settings: Settings, *, relay: bool = True, schedule: Path | None = None) -> None:
    """Celery beat in the foreground, with the outbox relay in a thread unless ``relay=False``."""
    from workers.app import app

    relay_loop = make_relay(settings) if relay else None
    if relay_loop is not None:
        relay_loop.start()
    try:
        app.Beat(schedule=str(schedule or settings.home / "celerybeat-schedule"),
                 loglevel=settings.log_level.upper()).run()
    finally:
        if relay_loop is not None:
            relay_loop.stop()


def run_relay(settings: Settings) -> None:
    """The outbox relay alone, in the foreground, until SIGINT/SIGTERM."""
    relay = make_relay(settings)
    relay.start()
    stopped = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopped
        stopped = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _stop)
    try:
        while not stopped:
            signal.pause()
    finally:
        relay.stop()
