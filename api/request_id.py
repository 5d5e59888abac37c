"""Request ids and the access log.

Each request gets an id: the caller's ``X-Request-ID`` when it is a sane token (a proxy's or a client's, so
one id follows a call across services), else a new one. It is sent back in ``X-Request-ID``, set in
``memos.logs.REQUEST_ID`` for every log line written while the request runs, and ends in one access log
line (``memos.access``: method, route template, status, duration). Outermost middleware: requests refused
by admission control or the body cap get an id and a log line too.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.metrics import route_template
from memos.logs import REQUEST_ID

HEADER = "x-request-id"
# What we accept from outside: short, and nothing that could break a log line or a header.
VALID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

access_log = logging.getLogger("memos.access")


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            candidate = value.decode("latin-1")
            if VALID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        token = REQUEST_ID.set(request_id)
        start = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER.encode()]
                message = {**message, "headers": [*headers, (HEADER.encode(), request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access_log.info(
                "%s %s %d", scope["method"], scope["path"], status,
                extra={"method": scope["method"], "route": route_template(scope), "status": status,
                       "duration_ms": round((time.perf_counter() - start) * 1000, 2)},
            )
            REQUEST_ID.reset(token)
