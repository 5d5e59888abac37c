"""Background-path benchmark: outbox-to-start latency and job throughput with a trivial job.

    .venv/bin/python bench/jobs.py [--latency-jobs 50] [--throughput-jobs 500] [--concurrency 1,2]

Runs the real embedded background path (``workers.embedded.background``: a private Redis, a Celery
worker subprocess with beat, the outbox relay woken by LISTEN/NOTIFY) on a fresh embedded PostgreSQL.
Jobs are ``jobs.noop`` rows written by ``enqueue`` exactly as the API writes them.

1. Latency: one job at a time; ``started_at - created_at`` (both stamped by the database host's clock)
   covers commit -> NOTIFY -> relay -> Redis -> worker -> claim. Baseline in the same run: the same
   path with LISTEN disabled (the relay polls every ``relay_poll_interval_s``).
2. Throughput: N jobs committed in one transaction; jobs/s from the commit until the last one finished,
   for each worker concurrency given.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from memcube.db import SYSTEM, tenant_session  # noqa: E402
from memcube.models import Job, Tenant  # noqa: E402
from memcube.repository import jobs as jobs_repo  # noqa: E402
from memos.config import Settings  # noqa: E402
from memos.database import prepare  # noqa: E402
from workers.embedded import background  # noqa: E402


def wait_done(sessions, ids: list[uuid.UUID], timeout_s: float = 300) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with tenant_session(sessions, SYSTEM) as s:
            left = s.scalar(select(func.count()).select_from(Job)
                            .where(Job.id.in_(ids), Job.status != "succeeded"))
        if not left:
            return
        time.sleep(0.01)
    raise SystemExit(f"timed out: {left} jobs not done")


def latency(sessions, tenant_id: uuid.UUID, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out: list[float] = []
    for i in range(n):
        with tenant_session(sessions, tenant_id) as s:
            job, _ = jobs_repo.enqueue(s, tenant_id=tenant_id, cube_id=None, type="jobs.noop", payload={"i": i})
        wait_done(sessions, [job.id])
        with tenant_session(sessions, SYSTEM) as s:
            j = s.get(Job, job.id)
            assert j is not None
            assert j.started_at is not None
            out.append((j.started_at - j.created_at).total_seconds())
    return out


def throughput(sessions, tenant_id: uuid.UUID, n: int) -> float:  # type: ignore[no-untyped-def]
    with tenant_session(sessions, tenant_id) as s:
        ids = [jobs_repo.enqueue(s, tenant_id=tenant_id, cube_id=None, type="jobs.noop", payload={"i": i})[0].id
               for i in range(n)]
    t0 = time.perf_counter()
    wait_done(sessions, ids)
    return n / (time.perf_counter() - t0)


def pct(values: list[float], p: float) -> float:
    return sorted(values)[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-jobs", type=int, default=50)
    ap.add_argument("--throughput-jobs", type=int, default=500)
    ap.add_argument("--concurrency", default="1,2")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="memos-bench-jobs-"))
    access = prepare(Settings(home=home))  # the embedded server: roles, migrations, context key
    database = access.database(pool_size=4)
    sessions = database.sessions
    with tenant_session(sessions, SYSTEM) as s:
        tenant = Tenant(name="bench")
        s.add(tenant)
        s.flush()
        tenant_id = tenant.id

    rows: list[tuple[str, str]] = []
    for label, poll, listen in (("LISTEN/NOTIFY", 1.0, True), ("poll only (baseline)", 1.0, False)):
        settings = Settings(home=home / label.split()[0].replace("/", "-"), relay_poll_interval_s=poll)
        with background(settings, access) as bg:
            assert bg is not None
            if not listen:
                bg.relay.listen_url = None
            latency(sessions, tenant_id, 3)  # warm-up: worker ready, connections open
            lat = latency(sessions, tenant_id, args.latency_jobs)
        rows.append((f"outbox->start latency, {label}",
                     f"p50 {statistics.median(lat) * 1000:.1f} ms, p95 {pct(lat, 95) * 1000:.1f} ms, "
                     f"max {max(lat) * 1000:.1f} ms (n={len(lat)})"))
    # Baseline: the same jobs through the runner in this process (no broker, no relay, no Celery).
    from memos.embedding import get_embedder
    from memos.jobs.context import JobContext
    from memos.jobs.runner import run_job

    ctx = JobContext(settings=Settings(), embedder=get_embedder())
    with tenant_session(sessions, tenant_id) as s:
        ids = [jobs_repo.enqueue(s, tenant_id=tenant_id, cube_id=None, type="jobs.noop", payload={})[0].id
               for _ in range(args.throughput_jobs)]
    t0 = time.perf_counter()
    for job_id in ids:
        run_job(sessions, job_id, ctx)
    rows.append((f"baseline: run_job in-process, {len(ids)} noop jobs",
                 f"{len(ids) / (time.perf_counter() - t0):.0f} jobs/s"))
    for conc in (int(c) for c in args.concurrency.split(",")):
        settings = Settings(home=home / f"c{conc}", worker_concurrency=conc)
        with background(settings, access) as bg:
            assert bg is not None
            latency(sessions, tenant_id, 3)
            rate = throughput(sessions, tenant_id, args.throughput_jobs)
        rows.append((f"throughput, {args.throughput_jobs} noop jobs, concurrency {conc}", f"{rate:.0f} jobs/s"))
    print("\nBackground path (embedded: private Redis, Celery worker subprocess, relay thread)")
    for k, v in rows:
        print(f"  {k:<55} {v}")
    database.dispose()


if __name__ == "__main__":
    main()
