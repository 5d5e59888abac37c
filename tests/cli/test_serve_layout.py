"""The serving layout: ``MEMOS_WEB_CONCURRENCY`` web processes behind one ``memos serve``, ``MEMOS_WEB_THREADS``
request threads per process, and an admin key made exactly once however many processes start at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio.to_thread
import httpx
import psutil
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memos.cli import limit_threads
from memos.client import MemOSClient
from memos.tenants.service import ADMIN_KEY_FILE, ensure_admin_key, hash_key
from tests.cli.conftest import MEMOS
from tests.sdk.live import free_port, wait_healthy


def test_concurrent_starts_make_one_admin_key(tmp_path: Path) -> None:
    """Processes starting together on a fresh home (uvicorn --workers) agree on one key, and none reads the
    file between its creation and its content."""
    n = 12
    barrier = threading.Barrier(n)

    def start(_: int) -> tuple[str, str | None]:
        barrier.wait()
        return ensure_admin_key(tmp_path, None)

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(start, range(n)))
    new_keys = [key for _, key in results if key is not None]
    assert len(new_keys) == 1
    assert {digest for digest, _ in results} == {hash_key(new_keys[0])}
    assert (tmp_path / ADMIN_KEY_FILE).read_text().strip() == hash_key(new_keys[0])
    assert os.listdir(tmp_path) == [ADMIN_KEY_FILE]  # no temporary file left behind
    assert (tmp_path / ADMIN_KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert ensure_admin_key(tmp_path, None) == (hash_key(new_keys[0]), None)


def _limiter_app() -> FastAPI:
    app = FastAPI()

    @app.get("/tokens")
    async def tokens() -> float:
        return anyio.to_thread.current_default_thread_limiter().total_tokens

    @app.get("/sync")
    def sync() -> str:  # runs in the limiter's threads
        return "ok"

    return app


def test_web_threads_resize_the_request_thread_pool() -> None:
    with TestClient(limit_threads(_limiter_app(), 3)) as client:
        assert client.get("/tokens").json() == 3
        assert client.get("/sync").json() == "ok"


def test_web_threads_zero_keeps_anyio_default() -> None:
    app = _limiter_app()
    assert limit_threads(app, 0) is app
    with TestClient(app) as client:
        assert client.get("/tokens").json() == 40


def _web_processes(serve: psutil.Process) -> list[psutil.Process]:
    return [c for c in serve.children() if "multiprocessing.spawn" in " ".join(c.cmdline())]


@pytest.mark.slow
def test_serve_with_two_web_processes(tmp_path: Path) -> None:
    """Two web processes on one port, on the embedded default with a generated admin key: the key is printed
    once and works; the processes log in as memos_app (no handle of their own on the embedded server, no
    second setup); concurrent requests all succeed; a SIGTERM stops them, the database and the record."""
    home = tmp_path / "home"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env.update({"MEMOS_HOME": str(home), "MEMOS_PORT": str(port), "MEMOS_RUN_WORKERS": "false",
                "MEMOS_WEB_CONCURRENCY": "2", "MEMOS_WEB_THREADS": "8", "HF_HUB_OFFLINE": "1"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MEMOS), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, log)
        text = log.read_text()
        keys = re.findall(r"admin key \(shown once, keep it\): (mk_\S+)", text)
        assert len(keys) == 1, text
        assert "2 web process(es)" in text

        web = _web_processes(psutil.Process(proc.pid))
        assert len(web) == 2
        for child in web:
            assert "memos_app" in child.environ()["MEMOS_DATABASE_URL"]
            assert "MEMOS_ADMIN_DATABASE_URL" not in child.environ()
        holders = (home / "pgdata" / ".handle_pids.json").read_text()
        assert all(str(child.pid) not in holders for child in web)

        with MemOSClient(url, api_key=keys[0]) as admin:
            tenant = admin.create_tenant("layout")
            secret = admin.create_key(tenant.id, "k").key

        def create_cube(i: int) -> int:
            # A new connection each time, so the kernel hands them to both processes' accept loops.
            return httpx.post(f"{url}/v1/cubes", json={"name": f"c{i}"},
                              headers={"Authorization": f"Bearer {secret}"}, timeout=60).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(create_cube, range(40)))
        assert statuses == [201] * 40
        with MemOSClient(url, api_key=secret) as client:
            assert len(client.list_cubes()) == 40
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert (home / "pgdata" / ".handle_pids.json").read_text().strip() == "[]"
    assert not (home / "pgdata" / "postmaster.pid").exists()
    assert (home / "serve.json").read_text() == ""
