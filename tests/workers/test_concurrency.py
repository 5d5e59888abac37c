"""Two runners on one job at the same time (two deliveries of its task): the row lock lets one run it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select
from sqlalchemy.orm import Session

from memcube.db import SYSTEM, make_engine, make_session_factory, tenant_session
from memcube.models import Cube, Job, Memory, Tenant
from memcube.repository import jobs as jobs_repo
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.conftest import CONTEXT_KEY


def _tenant_and_cube(s: Session) -> tuple[Tenant, Cube]:
    tenant = Tenant(name="t")
    s.add(tenant)
    s.flush()
    cube = Cube(tenant_id=tenant.id, name="c")
    s.add(cube)
    s.flush()
    return tenant, cube


def test_concurrent_deliveries_run_the_job_once(make_database: Callable[[str], str], ctx: JobContext) -> None:
    engine = make_engine(make_database(f"memos_c_{uuid.uuid4().hex[:8]}"), pool_size=4)
    sessions = make_session_factory(engine, CONTEXT_KEY)
    try:
        with tenant_session(sessions, SYSTEM) as s:
            tenant, cube = _tenant_and_cube(s)
            job, _ = jobs_repo.enqueue(s, tenant_id=tenant.id, cube_id=cube.id, type="test.slow_note",
                                       payload={"content": "only once", "linger_s": 0.5})
        with ThreadPoolExecutor(2) as pool:
            statuses = list(pool.map(lambda _: run_job(sessions, job.id, ctx), range(2)))
        assert statuses == ["succeeded", "succeeded"]
        with tenant_session(sessions, SYSTEM) as s:
            contents = list(s.scalars(select(Memory.content).where(Memory.cube_id == cube.id)))
            stored = s.get(Job, job.id)
        assert contents == ["only once"]
        assert stored is not None
        assert stored.status == "succeeded"
    finally:
        engine.dispose()


def test_a_second_delivery_while_the_first_waits_for_its_cube_neither_claims_nor_fails_it(
    make_database: Callable[[str], str], ctx: JobContext
) -> None:
    """B's runner has claimed B and waits for the cube's serial lock (A runs); B is delivered again. With one
    attempt allowed, a second claim would fail B ("the worker was lost each time") under its live runner:
    the second delivery must wait for the first to finish instead, and find B done."""
    import threading
    import time

    engine = make_engine(make_database(f"memos_c_{uuid.uuid4().hex[:8]}"), pool_size=6)
    sessions = make_session_factory(engine, CONTEXT_KEY)
    one_attempt = JobContext(settings=ctx.settings.model_copy(update={"job_max_attempts": 1}),
                             embedder=ctx.embedder)
    try:
        with tenant_session(sessions, SYSTEM) as s:
            tenant, cube = _tenant_and_cube(s)
            a, _ = jobs_repo.enqueue(s, tenant_id=tenant.id, cube_id=cube.id, type="test.serial_note",
                                     payload={"content": "A", "linger_s": 1.5})
            b, _ = jobs_repo.enqueue(s, tenant_id=tenant.id, cube_id=cube.id, type="test.serial_note",
                                     payload={"content": "B", "linger_s": 0.0})
        statuses: dict[str, str] = {}

        def deliver(name: str, job_id: uuid.UUID, after_s: float) -> None:
            time.sleep(after_s)
            statuses[name] = run_job(sessions, job_id, one_attempt)

        threads = [threading.Thread(target=deliver, args=args)
                   for args in (("a", a.id, 0.0), ("b", b.id, 0.4), ("b again", b.id, 0.8))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert statuses == {"a": "succeeded", "b": "succeeded", "b again": "succeeded"}
        with tenant_session(sessions, SYSTEM) as s:
            stored = s.get(Job, b.id)
            assert stored is not None
            assert (stored.status, stored.attempts) == ("succeeded", 1)
            contents = sorted(s.scalars(select(Memory.content).where(Memory.cube_id == cube.id)))
        assert contents == ["A", "B"]
    finally:
        engine.dispose()
