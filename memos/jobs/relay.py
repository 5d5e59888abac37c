"""The outbox relay: hands queued job rows to the broker and marks them dispatched.

It wakes on PostgreSQL ``NOTIFY memos_jobs`` (sent by ``enqueue`` and delivered at commit), or every
``relay_poll_interval_s`` without one (retry backoffs, missed notifications). Rows are taken with
``FOR UPDATE SKIP LOCKED``, so several relays can run side by side. A send that fails (Redis down) leaves
the row undispatched and the relay tries again later; writes keep succeeding meanwhile. A crash after a
send and before the commit sends the job twice, which the runner makes harmless.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, tenant_session
from memcube.repository import jobs as repo

log = logging.getLogger(__name__)

Send = Callable[[uuid.UUID, str], None]  # (job id, job type): the type picks the broker queue


def dispatch_batch(
    sessions: sessionmaker[Session], send: Send, *, limit: int = 100, older_than: datetime | None = None
) -> tuple[int, bool]:
    """Send up to ``limit`` undispatched jobs. Returns (how many were sent, whether the broker took all)."""
    with tenant_session(sessions, SYSTEM) as session:
        jobs = repo.undispatched(session, older_than=older_than, limit=limit)
        sent: list[uuid.UUID] = []
        ok = True
        for job in jobs:
            try:
                send(job.id, job.type)
            except Exception as exc:  # broker down: keep the rest for later, commit what went out
                log.warning("relay: broker refused job %s (%s); retrying later", job.id, exc)
                ok = False
                break
            sent.append(job.id)
        if sent:
            repo.mark_dispatched(session, sent)
    return len(sent), ok


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as a plain libpq URI (for the LISTEN connection)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Relay:
    """A loop in a thread (``start``/``stop``) or in the foreground (``run``)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        send: Send,
        *,
        database_url: str | None,
        batch_size: int = 100,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.send = send
        self.listen_url = libpq_url(database_url) if database_url else None
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.dispatched = 0
        self.failures = 0  # rounds that failed (broker or database trouble), for status and tests
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: object | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="memos-relay", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # ------------------------------------------------------------------ loop
    def drain(self) -> bool:
        """Dispatch until the outbox is empty or the broker fails; returns whether the broker is fine."""
        while not self._stop.is_set():
            n, ok = dispatch_batch(self.sessions, self.send, limit=self.batch_size)
            self.dispatched += n
            if not ok or n < self.batch_size:
                return ok
        return True

    def run(self) -> None:
        log.info("relay started (poll every %.2fs, LISTEN %s)", self.poll_interval_s, bool(self.listen_url))
        streak = 0
        while not self._stop.is_set():
            try:
                ok = self.drain()
            except Exception:  # the database may be briefly away: log, back off, go on
                ok = False
                log.exception("relay: dispatch failed")
            streak = 0 if ok else streak + 1
            self.failures += 0 if ok else 1
            # Broker or database trouble: back off (up to 10 s) instead of hammering it.
            delay = min(self.poll_interval_s * 2 ** min(streak, 4), 10.0) if streak else self.poll_interval_s
            self._wait(delay)
        self._close_listener()
        log.info("relay stopped (%d jobs dispatched)", self.dispatched)

    # ------------------------------------------------------------------ LISTEN/NOTIFY
    def _listener(self) -> object | None:
        if self.listen_url is None:
            return None
        if self._conn is None:
            import psycopg

            try:
                conn = psycopg.connect(self.listen_url, autocommit=True, connect_timeout=5)
                conn.execute(f"LISTEN {repo.NOTIFY_CHANNEL}")
                self._conn = conn
            except Exception as exc:
                log.warning("relay: cannot LISTEN (%s); polling only", exc)
                return None
        return self._conn

    def _close_listener(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()  # type: ignore[attr-defined]
            except Exception:  # closing a dead connection
                log.debug("relay: closing the listener failed", exc_info=True)

    def _wait(self, timeout: float) -> None:
        """Sleep until a NOTIFY arrives, ``timeout`` passes or ``stop`` is called."""
        conn = self._listener()
        if conn is None:
            self._stop.wait(timeout)
            return
        try:
            # Several notifications may be queued; one wake-up drains the whole outbox anyway.
            for _ in conn.notifies(timeout=timeout, stop_after=1):  # type: ignore[attr-defined]
                break
        except Exception as exc:
            log.warning("relay: listener lost (%s); reconnecting", exc)
            self._close_listener()
            self._stop.wait(min(timeout, 1.0))
