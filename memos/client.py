"""The Python SDK: ``MemOSClient`` (sync) and ``AsyncMemOSClient`` (async) for the MemOS REST API.

Every API method is written once, in ``memos.client_api``, as a builder of a transport-free call; both
clients inherit them and differ only in the transport loop (``_send``), as httpx's Client/AsyncClient do.

This module imports only httpx, pydantic, the standard library and ``memcube.schemas``, so an agent can
install the SDK without the server's dependencies (torch, SQLAlchemy...).

    with MemOSClient("http://127.0.0.1:8000", api_key="mk_...") as client:
        cube = client.create_cube("notes")
        client.add_memories(cube.id, ["Alice likes tea"])
        for hit in client.search(cube.id, "what does Alice drink?"):
            print(hit.score, hit.memory.content)
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx

from memcube.schemas import Memory
from memos.client_api import DEFAULT_TIMEOUT, IdLike, _BaseClient, _Call, endpoint
from memos.client_errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    ConflictError,
    MemOSClientError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ValidationError,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncMemOSClient",
    "AuthenticationError",
    "ConflictError",
    "MemOSClient",
    "MemOSClientError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServerError",
    "ValidationError",
]

T = TypeVar("T")


# ---------------------------------------------------------------- the two transports
class MemOSClient(_BaseClient):
    """Synchronous client. ``base_url`` and ``api_key`` default to ``MEMOS_URL`` and ``MEMOS_API_KEY``.

    Connection failures are retried ``max_retries`` times with exponential backoff (see ``_retry_delay``);
    ``transport`` takes any httpx transport (e.g. ``httpx.MockTransport`` in tests).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, max_retries=max_retries, backoff=backoff,
                         headers=headers)
        self._http = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout,
                                  transport=transport)

    def _bind(self, ep: endpoint[Any, Any]) -> Callable[..., Any]:
        @functools.wraps(ep.build)
        def method(*args: Any, **kwargs: Any) -> Any:
            return self._send(ep.build(self, *args, **kwargs))

        method.__signature__ = ep.signature  # type: ignore[attr-defined]
        return method

    def _send(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError as exc:
                delay = self._retry_delay(call, exc, attempt)
                if delay is None:
                    raise self._connection_error(call, exc) from exc
                time.sleep(delay)
                attempt += 1
                continue
            delay = self._overloaded_delay(response, attempt)
            if delay is not None:
                time.sleep(delay)
                attempt += 1
                continue
            return self._result(call, response)

    def iter_memories(
        self, cube_id: IdLike, *, page_size: int = 100, status: str | None = None, kind: str | None = None,
        tag: str | None = None,
    ) -> Iterator[Memory]:
        """Every memory of a cube, page by page (follows ``next_cursor``)."""
        cursor: str | None = None
        while True:
            page = self.list_memories(cube_id, limit=page_size, cursor=cursor, status=status, kind=kind, tag=tag)
            yield from page.memories
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MemOSClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncMemOSClient(_BaseClient):
    """Asynchronous client: the same methods as ``MemOSClient``, as coroutines (``await client.search(...)``)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, max_retries=max_retries, backoff=backoff,
                         headers=headers)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self.headers, timeout=timeout,
                                       transport=transport)

    def _bind(self, ep: endpoint[Any, Any]) -> Callable[..., Any]:
        @functools.wraps(ep.build)
        async def method(*args: Any, **kwargs: Any) -> Any:
            return await self._send(ep.build(self, *args, **kwargs))

        method.__signature__ = ep.signature  # type: ignore[attr-defined]
        return method

    async def _send(self, call: _Call[T]) -> T:
        attempt = 0
        while True:
            try:
                response = await self._http.request(call.method, call.path, **self._request_kwargs(call))
            except httpx.TransportError as exc:
                delay = self._retry_delay(call, exc, attempt)
                if delay is None:
                    raise self._connection_error(call, exc) from exc
                await asyncio.sleep(delay)
                attempt += 1
                continue
            delay = self._overloaded_delay(response, attempt)
            if delay is not None:
                await asyncio.sleep(delay)
                attempt += 1
                continue
            return self._result(call, response)

    async def iter_memories(
        self, cube_id: IdLike, *, page_size: int = 100, status: str | None = None, kind: str | None = None,
        tag: str | None = None,
    ) -> AsyncIterator[Memory]:
        """Every memory of a cube, page by page (follows ``next_cursor``): ``async for m in ...``."""
        cursor: str | None = None
        while True:
            page = await self.list_memories(cube_id, limit=page_size, cursor=cursor, status=status, kind=kind,
                                            tag=tag)
            for memory in page.memories:
                yield memory
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncMemOSClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()
