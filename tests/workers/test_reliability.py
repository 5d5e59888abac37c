"""The background path with a real Redis and real worker processes: crash safety and broker outages
(idempotent submission is tested on the embedded default, in test_embedded.py). Marked slow: each test
starts Celery workers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.workers.background import BackgroundPath, wait_for

pytestmark = pytest.mark.slow

MakeBackground = Callable[..., BackgroundPath]


CONVERSATION = {
    "session_id": "s1",
    "messages": [
        {"role": "user", "name": "Alice", "content": "I moved to Lyon last year."},
        {"role": "user", "name": "Alice", "content": "My sister Claire works as a nurse in Paris."},
        {"role": "user", "name": "Alice", "content": "I am allergic to peanuts."},
    ],
}


def post_messages(bg: BackgroundPath, cube_id: str, auth: dict[str, str], **extra: object) -> dict[str, Any]:
    r = bg.client.post(f"/v1/cubes/{cube_id}/messages", json={**CONVERSATION, **extra}, headers=auth)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    assert body["job_id"] is not None
    return body


def contents(bg: BackgroundPath, cube_id: str) -> list[str]:
    return sorted(m.content for m in bg.memories(cube_id) if m.status == "active")


def test_sigkilled_worker_job_completes_exactly_once_after_restart(background: MakeBackground) -> None:
    bg = background()
    _, auth, cube_id = bg.tenant_and_cube()
    control = bg.client.post("/v1/cubes", json={"name": "control"}, headers=auth).json()["id"]
    bg.relay.start()
    worker = bg.start_worker(pause_types="consolidation.messages")
    job_id = post_messages(bg, cube_id, auth)["job_id"]

    wait_for(lambda: (bg.signals / f"{job_id}.paused").exists(), timeout=90, what="the job to be mid-way")
    bg.kill(worker)  # SIGKILL with the consolidation's writes flushed but not committed
    job = bg.job(job_id)
    assert (job.status, job.attempts) == ("running", 1)
    assert bg.memories(cube_id) == []  # nothing half-applied

    # A new worker with beat: the outbox sweep finds the job running with no runner holding it, and sends
    # it again; nobody calls anything by hand.
    bg.start_worker(beat=True, sweep_outbox_every_s=0.5, job_lost_after_s=1.0)
    job = bg.wait_job(job_id)
    assert job.attempts == 2
    reference = post_messages(bg, control, auth)["job_id"]  # the same batch, never interrupted
    bg.wait_job(reference)
    assert contents(bg, cube_id) == contents(bg, control) != []  # nothing lost, nothing twice


def test_writes_succeed_while_redis_is_down_and_jobs_run_when_it_returns(
    background: MakeBackground, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from workers.redis_server import RedisServer

    redis = RedisServer(tmp_path_factory.mktemp("redis-down")).start()
    try:
        bg = background(redis=redis.url)
        tenant_id, auth, cube_id = bg.tenant_and_cube()
        bg.relay.start()
        bg.start_worker()
        bg.client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "warm"}]}, headers=auth)
        redis.stop()  # (after a first write, so this process's embedder is loaded and the outage is short)

        r = bg.client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [{"content": "direct"}]},
                           headers=auth)
        assert r.status_code == 201, r.text
        job_id = bg.enqueue(tenant_id, cube_id, "test.note", {"content": "from the outbox"})
        wait_for(lambda: bg.relay.failures > 0, timeout=30, what="the relay to hit the broker outage")
        job = bg.job(job_id)
        assert (job.status, job.dispatched_at) == ("queued", None)  # the outbox holds it

        redis.start()  # same socket: relay and worker reconnect by themselves
        bg.wait_job(job_id, timeout=90)
        assert contents(bg, cube_id) == ["direct", "from the outbox", "warm"]
        bg.close()  # before Redis goes away, so the worker's warm shutdown is quick
    finally:
        redis.stop()
