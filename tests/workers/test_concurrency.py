"""Two runners on one job at the same time (two deliveries of its task): the row lock lets one run it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from memcube.db import SYSTEM, make_engine, make_session_factory, tenant_session
from memcube.models import Cube, Job, Memory, Tenant
from memcube.repository import jobs as jobs_repo
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job


def test_concurrent_deliveries_run_the_job_once(make_database: Callable[[str], str], ctx: JobContext) -> None:
    engine = make_engine(make_database(f"memos_c_{uuid.uuid4().hex[:8]}"), role="memos_app", pool_size=4)
    sessions = make_session_factory(engine)
    try:
        with tenant_session(sessions, SYSTEM) as s:
            tenant = Tenant(name="t")
            s.add(tenant)
            s.flush()
            cube = Cube(tenant_id=tenant.id, name="c")
            s.add(cube)
            s.flush()
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
