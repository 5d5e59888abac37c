"""One ``memos serve`` per MEMOS_HOME, and nothing of it left running once it dies, however it dies.

- A run holds an exclusive ``flock`` on ``MEMOS_HOME/serve.json`` for its whole life. The kernel drops the
  lock when the process ends, even by SIGKILL, so a held lock means a live run: a second ``memos serve`` on
  the same home is refused instead of starting a second Redis on the same socket and a second set of workers.
- The file records the run: its pid, its start time (so a recycled pid is not taken for it), a run id that
  every process it starts inherits in the environment (``_MEMOS_SERVE_RUN``), and the embedded PostgreSQL's
  data directory when it uses one. A clean exit empties it.
- Its direct children (Redis, the Celery workers) are started with a parent-death signal
  (:func:`die_with_parent`): the kernel kills them the moment serve dies. Celery's prefork children set their
  own (``celery.concurrency.prefork.process_initializer``), and so does the embedded beat (workers/app.py).
- A watchdog process (``python -m workers.watchdog``, in its own session) waits for serve to exit. If the
  record is still there, serve did not stop its background: the watchdog stops what is left, i.e. the
  embedded PostgreSQL, which ``pg_ctl`` daemonized out of our process tree, and any process still carrying
  the run id (one that lost the race between its fork and its parent-death signal, or that a child started
  without one).
- A start that finds the record of a dead run (its watchdog was killed as well) does the same before it
  starts anything of its own.

Kept light (no SQLAlchemy, no settings): the watchdog imports it.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

RUN_ENV = "_MEMOS_SERVE_RUN"
RECORD_NAME = "serve.json"
# A watchdog stopping a dead run's PostgreSQL holds the lock for a second or two; a start waits that long.
LOCK_WAIT_S = 60.0
_PR_SET_PDEATHSIG = 1
# Never killed by run id: the embedded PostgreSQL inherits it from the run that started it, and is stopped
# with pg_ctl (its own shutdown) only when no live process holds it.
_STOPPED_BY_PG_CTL = frozenset({"postgres", "pg_ctl"})


class HomeInUse(RuntimeError):
    """Another ``memos serve`` runs on this MEMOS_HOME."""


@dataclass(frozen=True)
class RunRecord:
    """What ``MEMOS_HOME/serve.json`` says about the run that holds (or held) the home."""

    run: str
    pid: int
    started: float  # psutil's create_time of the serve process
    pgdata: str | None

    def alive(self) -> bool:
        try:
            proc = psutil.Process(self.pid)
            return abs(proc.create_time() - self.started) < 0.5 and proc.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` giving the child SIGKILL when this process dies (Linux ``PR_SET_PDEATHSIG``).

    The kernel sends it when the *thread* that forked the child ends, not only the process: call ``Popen``
    from a thread that outlives the child (the main thread, or a supervisor thread that stops its child
    before it returns).
    """
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork; the child only calls it

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
        if os.getppid() != parent:  # the parent died between the fork and the prctl: no signal will come
            os._exit(1)

    return preexec


def _read(fd: int) -> RunRecord | None:
    try:
        data = json.loads(os.pread(fd, 1 << 16, 0) or b"null")
        return RunRecord(**data) if data else None
    except (ValueError, TypeError):  # empty, or read halfway through a write
        return None


def _write(fd: int, record: RunRecord | None) -> None:
    os.ftruncate(fd, 0)
    if record is not None:
        os.pwrite(fd, json.dumps(asdict(record)).encode(), 0)
    os.fsync(fd)


def _lock(fd: int, home: Path) -> None:
    """Take the home, or raise ``HomeInUse`` if a live serve holds it. A holder whose run is dead or ended
    (its watchdog cleaning up, or the run itself exiting) is waited for."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        record = _read(fd)
        if record is not None and record.alive():
            raise HomeInUse(f"memos serve is already running on {home} (pid {record.pid}); stop it first, "
                            f"or give this one another MEMOS_HOME")
        if time.monotonic() > deadline:
            raise HomeInUse(f"{home / RECORD_NAME} stayed locked for {LOCK_WAIT_S:.0f} s by a process that is "
                            f"not a running memos serve")
        time.sleep(0.1)


def _carrying(run: str) -> list[psutil.Process]:
    """Processes (but PostgreSQL's) whose environment holds run id ``run``, other than this one."""
    found = []
    for proc in psutil.process_iter(["name"]):
        if proc.pid == os.getpid() or proc.info["name"] in _STOPPED_BY_PG_CTL:
            continue
        with suppress(psutil.Error):  # gone, a zombie, or another user's
            if proc.environ().get(RUN_ENV) == run:
                found.append(proc)
    return found


def reap(record: RunRecord) -> None:
    """Stop what the dead run ``record`` left: every process carrying its run id (SIGKILL, as its
    parent-death signal would have; a job cut off is delivered again, see memos/jobs/runner.py), then the
    embedded PostgreSQL it used, if no live process holds that any more."""
    left = _carrying(record.run)
    for proc in left:
        log.warning("stopping pid %d (%s), left by memos serve pid %d", proc.pid, proc.info["name"], record.pid)
        with suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(left, timeout=5)
    if record.pgdata:
        from memcube.db import stop_embedded_orphan

        try:
            stopped = stop_embedded_orphan(Path(record.pgdata))
        except (subprocess.SubprocessError, OSError):
            # Not fatal: a start attaches to a server that is still up, and stops it when it exits itself.
            log.warning("could not stop the embedded PostgreSQL in %s", record.pgdata, exc_info=True)
            return
        if stopped:
            log.warning("stopped the embedded PostgreSQL in %s, left by memos serve pid %d", record.pgdata,
                        record.pid)


def start_watchdog(home: Path, record: RunRecord) -> subprocess.Popen[bytes]:
    """``python -m workers.watchdog`` for this run, in its own session (a Ctrl-C or a kill of serve's process
    group does not reach it); it logs to ``MEMOS_HOME/logs/watchdog.log``."""
    log_path = home / "logs" / "watchdog.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "workers.watchdog", str(home), record.run, str(record.pid)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


@contextmanager
def serve_run(home: Path, *, pgdata: Path | None, watchdog: bool = True) -> Iterator[RunRecord]:
    """Hold ``home`` for one ``memos serve`` run: refuse if another runs there, stop what a dead one left,
    record this one, start its watchdog; on a clean exit, empty the record and stop the watchdog."""
    home = home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    # Never deleted, only emptied: a waiter holding a deleted file open would lock a file nobody else sees.
    fd = os.open(home / RECORD_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        _lock(fd, home)
        previous = _read(fd)
        if previous is not None:
            log.warning("memos serve pid %d did not stop cleanly; stopping what it left", previous.pid)
            reap(previous)
        record = RunRecord(run=uuid.uuid4().hex, pid=os.getpid(), started=psutil.Process().create_time(),
                           pgdata=str(pgdata.expanduser().resolve()) if pgdata is not None else None)
        _write(fd, record)
        os.environ[RUN_ENV] = record.run  # inherited by everything this run starts
        guard = start_watchdog(home, record) if watchdog else None
        try:
            yield record
        finally:
            _write(fd, None)  # a clean exit: nothing for the watchdog, or the next start, to stop
            os.environ.pop(RUN_ENV, None)
            if guard is not None:
                guard.terminate()
                guard.wait(10)
    finally:
        os.close(fd)  # releases the lock


def watch(home: Path, run: str, pid: int) -> None:
    """The watchdog's work: wait until serve ``pid`` exits; if run ``run`` is still recorded (serve did not
    get to stop its background), stop what it left and empty the record."""
    _wait_for_exit(pid)
    fd = os.open(home / RECORD_NAME, os.O_RDWR | os.O_CLOEXEC)
    try:
        while True:
            record = _read(fd)
            if record is None or record.run != run:
                return  # a clean exit, or a new start that has already cleaned up
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.1)  # a new start holds it, and reaps the same record
        if (record := _read(fd)) is None or record.run != run:
            return
        log.warning("memos serve pid %d exited without stopping its background; stopping what it left", pid)
        reap(record)
        _write(fd, None)
    finally:
        os.close(fd)


def _wait_for_exit(pid: int) -> None:
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):  # no pidfd (old kernel): poll
        while psutil.pid_exists(pid):
            time.sleep(0.5)
        return
    try:
        import select

        select.select([pidfd], [], [])
    finally:
        os.close(pidfd)
