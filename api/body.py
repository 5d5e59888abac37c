"""Request bodies: at most ``MEMOS_MAX_BODY_BYTES``, and no JSON object naming a key twice.

The byte cap is checked on ``Content-Length`` before anything is read, and counted while a body without one
streams in, so nothing over it is buffered or parsed. (FastAPI's own ``max_body_size`` counts the same way,
but on a ``Content-Length`` over the cap it replaces whatever response the app sends with a plain-text 413,
our error envelope included.)

``json.loads`` keeps the last of duplicate keys, so ``{"content": "a", "content": "b"}`` would be read as
"b" by us and as "a" by a proxy or a log reader that keeps the first: the request is refused instead.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large(limit: int) -> str:
    return f"the request body is over {limit} bytes (MEMOS_MAX_BODY_BYTES); send less per request"


class BodyLimitMiddleware:
    """Pure ASGI: a 413 for a declared length over ``max_bytes`` without reading the body; for a streamed
    body, an ``HTTPException(413)`` from ``receive`` once the count passes it (the app's error handlers turn
    it into the usual envelope)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse({"error": "payload_too_large", "detail": too_large(self.max_bytes)},
                                    status_code=413, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, too_large(self.max_bytes))
            return message

        await self.app(scope, counted, send)


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DuplicateKey(key)
        out[key] = value
    return out


def _is_json(content_type: str) -> bool:
    """The media types FastAPI parses as JSON (``application/json``, ``application/*+json``)."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def duplicate_key(body: bytes) -> str | None:
    """The first key an object in ``body`` repeats, if any (``None`` also when the body is not JSON at all:
    FastAPI reports that itself)."""
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except DuplicateKey as exc:
        return exc.key
    except ValueError:
        return None
    return None


async def reject_duplicate_keys(request: Request) -> None:
    """App-wide dependency. FastAPI has read (and parsed) the body before dependencies run, on this same
    ``Request``: ``body()`` returns those bytes again without touching the stream. They are parsed a second
    time, with a hook that sees each object's keys in order (as fast as the first parse: C scans the text)."""
    if request.method not in _BODY_METHODS or not _is_json(request.headers.get("content-type", "")):
        return
    body = await request.body()
    key = duplicate_key(body) if body else None
    if key is not None:
        shown = json.dumps(key[:100])  # ASCII-escaped: a key may hold anything, a lone surrogate included
        raise RequestValidationError([{
            "type": "json_duplicate_key", "loc": ("body",),
            "msg": f"duplicate key {shown} in a JSON object: each key may appear once", "input": None,
        }])
