"""Request bodies: one JSON object may not name a key twice.

``json.loads`` keeps the last of duplicate keys, so ``{"content": "a", "content": "b"}`` would be read as
"b" by us and as "a" by a proxy or a log reader that keeps the first: the request is refused instead. The
byte cap on bodies is FastAPI's own ``max_body_size`` (see ``api.app``), counted while the body is read.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError

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
    time, with a hook that sees each object's keys in order; for a 1 MB body that is about 5 ms."""
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
