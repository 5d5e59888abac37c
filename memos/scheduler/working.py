"""Per-session working memory: the memories an active session has been retrieving, kept hot for its next query.

An agent's queries within a session often come back to what it has just asked about. ``/context`` with a
``working_session`` remembers, per (cube, session), the memories its full searches returned and the query
vectors that filled it. A later query of the session whose vector is within ``MEMOS_WORKING_REUSE_SIMILARITY``
of one of those is answered from the working set: its memories, what they predict (each one's session
neighbours and linked memories) and the cube's memories changed since it was filled, re-read from PostgreSQL
in one statement under the request's filters (a memory deleted, quarantined or archived meanwhile is gone; one
added or changed meanwhile is a candidate) and ranked by cosine similarity to the query, without the candidate
search over the whole cube. Any other query searches the whole cube, and its results join
the working set (the least recently retrieved leave first beyond ``MEMOS_WORKING_MAX_ITEMS``).

Sets live in Redis when the service has one (``MEMOS_REDIS_URL``; ``memos serve`` always does), so every web
process of a deployment shares them, else in this process; either way they expire after
``MEMOS_WORKING_TTL_S`` without use. Each set keeps a log of its moves (memories in and out, and why), which
``GET /v1/cubes/{cube_id}/working/{session}`` shows. What reuse costs in recall against a full search, and
what it saves, is measured by ``bench/working.py`` (docs/scheduler.md).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Memory
from memcube.repository import working as working_repo
from memcube.repository.memories import MemoryFilter
from memos.config import Settings

log = logging.getLogger(__name__)
KEY_PREFIX = "memos:working:"
MAX_QUERIES = 8  # query vectors kept per set: the topics the session has asked about lately
MAX_EVENTS = 20  # moves kept in a set's log
# Reused only while few of the cube's memories changed since the fill: past this many, a full search.
MAX_CHANGED = 200
# Versions carry the writer's clock at the start of its batch (as fills carry this process's), and its
# transaction commits later: what changed is looked for from this long before the fill, so a write that was in
# flight then (or a writer's clock a little behind) is not missed.
COMMIT_LAG = timedelta(seconds=60)


class WorkingStore(Protocol):
    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str, ttl_s: float) -> None: ...
    def delete(self, key: str) -> bool: ...
    def count(self, prefix: str) -> int: ...


MAX_COUNTED = 100_000  # sessions counted at most (a status figure, not a scan of everything)


class LocalStore:
    """Sets in this process (a service without Redis): bounded, expiring like Redis keys."""

    def __init__(self, max_sets: int = 10_000) -> None:
        self._items: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self.max_sets = max_sets

    def get(self, key: str) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[1]

    def set(self, key: str, value: str, ttl_s: float) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl_s, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_sets:
                self._items.popitem(last=False)

    def delete(self, key: str) -> bool:
        with self._lock:
            return self._items.pop(key, None) is not None

    def count(self, prefix: str) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for k, (expires, _) in self._items.items() if k.startswith(prefix) and expires >= now)


class RedisStore:
    """Sets in Redis, shared by every web process of a deployment."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def get(self, key: str) -> str | None:
        raw = self.client.get(key)
        return raw.decode() if isinstance(raw, bytes) else raw

    def set(self, key: str, value: str, ttl_s: float) -> None:
        self.client.set(key, value, px=max(1, int(ttl_s * 1000)))

    def delete(self, key: str) -> bool:
        return bool(self.client.delete(key))

    def count(self, prefix: str) -> int:
        n = 0
        for _ in self.client.scan_iter(match=prefix + "*", count=1000):
            n += 1
            if n >= MAX_COUNTED:
                break
        return n


def store_for(settings: Settings) -> WorkingStore:
    if settings.redis_url:
        from workers.heartbeat import redis_client

        # A short timeout: the working memory is a cache, and a request waits on it at most this long.
        return RedisStore(redis_client(settings.redis_url, timeout_s=0.5))
    return LocalStore()


@dataclass
class WorkingSet:
    """One session's working memory, as stored (JSON)."""

    shape: str  # the request's filters and options: reused only by a request of the same shape
    filled_at: datetime  # when the last filling search was made (this process's clock, as versions carry theirs)
    ids: list[str] = field(default_factory=list)  # most recently retrieved first
    predicted: list[str] = field(default_factory=list)  # of ids, those that entered as predicted, not retrieved
    queries: list[str] = field(default_factory=list)  # base64 float32 vectors, newest first
    speakers: list[str | None] = field(default_factory=list)  # the speaker each of those named (lower case)
    fills: int = 0
    reuses: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # newest first

    def vectors(self) -> np.ndarray:
        return np.stack([np.frombuffer(base64.b64decode(q), dtype=np.float32) for q in self.queries])

    def dumps(self) -> str:
        out = {**self.__dict__, "filled_at": self.filled_at.isoformat()}
        return json.dumps(out, separators=(",", ":"))

    @classmethod
    def loads(cls, raw: str) -> WorkingSet:
        data = json.loads(raw)
        data["filled_at"] = datetime.fromisoformat(data["filled_at"])
        return cls(**data)

    def log(self, at: datetime, reason: str, entered: list[str], left: list[str]) -> None:
        if not entered and not left:
            return
        self.events.insert(0, {"at": at.isoformat(), "reason": reason, "entered": entered, "left": left})
        del self.events[MAX_EVENTS:]


def shape_of(req: schemas.SearchRequest) -> str:
    """What, besides the query, decides a request's results: two requests share a working set only if equal."""
    fields = req.model_dump(mode="json", exclude={"query", "top_k"})
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def key_for(tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str) -> str:
    digest = hashlib.sha256(session_name.encode()).hexdigest()[:32]  # any string, a bounded key
    return f"{KEY_PREFIX}{tenant_id}:{cube_id}:{digest}"


@dataclass
class Reuse:
    """What the working set answered (``memories`` best first with their similarity; None when the whole cube
    must be searched), how close the query was to those that filled it, and the set's size."""

    memories: list[tuple[Memory, float]] | None
    similarity: float = 0.0
    items: int = 0


class WorkingMemory:
    """Reads sets on the request path; writes them (fills, reuse counts, moves) on a daemon thread, so a
    request pays for neither the prediction's queries nor the write (``inline``: in the caller's thread, for
    tests whose sessions share one connection with the request). A dropped update (queue full) costs a set's
    freshness, never a request."""

    def __init__(self, store: WorkingStore, settings: Settings, *, inline: bool = False,
                 max_pending: int = 1024) -> None:
        self.store = store
        self.inline = inline
        self.ttl_s = settings.working_ttl_s
        self.max_items = settings.working_max_items
        self.reuse_similarity = settings.working_reuse_similarity
        self.speaker_boost = settings.search_speaker_boost  # as the hybrid search ranks a named speaker's memories
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue(max_pending)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None and not self.inline:
            self._thread = threading.Thread(target=self._run, name="memos-working-memory", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def get(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str) -> WorkingSet | None:
        raw = self.store.get(key_for(tenant_id, cube_id, session_name))
        return WorkingSet.loads(raw) if raw else None

    def forget(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str) -> bool:
        return self.store.delete(key_for(tenant_id, cube_id, session_name))

    def sessions(self, tenant_id: uuid.UUID | None) -> int | None:
        """Working memories alive now: the tenant's, or every tenant's (None when the store does not answer)."""
        try:
            return self.store.count(KEY_PREFIX + (f"{tenant_id}:" if tenant_id is not None else ""))
        except Exception:
            log.warning("working memory unavailable", exc_info=True)
            return None

    def recall(self, session: Session, tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str,
               req: schemas.SearchRequest, flt: MemoryFilter, vector: np.ndarray, speaker: str | None) -> Reuse:
        """The working set's answer to the query, unless the whole cube must be searched: no set, a request of
        another shape (or with ``expand``), a query unlike those that filled it (its vector, of the query less the
        cube's speakers' names, and the speaker it names), or too much of the cube changed since. A store that
        does not answer (Redis down) is no working memory: the request searches the whole cube."""
        try:
            ws = self.get(tenant_id, cube_id, session_name)
        except Exception:  # a cache: the request goes on without it
            log.warning("working memory unavailable", exc_info=True)
            return Reuse(None)
        if ws is None or ws.shape != shape_of(req) or not ws.queries:
            return Reuse(None)
        sims = ws.vectors() @ vector.astype(np.float32)
        named = (speaker or "").lower() or None
        whos = [*ws.speakers, *[None] * (len(ws.queries) - len(ws.speakers))]
        same = [float(x) for x, who in zip(sims, whos, strict=False) if who == named]
        similarity = max(same, default=0.0)
        if similarity < self.reuse_similarity or req.expand:
            return Reuse(None, similarity, len(ws.ids))
        since = ws.filled_at - COMMIT_LAG
        if working_repo.changed_count(session, cube_id, since, cap=MAX_CHANGED + 1) > MAX_CHANGED:
            return Reuse(None, similarity, len(ws.ids))
        ranked = working_repo.rank_among(session, vector.tolist(), flt, ids=[uuid.UUID(i) for i in ws.ids],
                                         changed_since=since, limit=req.top_k * (2 if named else 1))
        if named:  # as the hybrid search does: the named speaker's own memories first
            boost = {m.id: self.speaker_boost for m, _, _ in ranked if (m.role or "").lower() == named}
            ranked = sorted(ranked, key=lambda r: -(r[1] + boost.get(r[0].id, 0.0)))
        ranked = ranked[: req.top_k]
        ids = [str(m.id) for m, _, _ in ranked]
        predicted = [str(m.id) for m, _, p in ranked if p]
        self._later(lambda: self._reused(tenant_id, cube_id, session_name, ids, predicted, datetime.now(UTC)))
        return Reuse(memories=[(m, score) for m, score, _ in ranked], similarity=similarity,
                     items=len(set(ws.ids) | set(ids)))

    def fill(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str, req: schemas.SearchRequest,
             vector: np.ndarray, speaker: str | None, retrieved: list[uuid.UUID], *, at: datetime) -> None:
        """After a full search (made at ``at``): its results enter the set (first) and the query joins the set's
        topics. Off the request path; what they predict (session neighbours, links) is looked up on reuse."""
        shape = shape_of(req)
        vec = vector.astype(np.float32).copy()
        self._later(lambda: self._filled(tenant_id, cube_id, session_name, shape, vec, speaker, list(retrieved), at))

    def _later(self, update: Callable[[], None]) -> None:
        if self.inline:
            self._apply(update)
            return
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(update)

    def _run(self) -> None:
        while (update := self._queue.get()) is not None:
            self._apply(update)

    @staticmethod
    def _apply(update: Callable[[], None]) -> None:
        try:
            update()
        except Exception:  # a set is a cache: log and go on
            log.exception("working memory update failed")

    def _reused(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str, ids: list[str],
                predicted: list[str], now: datetime) -> None:
        ws = self.get(tenant_id, cube_id, session_name)
        if ws is None:
            return
        ws.reuses += 1
        entered = [i for i in ids if i not in set(ws.ids)]  # predicted, or changed since the fill: now in the set
        ws.ids = list(dict.fromkeys([*ids, *ws.ids]))
        ws.predicted = [p for p in dict.fromkeys([*predicted, *ws.predicted]) if p not in set(ids) - set(predicted)]
        ws.log(now, "reuse", entered, self._trim(ws))
        self._save(tenant_id, cube_id, session_name, ws)

    def _filled(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str, shape: str,
                vector: np.ndarray, speaker: str | None, retrieved: list[uuid.UUID], at: datetime) -> None:
        ws = self.get(tenant_id, cube_id, session_name)
        if ws is None or ws.shape != shape:
            ws = WorkingSet(shape=shape, filled_at=at)
        before = set(ws.ids)
        got = [str(i) for i in retrieved]
        ws.ids = list(dict.fromkeys([*got, *ws.ids]))
        ws.predicted = [p for p in ws.predicted if p not in set(got)]  # retrieved now, not only predicted
        ws.queries = [base64.b64encode(vector.tobytes()).decode(), *ws.queries][:MAX_QUERIES]
        ws.speakers = [(speaker or "").lower() or None, *ws.speakers][:MAX_QUERIES]
        ws.filled_at = at
        ws.fills += 1
        left = self._trim(ws)
        ws.log(at, "search", [i for i in ws.ids if i not in before], left)
        self._save(tenant_id, cube_id, session_name, ws)

    def _trim(self, ws: WorkingSet) -> list[str]:
        left = ws.ids[self.max_items:]
        ws.ids = ws.ids[: self.max_items]
        kept = set(ws.ids)
        ws.predicted = [p for p in ws.predicted if p in kept]
        return left

    def _save(self, tenant_id: uuid.UUID, cube_id: uuid.UUID, session_name: str, ws: WorkingSet) -> None:
        self.store.set(key_for(tenant_id, cube_id, session_name), ws.dumps(), self.ttl_s)
