"""Worker heartbeats in Redis, for ``/readyz``: each worker's main process writes ``memos:worker:<hostname>``
(its queues, pid and pool size) every ``MEMOS_WORKER_HEARTBEAT_S`` seconds with a time to live of three
periods, and deletes it on a warm shutdown. A worker that dies (or hangs so its main loop stops) disappears
from the list within three periods.

Chosen over Celery's ``inspect().ping()``: a key read costs the API one Redis round trip with a bounded
timeout, needs no broadcast (which would also reach other deployments' workers on a shared Redis), and says
which queues are served, so ``/readyz`` can tell a missing light-queue worker from a missing main one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from celery import signals

from memos.config import get_settings

PREFIX = "memos:worker:"
MAX_WORKERS_READ = 1000  # /readyz reads at most this many heartbeats
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heartbeat:
    hostname: str
    queues: list[str]
    pid: int
    concurrency: int
    age_s: float


def redis_client(url: str, timeout_s: float) -> Any:
    """A redis-py client for a broker URL (kombu's ``redis+socket://PATH`` is redis-py's ``unix://PATH``)."""
    import redis

    if url.startswith("redis+socket://"):
        url = "unix://" + url.removeprefix("redis+socket://")
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def read_heartbeats(client: Any) -> list[Heartbeat]:
    """The live workers' heartbeats (expired ones are gone by their TTL)."""
    keys = []
    for key in client.scan_iter(match=PREFIX + "*", count=100):
        keys.append(key)
        if len(keys) >= MAX_WORKERS_READ:
            break
    now = time.time()
    beats = []
    for raw in client.mget(keys) if keys else []:
        if raw is None:  # expired between the scan and the read
            continue
        data = json.loads(raw)
        beats.append(Heartbeat(hostname=data["hostname"], queues=list(data["queues"]), pid=int(data["pid"]),
                               concurrency=int(data.get("concurrency", 1)), age_s=round(now - data["at"], 3)))
    return sorted(beats, key=lambda b: b.hostname)


class Beater:
    """The thread of one worker's main process."""

    def __init__(self, url: str, hostname: str, queues: list[str], concurrency: int, every_s: float) -> None:
        self.client = redis_client(url, timeout_s=min(every_s, 5.0))
        self.key = PREFIX + hostname
        self.every_s = every_s
        self.value = {"hostname": hostname, "queues": queues, "pid": os.getpid(), "concurrency": concurrency}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memos-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.client.set(self.key, json.dumps({**self.value, "at": time.time()}),
                                px=int(self.every_s * 3000))
            except Exception as exc:  # a Redis that is away now may be back by the next beat
                log.warning("heartbeat to Redis failed: %s: %s", type(exc).__name__, exc)
            if self._stop.wait(self.every_s):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.every_s + 1)
        with contextlib.suppress(Exception):  # else the key expires by itself
            self.client.delete(self.key)


_beater: Beater | None = None


@signals.worker_ready.connect
def _start(sender: Any = None, **_kwargs: Any) -> None:
    global _beater
    settings = get_settings()
    try:
        queues = sorted(q.name for q in sender.task_consumer.queues)
    except AttributeError:
        queues = sorted(sender.app.amqp.queues.consume_from)
    pool = getattr(sender, "pool", None)
    _beater = Beater(sender.app.conf.broker_url, sender.hostname, queues,
                     concurrency=int(getattr(pool, "limit", None) or 1), every_s=settings.worker_heartbeat_s)
    _beater.start()


@signals.worker_shutdown.connect
def _stop(**_kwargs: Any) -> None:
    if _beater is not None:
        _beater.stop()


def main() -> int:
    """``python -m workers.heartbeat``: exit 0 when a worker on this host has a live heartbeat (a container's
    health check: its worker is up, reaches Redis and its main loop runs), else 1."""
    import socket

    settings = get_settings()
    if not settings.redis_url:
        print("MEMOS_REDIS_URL is not set")
        return 1
    client = redis_client(settings.redis_url, settings.ready_timeout_s)
    here = [b for b in read_heartbeats(client) if b.hostname.endswith("@" + socket.gethostname())]
    print("; ".join(f"{b.hostname}: {', '.join(b.queues)} ({b.age_s:.1f} s ago)" for b in here) or "no heartbeat")
    return 0 if here else 1


if __name__ == "__main__":
    raise SystemExit(main())
