"""Admission control: a bounded number of requests in flight per process, a short bounded queue, then 503.

Without it a burst of clients past the database pool made every request wait on the pool (up to its timeout)
while holding a worker thread, and the service answered nobody. Here, at most ``limit`` requests run at once
(by default the pool size, so an admitted request never waits for a connection); up to ``queue`` more wait
on the event loop, holding no thread and no connection, for at most ``timeout_s``; everything beyond is
answered at once with ``503 {"error": "overloaded", ...}`` and ``Retry-After``. Health and metrics bypass it.

A pure ASGI middleware (not ``BaseHTTPMiddleware``): a waiting request is a suspended coroutine, and the
response streams through untouched. The slot is held until the inner app returns, which is after the
response is sent and the request's session is closed, so the connection is back in the pool first.
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_json
from api.metrics import ADMITTED, IN_FLIGHT, QUEUED, REJECTED, note_route

# Answered whatever the load: orchestrators and scrapers must see a busy process as alive.
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/livez", "/metrics"})
RETRY_AFTER_S = 1


class Admission:
    """At most ``limit`` holders; up to ``queue`` waiters, served first come first served, each for at most
    ``timeout_s``. Used from one event loop (no locks: nothing here awaits between a check and its update)."""

    def __init__(self, limit: int, *, queue: int, timeout_s: float) -> None:
        if limit < 1 or queue < 0 or timeout_s <= 0:
            raise ValueError("admission needs limit >= 1, queue >= 0 and timeout_s > 0")
        self.limit = limit
        self.queue = queue
        self.timeout_s = timeout_s
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> str | None:
        """Take a slot; ``None`` when taken, else why not (``"queue_full"`` or ``"timeout"``)."""
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return None
        if len(self._waiters) >= self.queue:
            return "queue_full"
        slot: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(slot)
        QUEUED.inc()
        try:
            async with asyncio.timeout(self.timeout_s):
                await slot
            return None
        except TimeoutError:
            if slot.done() and not slot.cancelled():
                return None  # handed a slot just as the wait ran out: it is ours
            return "timeout"
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self.release()  # handed a slot, then cancelled: pass it on
            raise
        finally:
            QUEUED.dec()
            if slot in self._waiters:
                self._waiters.remove(slot)

    def release(self) -> None:
        """Hand the slot to the first waiter still waiting, else free it."""
        while self._waiters:
            slot = self._waiters.popleft()
            if not slot.done():
                slot.set_result(None)  # in_flight unchanged: the slot changes hands
                return
        self.in_flight -= 1


class AdmissionMiddleware:
    """Admits HTTP requests through an ``Admission``; paths in ``exempt`` always pass."""

    def __init__(self, app: ASGIApp, *, limit: int, queue: int, timeout_s: float,
                 exempt: frozenset[str] = EXEMPT_PATHS) -> None:
        self.app = app
        self.admission = Admission(limit, queue=queue, timeout_s=timeout_s)
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        refused = await self.admission.acquire()
        if refused is not None:
            REJECTED.labels(refused).inc()
            note_route(scope)  # the request metrics name the route that was refused, not "unmatched"
            detail = (f"the server is at its limit of {self.admission.limit} requests in flight"
                      f" and {self.admission.queue} waiting; retry after {RETRY_AFTER_S} s")
            response = error_json(503, "overloaded", detail, {"Retry-After": str(RETRY_AFTER_S)})
            await response(scope, receive, send)
            return
        ADMITTED.inc()
        IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            IN_FLIGHT.dec()
            self.admission.release()
