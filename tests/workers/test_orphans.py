"""One ``memos serve`` per home, and nothing left running when it dies (workers/orphans.py), on small
stand-in processes: ``sleep`` plays Redis or a worker, a short Python script plays serve."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from tests.workers.background import wait_for
from workers.orphans import RECORD_NAME, RUN_ENV, HomeInUse, RunRecord, serve_run


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _run_parent(script: str, tmp_path: Path) -> tuple[subprocess.Popen[str], list[int]]:
    """Run ``script`` (which prints pids, one a line, then ``ready``) as a stand-in for serve."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(script)], stdout=subprocess.PIPE, text=True,
                            cwd=Path(__file__).resolve().parents[2], env={**os.environ, "TMP": str(tmp_path)})
    assert proc.stdout is not None
    pids: list[int] = []
    for line in proc.stdout:
        if line.strip() == "ready":
            return proc, pids
        pids.append(int(line))
    raise AssertionError(f"the stand-in exited with {proc.wait()}")


def test_a_child_started_with_die_with_parent_dies_with_it_even_from_a_thread(tmp_path: Path) -> None:
    parent, (main_child, thread_child) = _run_parent("""
        import subprocess, threading, time
        from workers.orphans import die_with_parent

        def start():
            return subprocess.Popen(["sleep", "60"], preexec_fn=die_with_parent())

        print(start().pid, flush=True)
        t = threading.Thread(target=lambda: (print(start().pid, flush=True), time.sleep(60)), daemon=True)
        t.start()
        time.sleep(0.5)
        print("ready", flush=True)
        time.sleep(60)
    """, tmp_path)
    assert not _gone(main_child)
    assert not _gone(thread_child)
    parent.kill()
    parent.wait()
    wait_for(lambda: _gone(main_child) and _gone(thread_child), timeout=10, what="the children to die")


def test_a_second_run_on_the_same_home_is_refused(tmp_path: Path) -> None:
    with serve_run(tmp_path, pgdata=None, watchdog=False) as run:
        assert os.environ[RUN_ENV] == run.run
        with pytest.raises(HomeInUse, match=rf"already running on .* \(pid {os.getpid()}\)"), \
                serve_run(tmp_path, pgdata=None, watchdog=False):
            pass
    assert RUN_ENV not in os.environ
    assert (tmp_path / RECORD_NAME).read_text() == ""  # a clean exit leaves nothing to stop
    with serve_run(tmp_path, pgdata=None, watchdog=False):  # and the home is free again
        pass


def test_a_start_stops_what_a_dead_run_left(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    record = RunRecord(run="deadbeef", pid=dead.pid, started=1.0, pgdata=None)
    (tmp_path / RECORD_NAME).write_text(json.dumps(record.__dict__))
    left = subprocess.Popen(["sleep", "60"], env={**os.environ, RUN_ENV: "deadbeef"})
    other = subprocess.Popen(["sleep", "60"], env={**os.environ, RUN_ENV: "another-run"})
    try:
        with serve_run(tmp_path, pgdata=None, watchdog=False) as run:
            assert run.run != "deadbeef"
            assert _gone(left.pid)  # killed (and reaped, being our child) before the run started
            assert other.poll() is None  # another run's process is not ours to stop
    finally:
        for proc in (left, other):
            proc.kill()
            proc.wait()


def test_the_watchdog_stops_what_a_killed_run_left(tmp_path: Path) -> None:
    # A process of the run without a parent-death signal (the role of the embedded PostgreSQL, which pg_ctl
    # daemonized): only the watchdog stops it.
    parent, (watchdog, grandchild) = _run_parent("""
        import os, pathlib, subprocess, time
        from workers.orphans import serve_run

        with serve_run(pathlib.Path(os.environ["TMP"]) / "home", pgdata=None) as run:
            import psutil
            print(psutil.Process().children()[0].pid, flush=True)
            print(subprocess.Popen(["sleep", "60"], start_new_session=True).pid, flush=True)
            print("ready", flush=True)
            time.sleep(60)
    """, tmp_path)
    parent.kill()
    parent.wait()
    wait_for(lambda: _gone(grandchild) and _gone(watchdog), timeout=15, what="the watchdog to clean up")
    assert (tmp_path / "home" / RECORD_NAME).read_text() == ""
    assert "stopping pid" in (tmp_path / "home" / "logs" / "watchdog.log").read_text()



def test_a_redis_left_on_the_socket_is_shut_down_before_a_new_one_starts(tmp_path: Path) -> None:
    from workers.redis_server import RedisServer, redis_executable

    server = RedisServer(tmp_path / "redis")
    server.directory.mkdir(parents=True)
    stale = subprocess.Popen([redis_executable(), "--port", "0", "--unixsocket", str(server.socket),
                              "--save", "", "--dir", str(server.directory)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(server.ping, timeout=10, what="the stale Redis")
        with server:
            assert stale.wait(timeout=10) == 0  # shut down (SHUTDOWN NOSAVE), not left beside the new one
            assert server.ping()
            assert server.pid != stale.pid
    finally:
        stale.kill()
        stale.wait()
