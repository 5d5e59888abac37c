"""Staged job handlers: the slow middle runs with no transaction open while the run still holds the job
(a second delivery waits, the lost-job sweep leaves it alone), the outcome is written once, failures are
recorded (and handed to the handler when final)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, Database, tenant_session
from memcube.models import Cube, Job, Memory, Tenant
from memcube.repository import jobs as jobs_repo
from memos.config import Settings
from memos.embedding import Embedder
from memos.errors import InvalidInput
from memos.jobs.context import JobContext
from memos.jobs.registry import Staged, staged_job_handler
from memos.jobs.runner import run_job
from tests.conftest import CONTEXT_KEY
from tests.workers.conftest import Enqueue, load_job

Probe = Callable[[dict[str, Any]], None]
PROBES: dict[str, Probe] = {}  # job payload "probe" -> what compute calls (tests set it)
computed: list[str] = []


@staged_job_handler("test.staged")
class StagedNote(Staged):
    """Reads the payload's content in prepare, upper-cases it in compute, writes a memory in finish."""

    def prepare(self, session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
        return {"content": str(job.payload["content"]), "probe": job.payload.get("probe"), "job": str(job.id),
                "attempt": job.attempts, "fail_until": int(job.payload.get("fail_until", 0))}

    def compute(self, inputs: dict[str, Any], ctx: JobContext) -> str:
        computed.append(inputs["job"])
        if inputs["probe"]:
            PROBES[inputs["probe"]](inputs)
        if inputs["content"] == "never":
            raise InvalidInput("this content can never be computed")
        if inputs["attempt"] <= inputs["fail_until"]:
            raise RuntimeError("compute failed")
        return str(inputs["content"]).upper()

    def finish(self, session: Session, job: Job, outcome: str, ctx: JobContext) -> dict[str, Any]:
        assert job.cube_id is not None
        session.add(Memory(tenant_id=job.tenant_id, cube_id=job.cube_id, content=outcome, meta={}, tags=[],
                           keywords=[], version=1))
        return {"content": outcome}

    def failed(self, session: Session, job: Job, error: str) -> None:
        job.result = {"failed_with": error}


def _memories(sessions: sessionmaker[Session], cube_id: uuid.UUID | str) -> list[str]:
    with tenant_session(sessions, SYSTEM) as s:
        rows = s.execute(text("SELECT content FROM memories WHERE cube_id = :c"), {"c": str(cube_id)}).all()
    return [r[0] for r in rows]


def test_outcome_written_once_and_failures_retried_or_final(
    sessions: sessionmaker[Session], ctx: JobContext, enqueue: Enqueue, tenant: tuple[uuid.UUID, Any], cube_id: str
) -> None:
    ok = enqueue(tenant[0], cube_id, "test.staged", {"content": "hello"})
    assert run_job(sessions, ok, ctx) == "succeeded"
    assert run_job(sessions, ok, ctx) == "succeeded"
    assert load_job(sessions, ok).result == {"content": "HELLO"}

    flaky = enqueue(tenant[0], cube_id, "test.staged", {"content": "again", "fail_until": 1})
    assert run_job(sessions, flaky, ctx) == "queued"
    job = load_job(sessions, flaky)
    assert (job.status, job.dispatched_at) == ("queued", None)
    assert (job.error or "").startswith("internal_error: ")
    assert run_job(sessions, flaky, ctx) == "succeeded"

    never = enqueue(tenant[0], cube_id, "test.staged", {"content": "never"})
    assert run_job(sessions, never, ctx) == "failed"
    job = load_job(sessions, never)
    assert job.error == "invalid_input: this content can never be computed"
    assert job.result == {"failed_with": job.error}  # the handler's failed(), in the failing transaction
    assert sorted(_memories(sessions, cube_id)) == ["AGAIN", "HELLO"]


def test_compute_runs_with_no_transaction_open_while_the_job_stays_held(
    make_database: Callable[[str], str], settings: Settings, embedder: Embedder
) -> None:
    url = make_database(f"memos_staged_{uuid.uuid4().hex[:8]}")
    database = Database(url, context_key=CONTEXT_KEY, pool_size=4)
    observer = create_engine(url, pool_size=1)
    job_settings = settings.model_copy(update={"job_max_attempts": 3})
    ctx = JobContext(settings=job_settings, embedder=embedder)
    try:
        with tenant_session(database.sessions, SYSTEM) as s:
            t = Tenant(name="staged")
            s.add(t)
            s.flush()
            cube = Cube(tenant_id=t.id, name="c")
            s.add(cube)
            s.flush()
            tenant_id, cube_id = t.id, cube.id
        with tenant_session(database.sessions, tenant_id) as s:
            job, _ = jobs_repo.enqueue(s, tenant_id=tenant_id, cube_id=cube_id, type="test.staged",
                                       payload={"content": "slow", "probe": "watch"})
            job_id = job.id
        seen: dict[str, Any] = {}
        second: list[str] = []

        def watch(inputs: dict[str, Any]) -> None:
            with observer.connect() as conn:
                seen["in_transaction"] = conn.scalar(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"))
                seen["held"] = conn.scalar(text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database())"))
            with tenant_session(database.sessions, SYSTEM) as s:  # the lost-job sweep's query
                seen["lost"] = jobs_repo.lost(s, started_before=datetime.now(UTC) + timedelta(hours=1))
            # A second delivery now waits for the hold, then finds the job done.
            runner = threading.Thread(target=lambda: second.append(run_job(database.sessions, job_id, ctx)))
            runner.start()
            runner.join(0.3)
            seen["second_waiting"] = runner.is_alive()
            seen["thread"] = runner

        PROBES["watch"] = watch
        computed.clear()
        assert run_job(database.sessions, job_id, ctx) == "succeeded"
        seen["thread"].join(10)
        assert seen["in_transaction"] == 0
        assert seen["held"] == 1
        assert seen["lost"] == []
        assert seen["second_waiting"] is True
        assert second == ["succeeded"]
        assert computed == [str(job_id)]  # computed once
        with tenant_session(database.sessions, SYSTEM) as s:
            assert s.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                                 "(SELECT oid FROM pg_database WHERE datname = current_database())")) == 0
            job_row = jobs_repo.get_job(s, job_id)
            assert job_row is not None
            assert (job_row.status, job_row.attempts, job_row.result) == ("succeeded", 1, {"content": "SLOW"})
        assert _memories(database.sessions, cube_id) == ["SLOW"]
    finally:
        PROBES.pop("watch", None)
        observer.dispose()
        database.dispose()
