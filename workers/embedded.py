"""The background path of ``memos serve`` when nothing else is running it: a Redis (ours, or the one in
``MEMOS_REDIS_URL``), a Celery worker subprocess with beat embedded, and the outbox relay in a thread.

The worker is supervised: if it exits while the service runs (killed, out of memory), it is started again
(after 1 s, doubling up to a minute while it keeps dying at once); its lost job is sent again by the outbox
sweep (memos/jobs/sweeps.py). Everything started here is stopped when the context exits: the relay first
(no new sends), then the worker (warm shutdown, then SIGKILL of its process group after a grace period: a
job cut off there is rolled back and run again later, see memos/jobs/runner.py), then our Redis.

If this process dies without exiting the context (SIGKILL), Redis and the workers die with it: they carry a
parent-death signal (workers/orphans.py, which also covers what that signal cannot reach).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from memos.config import Settings
from memos.database import DatabaseAccess
from memos.jobs.relay import Relay
from workers.orphans import die_with_parent
from workers.redis_server import RedisServer

log = logging.getLogger(__name__)

WORKER_STOP_GRACE_S = 10.0


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The current environment plus every set ``MEMOS_*`` setting, so a child process sees the same
    configuration as this one (including values given on the command line rather than in the env)."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        if value is not None:
            env[f"MEMOS_{name.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
    env.update(overrides)
    return env


def worker_command(
    settings: Settings, *, beat: bool, schedule: Path | None = None, app: str = "workers.app",
    queues: Sequence[str] | None = None, name: str = "memos",
) -> list[str]:
    """``celery worker`` for our app: one process (solo pool) unless more concurrency is asked for; it
    consumes ``queues`` (default: the main queue and the light one, i.e. every job)."""
    from workers.app import light_queue

    concurrency = max(settings.worker_concurrency, 1)
    cmd = [
        sys.executable, "-m", "celery", "-A", app, "worker",
        "--pool", "solo" if concurrency == 1 else "prefork", "--concurrency", str(concurrency),
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "--loglevel", settings.log_level.upper(), "-n", f"{name}-{os.getpid()}@%h",
        "-Q", ",".join(queues or (settings.celery_queue, light_queue(settings))),
    ]
    if beat:
        cmd += ["--beat", "--schedule", str(schedule or settings.home / "celerybeat-schedule")]
    return cmd


def start_worker(
    settings: Settings,
    env: dict[str, str],
    *,
    beat: bool,
    log_path: Path | None = None,
    app: str = "workers.app",
    cwd: Path | None = None,
    queues: Sequence[str] | None = None,
    name: str = "memos",
) -> subprocess.Popen[bytes]:
    out: IO[bytes] | int = subprocess.DEVNULL
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        # Its own session, so stopping it also stops its pool children and the embedded beat; killed by the
        # kernel if the calling thread dies first (see die_with_parent).
        from workers.metrics import worker_env

        env = {**env, **worker_env(settings, env)}  # before the child imports prometheus_client
        return subprocess.Popen(worker_command(settings, beat=beat, app=app, queues=queues, name=name), env=env,
                                cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent())
    finally:
        if not isinstance(out, int):
            out.close()


def stop_process_group(process: subprocess.Popen[bytes], *, grace_s: float = WORKER_STOP_GRACE_S) -> None:
    """SIGTERM (Celery's warm shutdown), then SIGKILL the whole group if it is still there."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            log.warning("worker did not stop within %.0fs; killing it", grace_s)
        except ProcessLookupError:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # leftovers of the group (pool children, beat)
    process.wait()


class WorkerSupervisor:
    """Runs the worker subprocess and starts it again whenever it exits before ``stop()``.

    One thread forks every worker and stops the last one before it ends: the worker's parent-death signal
    fires when the thread that forked it ends, so that thread must outlive it.
    """

    MIN_BACKOFF_S = 1.0
    MAX_BACKOFF_S = 60.0
    HEALTHY_AFTER_S = 60.0  # a run this long resets the backoff

    def __init__(self, settings: Settings, env: dict[str, str], *, log_path: Path, beat: bool = True,
                 queues: Sequence[str] | None = None, name: str = "memos") -> None:
        self.log_path = log_path
        self._start = functools.partial(start_worker, settings, env, beat=beat, log_path=log_path, queues=queues,
                                        name=name)
        self.restarts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="memos-worker-supervisor", daemon=True)
        self._thread.start()
        self._started.wait()
        if self._start_error is not None:
            self._thread.join()
            raise self._start_error

    @property
    def process(self) -> subprocess.Popen[bytes]:
        with self._lock:
            assert self._process is not None
            return self._process

    def _run(self) -> None:
        try:
            self._process = self._start()
        except BaseException as exc:
            self._start_error = exc
            return
        finally:
            self._started.set()
        try:
            self._watch()
        finally:
            stop_process_group(self.process)

    def _watch(self) -> None:
        backoff = self.MIN_BACKOFF_S
        started = time.monotonic()
        while not self._stopping.is_set():
            code = self.process.poll()
            if code is None:
                self._stopping.wait(0.5)
                continue
            if time.monotonic() - started > self.HEALTHY_AFTER_S:
                backoff = self.MIN_BACKOFF_S
            log.error("the worker (pid %d) exited with %s; starting it again in %.0f s (log %s)",
                      self.process.pid, code, backoff, self.log_path)
            if self._stopping.wait(backoff):
                return
            backoff = min(backoff * 2, self.MAX_BACKOFF_S)
            try:
                # Leftovers of the dead worker's group (its embedded beat) go before the new one starts.
                stop_process_group(self.process, grace_s=1.0)
                process = self._start()
            except Exception:  # e.g. no memory to fork: keep trying, the supervisor must not die
                log.exception("could not start the worker again; retrying in %.0f s", backoff)
                continue
            with self._lock:
                self._process = process
            self.restarts += 1
            started = time.monotonic()

    def stop(self) -> None:
        """Stop the worker (warm shutdown, then SIGKILL of its group) and the supervising thread."""
        self._stopping.set()
        self._thread.join()


@dataclass
class Background:
    """What ``background()`` started (for status output and tests)."""

    redis_url: str
    supervisor: WorkerSupervisor
    light_supervisor: WorkerSupervisor
    relay: Relay
    redis: RedisServer | None
    worker_log: Path

    @property
    def worker(self) -> subprocess.Popen[bytes]:
        """The main worker process running now (a new one after a restart)."""
        return self.supervisor.process

    @property
    def light_worker(self) -> subprocess.Popen[bytes]:
        """The light-queue worker process running now."""
        return self.light_supervisor.process


@contextmanager
def background(settings: Settings, access: DatabaseAccess) -> Iterator[Background | None]:
    """Run the background path for ``memos serve`` (nothing when ``MEMOS_RUN_WORKERS=false``)."""
    if not settings.run_workers:
        log.warning("MEMOS_RUN_WORKERS=false: jobs are queued in the outbox until a worker and a relay run")
        yield None
        return
    from workers.app import create_celery, light_queue, send_job

    with ExitStack() as stack:
        redis_server: RedisServer | None = None
        if settings.redis_url:
            redis_url = settings.redis_url
        else:
            redis_server = RedisServer(settings.home / "redis").start()
            stack.callback(redis_server.stop)
            redis_url = redis_server.url
        worker_log = settings.home / "logs" / "worker.log"
        # The workers log in as memos_app and sign the tenant context with the same key as the server.
        env = settings_env(settings, MEMOS_DATABASE_URL=access.app_url, MEMOS_REDIS_URL=redis_url,
                           MEMOS_CONTEXT_SECRET=access.context_key.decode())
        supervisor = WorkerSupervisor(settings, env, log_path=worker_log, queues=[settings.celery_queue])
        stack.callback(supervisor.stop)
        # Linking and other light jobs in a second, small worker (no torch): they run beside a consolidation
        # backlog on the other core instead of queueing behind it.
        light_supervisor = WorkerSupervisor(
            settings.model_copy(update={"worker_concurrency": 1}), {**env, "MEMOS_WORKER_WARM_UP": "false"},
            log_path=settings.home / "logs" / "worker-light.log", beat=False, queues=[light_queue(settings)],
            name="memos-light")
        stack.callback(light_supervisor.stop)

        database = access.database(pool_size=2)
        stack.callback(database.dispose)
        celery = create_celery(settings.model_copy(update={"redis_url": redis_url}))
        stack.callback(celery.close)

        def send(job_id: object, job_type: str) -> None:
            send_job(celery, settings, job_id, job_type)

        relay = Relay(database.sessions, send, database_url=access.app_url,
                      batch_size=settings.relay_batch_size, poll_interval_s=settings.relay_poll_interval_s)
        relay.start()
        stack.callback(relay.stop)
        log.info("background: redis %s, worker pid %d (log %s), relay running", redis_url, supervisor.process.pid,
                 worker_log)
        yield Background(redis_url=redis_url, supervisor=supervisor, light_supervisor=light_supervisor, relay=relay,
                         redis=redis_server, worker_log=worker_log)
