"""A real background path for one test: a committed database, the API on it, the relay in a thread,
and Celery worker subprocesses that can be killed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.state import AppState
from memcube.db import SYSTEM, make_engine, make_session_factory, tenant_session
from memcube.models import Job, Memory
from memcube.repository import jobs as jobs_repo
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.relay import Relay
from memos.retrieval.access import AccessRecorder
from memos.tenants.service import hash_key
from tests.conftest import CONTEXT_KEY
from workers.app import create_celery, send_job
from workers.embedded import settings_env, start_worker, stop_process_group

ROOT = Path(__file__).resolve().parents[2]
ADMIN_KEY = "mk_test_admin_key"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


def wait_for(predicate: Callable[[], Any], *, timeout: float = 60.0, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy (bounded; no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class BackgroundPath:
    def __init__(self, *, database_url: str, redis_url: str, home: Path, embedder: Embedder,
                 **settings: Any) -> None:
        self.home = home
        self.signals = home / "signals"
        self.signals.mkdir(parents=True, exist_ok=True)
        self.settings = Settings(
            home=home, database_url=database_url, redis_url=redis_url, admin_key=ADMIN_KEY, run_workers=False,
            celery_queue=f"memos-test-{uuid.uuid4().hex[:8]}", relay_poll_interval_s=0.2,
            job_retry_backoff_s=0.2, **settings,
        )
        self.engine: Engine = make_engine(database_url, pool_size=3)
        self.sessions: sessionmaker[Session] = make_session_factory(self.engine, CONTEXT_KEY)
        state = AppState(settings=self.settings, sessions=self.sessions, embedder=embedder,
                         admin_hash=hash_key(ADMIN_KEY), access=AccessRecorder(self.sessions, interval_s=3600))
        self.client = TestClient(create_app(state), raise_server_exceptions=True)
        self.client.__enter__()
        self.celery = create_celery(self.settings)
        self.relay = Relay(self.sessions, self.send, database_url=database_url, batch_size=50,
                           poll_interval_s=self.settings.relay_poll_interval_s)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.closed = False

    def send(self, job_id: uuid.UUID, job_type: str) -> None:
        send_job(self.celery, self.settings, job_id, job_type)

    # ------------------------------------------------------------------ processes
    def start_worker(self, *, pause_types: str = "", beat: bool = False, **settings: Any) -> subprocess.Popen[bytes]:
        """A worker subprocess; returns once it is consuming (it announces itself with a file)."""
        before = set(self.signals.glob("ready-*"))
        worker_settings = self.settings.model_copy(update=settings)
        env = settings_env(worker_settings, MEMOS_TEST_PAUSE_DIR=str(self.signals),
                           MEMOS_TEST_PAUSE_TYPES=pause_types)
        proc = start_worker(worker_settings, env, beat=beat, app="tests.workers.celery_app", cwd=ROOT,
                            log_path=self.home / f"worker-{len(self.workers)}.log")
        self.workers.append(proc)

        def ready() -> bool:
            assert proc.poll() is None, f"worker exited with {proc.returncode}: {self.worker_log()}"
            return bool(set(self.signals.glob("ready-*")) - before)

        wait_for(ready, timeout=60, what="the worker to start")
        return proc

    def worker_log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.home.glob("worker-*.log")))

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.relay.stop()
        for proc in self.workers:  # no warm shutdown needed: every job is crash-safe
            stop_process_group(proc, grace_s=0.5)
        self.client.__exit__(None, None, None)
        self.celery.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ API + database
    def tenant_and_cube(self) -> tuple[uuid.UUID, dict[str, str], str]:
        r = self.client.post("/v1/tenants", json={"name": "acme"}, headers=ADMIN)
        tenant_id = r.json()["id"]
        r = self.client.post(f"/v1/tenants/{tenant_id}/keys", json={"name": "k"}, headers=ADMIN)
        auth = {"Authorization": f"Bearer {r.json()['key']}"}
        r = self.client.post("/v1/cubes", json={"name": "notes"}, headers=auth)
        assert r.status_code == 201, r.text
        return uuid.UUID(tenant_id), auth, str(r.json()["id"])

    def enqueue(self, tenant_id: uuid.UUID, cube_id: str, type: str, payload: dict[str, Any],
                key: str | None = None) -> uuid.UUID:
        with tenant_session(self.sessions, tenant_id) as s:
            job, _ = jobs_repo.enqueue(s, tenant_id=tenant_id, cube_id=uuid.UUID(cube_id), type=type,
                                       payload=payload, idempotency_key=key)
            return job.id

    def job(self, job_id: uuid.UUID | str) -> Job:
        with tenant_session(self.sessions, SYSTEM) as s:
            job = s.get(Job, uuid.UUID(str(job_id)))
            assert job is not None
            return job

    def wait_job(self, job_id: uuid.UUID | str, status: str = "succeeded", timeout: float = 90.0) -> Job:
        def done() -> Job | None:
            job = self.job(job_id)
            if job.status in ("succeeded", "failed") and job.status != status:
                raise AssertionError(f"job ended {job.status}: {job.error}\n{self.worker_log()}")
            return job if job.status == status else None

        try:
            result: Job = wait_for(done, timeout=timeout, what=f"job {job_id} to be {status}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.job(job_id).__dict__}\n{self.worker_log()}") from None
        return result

    def memories(self, cube_id: str) -> list[Memory]:
        with tenant_session(self.sessions, SYSTEM) as s:
            return list(s.scalars(select(Memory).where(Memory.cube_id == uuid.UUID(cube_id))
                                  .order_by(Memory.created_at)))

    def count_jobs(self) -> int:
        with tenant_session(self.sessions, SYSTEM) as s:
            return int(s.scalar(select(func.count()).select_from(Job)) or 0)
