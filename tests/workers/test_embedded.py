"""``memos serve`` with nothing configured runs the background path for real (its own Redis, a Celery
worker with beat, the relay) and stops all of it on SIGTERM. Also: the same message batch posted twice
with one idempotency key is consolidated once; with ``MEMOS_REDIS_URL`` set, serve uses that Redis (over
TCP) and starts none of its own."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.sdk.live import free_port, wait_healthy
from tests.workers.background import wait_for

MEMOS = Path(sys.executable).parent / "memos"
ADMIN_KEY = "mk_embedded_test"
BATCH = {
    "session_id": "s1",
    "messages": [
        {"role": "user", "name": "Alice", "content": "I moved to Lyon last year."},
        {"role": "user", "name": "Alice", "content": "My sister Claire works as a nurse in Paris."},
    ],
}


def _json(r: httpx.Response, status: int) -> Any:
    assert r.status_code == status, r.text
    return r.json()


def _tenant_and_cube(http: httpx.Client) -> tuple[dict[str, str], str]:
    """A tenant (through the admin key), its key's auth header and a cube named "notes"."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    tenant = _json(http.post("/v1/tenants", json={"name": "acme"}, headers=admin), 201)["id"]
    key = _json(http.post(f"/v1/tenants/{tenant}/keys", json={"name": "k"}, headers=admin), 201)["key"]
    auth = {"Authorization": f"Bearer {key}"}
    return auth, _json(http.post("/v1/cubes", json={"name": "notes"}, headers=auth), 201)["id"]


@pytest.mark.slow
def test_serve_runs_jobs_in_its_own_worker_and_stops_everything(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}  # nothing configured...
    env.update({"MEMOS_HOME": str(home), "MEMOS_PORT": str(port), "MEMOS_ADMIN_KEY": ADMIN_KEY,
                "HF_HUB_OFFLINE": "1"})  # ...but where, which port, and a known admin key
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MEMOS), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    children: list[psutil.Process] = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        children = psutil.Process(proc.pid).children(recursive=True)
        match = re.search(r"background: broker (\S+), worker pid (\d+)", log.read_text())
        assert match, log.read_text()
        assert match.group(1).startswith("redis+socket://")  # its own Redis, not the machine's
        assert int(match.group(2)) in {c.pid for c in children}

        with httpx.Client(base_url=url, timeout=30) as http:
            auth, cube = _tenant_and_cube(http)
            control = _json(http.post("/v1/cubes", json={"name": "control"}, headers=auth), 201)["id"]

            first = _json(http.post(f"/v1/cubes/{cube}/messages", json={**BATCH, "idempotency_key": "b1"},
                                    headers=auth), 202)
            again = _json(http.post(f"/v1/cubes/{cube}/messages", json={**BATCH, "idempotency_key": "b1"},
                                    headers=auth), 202)
            assert (again["job_id"], again["message_ids"]) == (first["job_id"], first["message_ids"])
            reference = _json(http.post(f"/v1/cubes/{control}/messages", json=BATCH, headers=auth), 202)

            def finished(job_id: str) -> dict[str, Any] | None:
                job: dict[str, Any] = _json(http.get(f"/v1/jobs/{job_id}", headers=auth), 200)
                assert job["status"] != "failed", job
                return job if job["status"] == "succeeded" else None

            for job_id in (first["job_id"], reference["job_id"]):
                job = wait_for(functools.partial(finished, job_id), timeout=90, what="the consolidation job")
                assert job["attempts"] == 1

            def contents(cube_id: str) -> list[str]:
                body = _json(http.get(f"/v1/cubes/{cube_id}/memories", headers=auth), 200)
                return sorted(m["content"] for m in body["memories"])

            assert contents(cube) == contents(control) != []  # consolidated once, like a single post
            jobs = _json(http.get(f"/v1/cubes/{cube}/jobs", headers=auth), 200)["jobs"]
            assert [j["id"] for j in jobs if j["type"] == "consolidation.messages"] == [first["job_id"]]

            def linked() -> bool:  # run by the light-queue worker
                jobs = _json(http.get(f"/v1/cubes/{cube}/jobs", headers=auth), 200)["jobs"]
                links = [j for j in jobs if j["type"] == "linking.link"]
                return bool(links) and all(j["status"] == "succeeded" for j in links)

            wait_for(linked, timeout=60, what="the linking job")
        light = re.search(r"light worker pid (\d+)", log.read_text())
        assert light, log.read_text()
        assert int(light.group(1)) in {c.pid for c in children}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    # Redis, the worker and its beat are gone with it, and so is the embedded PostgreSQL.
    assert children
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    assert json.loads((home / "pgdata" / ".handle_pids.json").read_text()) == []
    assert not (home / "redis" / "redis.sock").exists()


@pytest.mark.slow
def test_serve_uses_the_redis_named_in_memos_redis_url_and_restarts_a_dead_worker(tmp_path: Path) -> None:
    from workers.redis_server import redis_executable

    redis_port, port = free_port(), free_port()
    redis_proc = subprocess.Popen([redis_executable(), "--port", str(redis_port), "--bind", "127.0.0.1",
                                   "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env.update({"MEMOS_HOME": str(home), "MEMOS_PORT": str(port), "MEMOS_ADMIN_KEY": ADMIN_KEY,
                "MEMOS_REDIS_URL": redis_url, "HF_HUB_OFFLINE": "1"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MEMOS), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        match = re.search(r"background: broker (\S+), worker pid (\d+)", log.read_text())
        assert match, log.read_text()
        assert match.group(1) == redis_url
        names = {c.name() for c in psutil.Process(proc.pid).children(recursive=True)}
        assert not any("redis" in n for n in names), names  # no Redis of its own
        assert not (home / "redis").exists()

        with httpx.Client(base_url=url, timeout=30) as http:
            auth, cube = _tenant_and_cube(http)
            job_id = _json(http.post(f"/v1/cubes/{cube}/messages", json=BATCH, headers=auth), 202)["job_id"]

            def finished() -> dict[str, Any] | None:
                job: dict[str, Any] = _json(http.get(f"/v1/jobs/{job_id}", headers=auth), 200)
                assert job["status"] != "failed", job
                return job if job["status"] == "succeeded" else None

            wait_for(finished, timeout=90, what="the consolidation job")
            memories = _json(http.get(f"/v1/cubes/{cube}/memories", headers=auth), 200)["memories"]
            assert any("Lyon" in m["content"] for m in memories)

            # The worker dies (OOM killer, a stray kill): serve starts another and jobs keep running.
            os.kill(int(match.group(2)), signal.SIGKILL)
            wait_for(lambda: "exited with -9; starting it again" in log.read_text(), timeout=30,
                     what="the supervisor to notice")
            body = {"messages": [{"role": "user", "name": "Bob", "content": "I work at Initech."}]}
            job_id = _json(http.post(f"/v1/cubes/{cube}/messages", json=body, headers=auth), 202)["job_id"]
            wait_for(finished, timeout=120, what="a job after the restart")
        # The tasks went through that Redis: the worker's queue binding lives there.
        import redis

        keys = {k.decode() for k in redis.Redis.from_url(redis_url).keys("_kombu.binding.*")}
        assert keys, "no Celery queue binding in the configured Redis"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            redis_proc.terminate()
            redis_proc.wait(10)
