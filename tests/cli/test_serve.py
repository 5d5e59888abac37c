"""``memos serve`` on the embedded default: serves under MEMOS_HOME, a SIGTERM stops it and its PostgreSQL, and a
SIGKILL leaves nothing running once its watchdog or the next start has cleaned up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import psutil
import pytest

from memos.client import MemOSClient
from tests.cli.conftest import MEMOS
from tests.sdk.live import free_port, wait_healthy
from tests.workers.background import wait_for


@pytest.mark.slow
def test_serve_embedded_default_and_clean_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env.update({"MEMOS_HOME": str(home), "MEMOS_PORT": str(port), "MEMOS_RUN_WORKERS": "false",
                "MEMOS_ADMIN_KEY": "mk_serve_test", "HF_HUB_OFFLINE": "1"})
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(MEMOS), "serve", "--host", "127.0.0.1"], env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        assert f"MemOS serving on {url}" in log.read_text()
        with MemOSClient(url, api_key="mk_serve_test") as admin:
            assert admin.create_tenant("served").name == "served"
        assert (home / "pgdata" / "PG_VERSION").exists()  # the embedded database lives under MEMOS_HOME
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    # atexit ran: the process let go of the embedded server, which stopped with it.
    assert json.loads((home / "pgdata" / ".handle_pids.json").read_text()) == []
    assert not (home / "pgdata" / "postmaster.pid").exists()


def _serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(MEMOS), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)


def _postmaster(home: Path) -> psutil.Process:
    return psutil.Process(int((home / "pgdata" / "postmaster.pid").read_text().split("\n", 1)[0]))


def _gone(procs: list[psutil.Process]) -> bool:
    def gone(p: psutil.Process) -> bool:
        try:
            return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return all(gone(p) for p in procs)


@pytest.mark.slow
def test_a_killed_serve_leaves_nothing_running_and_the_next_start_is_clean(tmp_path: Path) -> None:
    """SIGKILL, as an OOM killer or a supervisor's timeout would: Redis and the workers (and their children)
    die with serve, its watchdog stops the embedded PostgreSQL; with the watchdog killed as well, the next
    start stops it. A second serve on a home in use is refused."""
    home = tmp_path / "home"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMOS_")}
    env.update({"MEMOS_HOME": str(home), "MEMOS_PORT": str(port), "MEMOS_ADMIN_KEY": "mk_serve_test",
                "MEMOS_WORKER_WARM_UP": "false", "HF_HUB_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = _serve(env, log)
    try:
        wait_healthy(url, proc, log)
        with MemOSClient(url, api_key="mk_serve_test") as admin:
            admin.create_tenant("kept")
        first = [*psutil.Process(proc.pid).children(recursive=True), _postmaster(home)]
        names = sorted(p.name() for p in first)
        assert sum("redis" in n for n in names) == 1, names

        again = subprocess.run([str(MEMOS), "serve"], env=env, capture_output=True, text=True, timeout=60,
                               check=False)
        assert again.returncode == 1
        assert f"already running on {home} (pid {proc.pid})" in again.stderr

        proc.kill()
        proc.wait()
        wait_for(lambda: _gone(first), timeout=30, what="the killed run's processes to stop")

        proc = _serve(env, log)
        wait_healthy(url, proc, log)
        with MemOSClient(url, api_key="mk_serve_test") as admin:
            assert [t.name for t in admin.list_tenants()] == ["kept"]
        children = psutil.Process(proc.pid).children(recursive=True)
        cmdlines = [" ".join(c.cmdline()) for c in children]
        assert sum("redis-server" in c for c in cmdlines) == 1, cmdlines
        workers = [c for c in children if c.ppid() == proc.pid and "celery" in " ".join(c.cmdline())]
        assert len(workers) == 2, cmdlines  # the main and the light worker, once
        watchdog = next(c for c in children if "workers.watchdog" in " ".join(c.cmdline()))

        # The watchdog dies too: what the parent-death signal does not reach waits for the next start.
        second = [*children, _postmaster(home)]
        watchdog.kill()
        proc.kill()
        proc.wait()
        proc = _serve(env, log)
        wait_healthy(url, proc, log)
        assert _gone(second)
        assert "did not stop cleanly; stopping what it left" in log.read_text()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
    assert (home / "serve.json").read_text() == ""
    assert not (home / "pgdata" / "postmaster.pid").exists()
