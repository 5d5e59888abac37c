"""The job runner, the relay's dispatch step and the sweeps, on the rolled-back test transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, tenant_session
from memcube.models import Job, Memory, MemoryVersion
from memcube.repository.memories import add_access_counts
from memos.config import Settings
from memos.jobs import sweeps
from memos.jobs.context import JobContext
from memos.jobs.relay import dispatch_batch
from memos.jobs.runner import run_job
from tests.workers.conftest import Enqueue, load_job

Tenant = tuple[uuid.UUID, dict[str, str]]


def memories_in(sessions: sessionmaker[Session], cube_id: str) -> list[Memory]:
    with tenant_session(sessions, SYSTEM) as s:
        return list(s.scalars(select(Memory).where(Memory.cube_id == uuid.UUID(cube_id))))


def set_job(sessions: sessionmaker[Session], job_id: uuid.UUID, **values: object) -> None:
    with tenant_session(sessions, SYSTEM) as s:
        s.execute(update(Job).where(Job.id == job_id).values(**values))


def test_job_runs_once_even_when_delivered_twice(
    sessions: sessionmaker[Session], ctx: JobContext, enqueue: Enqueue, tenant: Tenant, cube_id: str
) -> None:
    job_id = enqueue(tenant[0], cube_id, "test.note", {"content": "Alice moved to Lyon"})
    assert run_job(sessions, job_id, ctx) == "succeeded"
    assert run_job(sessions, job_id, ctx) == "succeeded"  # a redelivery: nothing happens
    job = load_job(sessions, job_id)
    assert (job.status, job.attempts, job.error) == ("succeeded", 1, None)
    assert job.started_at is not None
    assert job.finished_at is not None
    assert (job.llm_calls, job.llm_tokens) == (1, len("Alice moved to Lyon"))
    (memory,) = memories_in(sessions, cube_id)
    assert job.result == {"memory_id": str(memory.id)}
    assert memory.content == "Alice moved to Lyon"


def test_failed_attempt_rolls_back_and_retries_through_the_outbox(
    sessions: sessionmaker[Session], ctx: JobContext, enqueue: Enqueue, tenant: Tenant, cube_id: str
) -> None:
    job_id = enqueue(tenant[0], cube_id, "test.flaky", {"content": "flaky fact", "fail_until": 1})
    set_job(sessions, job_id, dispatched_at=datetime.now(UTC))
    assert run_job(sessions, job_id, ctx) == "queued"
    job = load_job(sessions, job_id)
    assert job.error is not None
    assert job.error.startswith("internal_error: ")  # the exception's text is logged, not shown to the tenant
    assert "flaky failure" not in job.error
    assert job.dispatched_at is None
    assert job.not_before is not None
    assert memories_in(sessions, cube_id) == []  # the attempt's write was rolled back

    assert run_job(sessions, job_id, ctx) == "succeeded"
    job = load_job(sessions, job_id)
    assert (job.attempts, job.error, job.llm_calls) == (2, None, 2)  # the failed attempt's cost counts
    assert [m.content for m in memories_in(sessions, cube_id)] == ["flaky fact"]


def test_job_fails_after_max_attempts_with_its_error(
    sessions: sessionmaker[Session], ctx: JobContext, enqueue: Enqueue, tenant: Tenant, cube_id: str
) -> None:
    job_id = enqueue(tenant[0], cube_id, "test.flaky", {"content": "never", "fail_until": 99})
    statuses = [run_job(sessions, job_id, ctx) for _ in range(4)]
    assert statuses == ["queued", "queued", "failed", "failed"]
    job = load_job(sessions, job_id)
    assert job.attempts == ctx.settings.job_max_attempts == 3
    assert job.error is not None
    assert job.error.startswith("internal_error: ")
    assert job.finished_at is not None
    assert memories_in(sessions, cube_id) == []


def test_permanent_errors_fail_at_once(
    sessions: sessionmaker[Session], ctx: JobContext, enqueue: Enqueue, tenant: Tenant, cube_id: str
) -> None:
    invalid = enqueue(tenant[0], cube_id, "test.invalid", {})
    unknown = enqueue(tenant[0], cube_id, "no.such-type", {})
    assert run_job(sessions, invalid, ctx) == "failed"
    assert run_job(sessions, unknown, ctx) == "failed"
    assert load_job(sessions, invalid).error == "invalid_input: this job can never succeed"
    assert load_job(sessions, invalid).attempts == 1
    assert "no handler for job type 'no.such-type'" in (load_job(sessions, unknown).error or "")
    assert run_job(sessions, uuid.uuid4(), ctx) == "missing"


def test_a_job_whose_worker_died_every_time_fails(
    sessions: sessionmaker[Session], ctx: JobContext, enqueue: Enqueue, tenant: Tenant, cube_id: str
) -> None:
    job_id = enqueue(tenant[0], cube_id, "test.note", {"content": "poison"})
    set_job(sessions, job_id, status="running", attempts=3)  # three attempts, each killed mid-way
    assert run_job(sessions, job_id, ctx) == "failed"
    assert "worker was lost" in (load_job(sessions, job_id).error or "")
    assert memories_in(sessions, cube_id) == []


def test_relay_dispatches_ready_rows_and_keeps_the_rest_when_the_broker_fails(
    sessions: sessionmaker[Session], enqueue: Enqueue, tenant: Tenant, cube_id: str
) -> None:
    ids = [enqueue(tenant[0], cube_id, "test.note", {"content": f"n{i}"}) for i in range(3)]
    later = enqueue(tenant[0], cube_id, "test.note", {"content": "backing off"})
    set_job(sessions, later, not_before=datetime.now(UTC) + timedelta(hours=1))

    sent: list[uuid.UUID] = []

    def broker(job_id: uuid.UUID, job_type: str) -> None:
        assert job_type == "test.note"  # the type travels with the id: it picks the queue
        sent.append(job_id)

    def broker_that_fails_on_the_second(job_id: uuid.UUID, job_type: str) -> None:
        if len(sent) == 1:
            raise ConnectionError("redis is down")
        broker(job_id, job_type)

    assert dispatch_batch(sessions, broker_that_fails_on_the_second) == (1, False)
    assert dispatch_batch(sessions, broker) == (2, True)
    assert sorted(sent) == sorted(ids)  # each once; the backing-off job not yet
    assert all(load_job(sessions, i).dispatched_at is not None for i in ids)
    assert load_job(sessions, later).dispatched_at is None
    assert dispatch_batch(sessions, broker) == (0, True)


def test_stuck_and_lost_jobs_go_back_to_the_outbox(
    sessions: sessionmaker[Session], job_settings: Settings, enqueue: Enqueue, tenant: Tenant, cube_id: str,
    app_engine: Engine,
) -> None:
    long_ago = datetime.now(UTC) - timedelta(seconds=job_settings.job_stuck_after_s + 60)
    lost_in_redis = enqueue(tenant[0], cube_id, "test.note", {"content": "a"})
    set_job(sessions, lost_in_redis, dispatched_at=long_ago)
    killed = enqueue(tenant[0], cube_id, "test.note", {"content": "b"})
    set_job(sessions, killed, dispatched_at=long_ago, started_at=long_ago, status="running", attempts=1)
    hopeless = enqueue(tenant[0], cube_id, "test.note", {"content": "c"})
    set_job(sessions, hopeless, dispatched_at=long_ago, started_at=long_ago, status="running", attempts=3)
    recent = enqueue(tenant[0], cube_id, "test.note", {"content": "d"})
    set_job(sessions, recent, dispatched_at=datetime.now(UTC))
    # Running for long, but a live runner holds it (say, waiting for its cube's serial lock): left alone.
    waiting = enqueue(tenant[0], cube_id, "test.note", {"content": "e"})
    set_job(sessions, waiting, dispatched_at=long_ago, started_at=long_ago, status="running", attempts=1)
    just_started = enqueue(tenant[0], cube_id, "test.note", {"content": "f"})
    set_job(sessions, just_started, dispatched_at=long_ago, started_at=datetime.now(UTC), status="running",
            attempts=1)

    with app_engine.connect() as runner:  # another backend, as a worker's runner would be
        runner.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), {"k": f"job:{waiting}"})
        assert sweeps.requeue_stuck(sessions, job_settings) == 3
        runner.rollback()
        runner.execute(text("SELECT pg_advisory_unlock_all()"))
    for job_id in (lost_in_redis, killed):
        job = load_job(sessions, job_id)
        assert (job.status, job.dispatched_at) == ("queued", None)
    assert load_job(sessions, hopeless).status == "failed"
    assert load_job(sessions, recent).dispatched_at is not None
    assert load_job(sessions, waiting).status == "running"
    assert load_job(sessions, just_started).status == "running"
    assert sweeps.requeue_stuck(sessions, job_settings) == 1  # the runner is gone now: `waiting` was lost


def test_ttl_sweep_writes_tombstones_as_the_system(
    client: TestClient, sessions: sessionmaker[Session], job_settings: Settings, auth: dict[str, str],
    cube_id: str,
) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "temp"}, {"content": "keep"}]},
                    headers=auth)
    temp, keep = (uuid.UUID(m["id"]) for m in r.json()["memories"])
    with tenant_session(sessions, SYSTEM) as s:
        s.execute(update(Memory).where(Memory.id == temp).values(expires_at=datetime.now(UTC) - timedelta(1)))
        s.execute(update(Memory).where(Memory.id == keep).values(expires_at=datetime.now(UTC) + timedelta(1)))

    assert sweeps.expire_ttl(sessions, job_settings) == 1
    assert sweeps.expire_ttl(sessions, job_settings) == 0
    got = client.get(f"/v1/memories/{temp}/history", headers=auth).json()
    versions = got["versions"] if isinstance(got, dict) else got
    assert [(v["status"], v["actor"]) for v in versions][-1] == ("deleted", sweeps.TTL_ACTOR)
    assert client.get(f"/v1/memories/{keep}", headers=auth).json()["status"] == "active"


def test_heat_folds_in_hits_and_halves_per_half_life(
    client: TestClient, sessions: sessionmaker[Session], job_settings: Settings, auth: dict[str, str],
    cube_id: str,
) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "hot"}]}, headers=auth)
    memory_id = uuid.UUID(r.json()["memories"][0]["id"])
    half_life = timedelta(hours=job_settings.heat_half_life_h)
    with tenant_session(sessions, SYSTEM) as s:
        add_access_counts(s, {memory_id: 4}, datetime.now(UTC))
    assert sweeps.decay_heat(sessions, job_settings) == 1

    def heat() -> tuple[float, int]:
        with tenant_session(sessions, SYSTEM) as s:
            m = s.get(Memory, memory_id, populate_existing=True)
            assert m is not None
            return m.heat, m.heat_hits

    assert heat() == (pytest.approx(4.0, rel=1e-3), 4)
    with tenant_session(sessions, SYSTEM) as s:  # one half-life later, no new hits
        s.execute(update(Memory).where(Memory.id == memory_id)
                  .values(heat_at=func.now() - half_life))
    assert sweeps.decay_heat(sessions, job_settings) == 1
    assert heat() == (pytest.approx(2.0, rel=1e-3), 4)
    assert sweeps.decay_heat(sessions, job_settings) == 0  # just decayed: left for a later sweep
    with tenant_session(sessions, SYSTEM) as s:
        versions = s.scalar(select(func.count()).select_from(MemoryVersion)
                            .where(MemoryVersion.memory_id == memory_id))
    assert versions == 1  # heat is a statistic, not a new version of the memory


def test_jobs_api_shows_own_jobs_newest_first_and_hides_others(
    client: TestClient, enqueue: Enqueue, tenant: Tenant, make_tenant: object, cube_id: str
) -> None:
    tenant_id, auth = tenant
    first = enqueue(tenant_id, cube_id, "test.note", {"content": "1"})
    second = enqueue(tenant_id, cube_id, "test.note", {"content": "2"})
    r = client.get(f"/v1/jobs/{first}", headers=auth)
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["status"], r.json()["attempts"]) == (str(first), "queued", 0)
    listed = client.get(f"/v1/cubes/{cube_id}/jobs", headers=auth).json()["jobs"]
    assert {j["id"] for j in listed} == {str(first), str(second)}
    assert [j["created_at"] for j in listed] == sorted((j["created_at"] for j in listed), reverse=True)

    _, other = make_tenant("other")  # type: ignore[operator]
    assert client.get(f"/v1/jobs/{first}", headers=other).status_code == 404
    assert client.get(f"/v1/cubes/{cube_id}/jobs", headers=other).status_code == 404
    assert client.get(f"/v1/jobs/{uuid.uuid4()}", headers=auth).status_code == 404


def test_relink_sweep_links_memories_their_job_missed(
    client: TestClient, sessions: sessionmaker[Session], job_settings: Settings, auth: dict[str, str],
    cube_id: str,
) -> None:
    r = client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "Bob plays the cello"}]},
                    headers=auth)
    memory_id = uuid.UUID(r.json()["memories"][0]["id"])
    with tenant_session(sessions, SYSTEM) as s:  # created an hour ago; its linking job never ran
        s.execute(update(Memory).where(Memory.id == memory_id)
                  .values(created_at=func.now() - timedelta(hours=1)))
    assert sweeps.relink(sessions, job_settings) == 1
    assert sweeps.relink(sessions, job_settings) == 0
