"""Access statistics for search hits, buffered in memory and written in batches off the request path.

The scheduler reads ``access_count`` / ``last_accessed_at``; losing a few seconds of counts in a crash is
acceptable, a write per hit in every search is not. The counts go to their own narrow table (``memory_access``,
an upsert), never to the wide ``memories`` rows. The same flush restores memories the archive sweep had moved
out when a search finds them again (``memos.jobs.sweeps.restore_used``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, tenant_session
from memcube.repository import co_use
from memcube.repository import memories as repo
from memos.jobs.sweeps import restore_used

log = logging.getLogger(__name__)


class AccessRecorder:
    """Collects hit ids; a daemon thread flushes them every ``interval_s`` (or when ``flush()`` is called)."""

    def __init__(self, sessions: sessionmaker[Session], *, interval_s: float = 2.0) -> None:
        self._sessions = sessions
        self._interval = interval_s
        self._pending: Counter[uuid.UUID] = Counter()
        # (tenant, cube, sorted ids) of the sets /context carried, counted (memos.scheduler.transform)
        self._sets: Counter[tuple[uuid.UUID, uuid.UUID, tuple[uuid.UUID, ...]]] = Counter()
        self._last_seen: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="memos-access-flush", daemon=True)
            self._thread.start()

    def record(self, ids: Iterable[uuid.UUID]) -> None:
        with self._lock:
            self._pending.update(ids)
            self._last_seen = datetime.now(UTC)

    def record_set(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, ids: Iterable[uuid.UUID]) -> None:
        """A set of memories used together (a context's top memories); sets of one are not counted."""
        key = tuple(sorted(set(ids)))
        if len(key) < 2:
            return
        with self._lock:
            self._sets[(tenant_id, cube_id, key)] += 1
            self._last_seen = datetime.now(UTC)

    def flush(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, Counter()
            sets, self._sets = self._sets, Counter()
            at = self._last_seen or datetime.now(UTC)
        if not pending and not sets:
            return 0
        try:
            with tenant_session(self._sessions, SYSTEM) as session:
                repo.add_access_counts(session, dict(pending), at)
                restore_used(session, list(pending))  # archived memories found again go back to long-term
                co_use.add_uses(session, [co_use.CoUse(t, c, signature(ids), ids, n)
                                          for (t, c, ids), n in sets.items()], at)
        except Exception:  # the database may be briefly away; keep the counts for the next flush
            log.exception("could not write access statistics")
            with self._lock:
                self._pending.update(pending)
                self._sets.update(sets)
            return 0
        return len(pending)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()


def signature(ids: tuple[uuid.UUID, ...]) -> str:
    """A set's name: the sha1 of its sorted ids."""
    return hashlib.sha1(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()
