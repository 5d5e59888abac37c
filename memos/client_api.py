"""The API, written once: every method of both SDK clients as a transport-free ``_Call`` builder.

A builder returns a ``_Call``: the HTTP method, path, query, body and how to parse the answer. The
``endpoint`` descriptor binds it to a client: on ``MemOSClient`` it sends the call and returns the parsed
result; on ``AsyncMemOSClient`` it is an ``async`` method doing the same (see ``memos.client``).
"""

from __future__ import annotations

import functools
import inspect
import os
import random
import uuid
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

import httpx
from pydantic import BaseModel, TypeAdapter
from pydantic_core import to_jsonable_python

from memcube.schemas import (
    Activation,
    ActivationAccepted,
    ActivationList,
    Adapter,
    AdapterAccepted,
    AdapterList,
    ApiKeyCreated,
    ContextResponse,
    Cube,
    CubeList,
    GenerateResponse,
    Grant,
    Graph,
    GuardSettings,
    Job,
    JobList,
    Link,
    LinkList,
    Memory,
    MemoryCreate,
    MemoryHistory,
    MemoryList,
    MemoryVersion,
    Message,
    MessagesAccepted,
    ModelInfo,
    ModelList,
    QuarantineList,
    SearchFilters,
    SearchResponse,
    SearchResult,
    Tenant,
    WorkingMemoryView,
)
from memos import __version__
from memos.client_errors import APIConnectionError, APITimeoutError, error_for
from memos.scheduler.schemas import PinState, SchedulerStatus, TierMove

if TYPE_CHECKING:
    from memos.client import AsyncMemOSClient, MemOSClient

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 30.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

IdLike = uuid.UUID | str
T = TypeVar("T")
P = ParamSpec("P")


# ---------------------------------------------------------------- calls and their binding
@dataclass(frozen=True)
class _Call(Generic[T]):
    """One API call, transport-free: what to send and how to read the answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] = field(default_factory=dict)
    json: Any = None
    files: Mapping[str, tuple[str, bytes, str]] | None = None  # a multipart body (with ``data``), not JSON
    data: Mapping[str, str] | None = None

    @property
    def idempotent(self) -> bool:
        return self.method in IDEMPOTENT_METHODS


def _model(cls: type[BaseModel]) -> Callable[[httpx.Response], Any]:
    return lambda r: cls.model_validate_json(r.content)


def _no_content(_response: httpx.Response) -> None:
    return None


def _json(response: httpx.Response) -> dict[str, Any]:
    data: dict[str, Any] = response.json()
    return data


_TENANTS = TypeAdapter(list[Tenant])
_GRANTS = TypeAdapter(list[Grant])
_TIER_MOVES = TypeAdapter(list[TierMove])


class endpoint(Generic[P, T]):  # noqa: N801 - used as a decorator, like ``property``
    """Turns a ``_Call`` builder into a method of both clients (sync result or coroutine)."""

    def __init__(self, build: Callable[Concatenate[Any, P], _Call[T]]) -> None:
        self.build = build
        functools.update_wrapper(self, build)  # type: ignore[arg-type]  # a callable-like descriptor
        # What help() and IDEs show on a client: no ``self``, and the parsed result, not the ``_Call``.
        signature = inspect.signature(build)
        returns = str(signature.return_annotation)
        if returns.startswith("_Call[") and returns.endswith("]"):
            returns = returns[len("_Call[") : -1]
        self.signature = signature.replace(
            parameters=list(signature.parameters.values())[1:], return_annotation=returns
        )

    @overload
    def __get__(self, obj: None, owner: type) -> endpoint[P, T]: ...
    @overload
    def __get__(self, obj: AsyncMemOSClient, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: MemOSClient, owner: type) -> Callable[P, T]: ...
    def __get__(self, obj: _BaseClient | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj._bind(self)


def _id(value: IdLike) -> str:
    return str(uuid.UUID(str(value)))


def _dump(item: BaseModel | Mapping[str, Any] | str) -> Any:
    """Models are sent as set by the caller; dicts go as they are (the server validates); str is content."""
    if isinstance(item, str):
        return {"content": item}
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_unset=True)
    return dict(item)


def _clean(**params: Any) -> dict[str, Any]:
    """Query parameters without the unset ones; enums and datetimes as strings."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        out[key] = getattr(value, "value", value)
    return out


# ---------------------------------------------------------------- the API, written once
class _BaseClient:
    """Configuration, retries and every API method; subclasses provide the transport loop."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        backoff: float = 0.5,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("MEMOS_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("MEMOS_API_KEY")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff = backoff
        self.headers = {"User-Agent": f"memos-python/{__version__}", "Accept": "application/json"}
        if self.api_key:
            self.headers["Authorization"] = f"Bearer {self.api_key}"
        self.headers.update(headers or {})

    # -- transport-independent parts of sending
    def _bind(self, ep: endpoint[Any, Any]) -> Callable[..., Any]:
        """The endpoint as a method of this client (sync or async)."""
        raise NotImplementedError

    def _retry_delay(self, call: _Call[Any], exc: httpx.TransportError, attempt: int) -> float | None:
        """Seconds to wait before retrying, or None to give up.

        A request that never reached the server (connect failure, pool timeout) is safe to resend whatever
        its method; one that may have reached it is resent only when its method is idempotent.
        """
        if attempt >= self.max_retries:
            return None
        never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
        broken = isinstance(exc, httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError)
        if never_sent or (call.idempotent and broken):
            # Exponential backoff with jitter, so many clients don't retry in lockstep.
            return float(self.backoff * (2**attempt) * (0.5 + random.random() / 2))
        return None

    def _overloaded_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before resending a request the server refused for load, or None to give up.

        A ``503 overloaded`` comes from admission control before the request ran (``api.admission``), so any
        method is safe to resend; the server's ``Retry-After`` is a floor for the backoff."""
        if response.status_code != 503 or attempt >= self.max_retries:
            return None
        try:
            overloaded = response.json().get("error") == "overloaded"
        except (ValueError, AttributeError):
            return None
        if not overloaded:
            return None
        try:
            floor = float(response.headers.get("Retry-After", "0"))
        except ValueError:
            floor = 0.0
        return max(floor, float(self.backoff * (2**attempt))) * (0.5 + random.random() / 2)

    def _request_kwargs(self, call: _Call[Any]) -> dict[str, Any]:
        # Dicts from callers may hold datetimes, UUIDs or enums: encode them as pydantic would.
        if call.files is not None:
            return {"params": call.params or None, "files": dict(call.files), "data": dict(call.data or {})}
        body = None if call.json is None else to_jsonable_python(call.json)
        return {"params": call.params or None, "json": body}

    @staticmethod
    def _connection_error(call: _Call[Any], exc: httpx.TransportError) -> APIConnectionError:
        kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        return kind(f"{call.method} {call.path}: {type(exc).__name__}: {exc}")

    @staticmethod
    def _result(call: _Call[T], response: httpx.Response) -> T:
        if response.is_error:
            raise error_for(response)
        return call.parse(response)

    # -- health
    @endpoint
    def health(self) -> _Call[dict[str, Any]]:
        """``GET /healthz``: ``{"status", "database", "version"}`` (a degraded server raises ServerError)."""
        return _Call("GET", "/healthz", _json)

    # -- tenants and keys (admin key)
    @endpoint
    def create_tenant(self, name: str) -> _Call[Tenant]:
        """Create a tenant (admin key)."""
        return _Call("POST", "/v1/tenants", _model(Tenant), json={"name": name})

    @endpoint
    def list_tenants(self) -> _Call[list[Tenant]]:
        """All tenants (admin key)."""
        return _Call("GET", "/v1/tenants", lambda r: _TENANTS.validate_json(r.content))

    @endpoint
    def create_key(self, tenant_id: IdLike, name: str = "default", *,
                   max_trust: float | None = None) -> _Call[ApiKeyCreated]:
        """Create an API key for a tenant (admin key); the secret in ``.key`` is shown only this once.
        ``max_trust``: the highest ``provenance.trust`` its writes may assert (the server's default: 0.9)."""
        body: dict[str, Any] = {"name": name}
        if max_trust is not None:
            body["max_trust"] = max_trust
        return _Call("POST", f"/v1/tenants/{_id(tenant_id)}/keys", _model(ApiKeyCreated), json=body)

    @endpoint
    def revoke_key(self, key_id: IdLike) -> _Call[None]:
        """Revoke a key (the admin, or the tenant that owns it)."""
        return _Call("DELETE", f"/v1/keys/{_id(key_id)}", _no_content)

    # -- cubes and grants
    @endpoint
    def create_cube(self, name: str, description: str | None = None) -> _Call[Cube]:
        """Create a cube owned by the caller's tenant."""
        return _Call("POST", "/v1/cubes", _model(Cube), json=_clean(name=name, description=description))

    @endpoint
    def list_cubes(self) -> _Call[list[Cube]]:
        """The caller's cubes and the cubes shared with it (``access`` says which)."""
        return _Call("GET", "/v1/cubes", lambda r: CubeList.model_validate_json(r.content).cubes)

    @endpoint
    def get_cube(self, cube_id: IdLike) -> _Call[Cube]:
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}", _model(Cube))

    @endpoint
    def delete_cube(self, cube_id: IdLike) -> _Call[None]:
        return _Call("DELETE", f"/v1/cubes/{_id(cube_id)}", _no_content)

    @endpoint
    def grant(self, cube_id: IdLike, tenant_id: IdLike, access: str = "read") -> _Call[Grant]:
        """Share a cube with another tenant: ``access`` is ``"read"`` or ``"write"``."""
        body = {"tenant_id": _id(tenant_id), "access": getattr(access, "value", access)}
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/grants", _model(Grant), json=body)

    @endpoint
    def list_grants(self, cube_id: IdLike) -> _Call[list[Grant]]:
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/grants", lambda r: _GRANTS.validate_json(r.content))

    @endpoint
    def revoke_grant(self, cube_id: IdLike, tenant_id: IdLike) -> _Call[None]:
        return _Call("DELETE", f"/v1/cubes/{_id(cube_id)}/grants/{_id(tenant_id)}", _no_content)

    # -- memories
    @endpoint
    def add_memories(
        self, cube_id: IdLike, memories: Iterable[MemoryCreate | Mapping[str, Any] | str]
    ) -> _Call[list[Memory]]:
        """Write memories (``MemoryCreate``, dicts of its fields, or plain strings); returns them in order."""
        body = {"memories": [_dump(m) for m in memories]}
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/memories",
                     lambda r: MemoryList.model_validate_json(r.content).memories, json=body)

    @endpoint
    def list_memories(
        self,
        cube_id: IdLike,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        tag: str | None = None,
    ) -> _Call[MemoryList]:
        """One page, oldest first; pass ``next_cursor`` back as ``cursor`` (or use ``iter_memories``)."""
        params = _clean(limit=limit, cursor=cursor, status=status, kind=kind, tag=tag)
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/memories", _model(MemoryList), params=params)

    @endpoint
    def get_memory(self, memory_id: IdLike, *, as_of: datetime | str | None = None) -> _Call[Memory]:
        """The memory now, or as it was at ``as_of`` (a timezone-aware datetime or an ISO 8601 string)."""
        return _Call("GET", f"/v1/memories/{_id(memory_id)}", _model(Memory), params=_clean(as_of=as_of))

    @endpoint
    def update_memory(
        self,
        memory_id: IdLike,
        *,
        content: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        tags: list[str] | None = None,
        event_time: datetime | None = None,
        reason: str | None = None,
        expected_version: int | None = None,
    ) -> _Call[Memory]:
        """Write a new version; ``expected_version`` makes it fail with ConflictError if someone was first."""
        body = _clean(content=content, metadata=dict(metadata) if metadata is not None else None, tags=tags,
                      event_time=event_time, reason=reason, expected_version=expected_version)
        return _Call("PATCH", f"/v1/memories/{_id(memory_id)}", _model(Memory), json=body)

    @endpoint
    def delete_memory(self, memory_id: IdLike, *, reason: str | None = None) -> _Call[Memory]:
        """Delete (a tombstone version: history and ``as_of`` still see what it was)."""
        return _Call("DELETE", f"/v1/memories/{_id(memory_id)}", _model(Memory), params=_clean(reason=reason))

    @endpoint
    def history(self, memory_id: IdLike) -> _Call[list[MemoryVersion]]:
        """Every version, oldest first."""
        return _Call("GET", f"/v1/memories/{_id(memory_id)}/history",
                     lambda r: MemoryHistory.model_validate_json(r.content).versions)

    @endpoint
    def rollback(self, memory_id: IdLike, version: int, *, reason: str | None = None) -> _Call[Memory]:
        """Write a new version equal to ``version``."""
        return _Call("POST", f"/v1/memories/{_id(memory_id)}/rollback", _model(Memory),
                     json=_clean(version=version, reason=reason))

    # -- search and messages
    @endpoint
    def search(
        self,
        cube_id: IdLike,
        query: str,
        *,
        top_k: int = 10,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        mode: str = "hybrid",
        weights: Mapping[str, float] | None = None,
        expand: bool = False,
        neighbors: int = 1,
        links: int = 2,
        diversity: float | None = None,
        rerank: bool = False,
        include_quarantined: bool = False,
        include_archived: bool = False,
    ) -> _Call[list[SearchResult]]:
        """Best first; ``mode`` is ``hybrid``, ``dense`` or ``lexical``; ``filters`` as in ``SearchFilters``;
        ``weights`` ``{"dense", "lexical"}`` for hybrid; ``expand`` appends each hit's session neighbours and
        linked memories (``result.via``); ``diversity`` is an MMR lambda; ``rerank`` uses the server's reranker;
        ``include_quarantined`` (the cube's owner) also searches memories the guard quarantined;
        ``include_archived`` also archived ones (cold ones found are restored)."""
        body: dict[str, Any] = {"query": query, "top_k": top_k, "mode": mode}
        if filters is not None:
            body["filters"] = _dump(filters)
        if weights is not None:
            body["weights"] = dict(weights)
        if expand:
            body.update(expand=True, neighbors=neighbors, links=links)
        body.update(_clean(diversity=diversity, rerank=rerank or None,
                           include_quarantined=include_quarantined or None,
                           include_archived=include_archived or None))
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/search",
                     lambda r: SearchResponse.model_validate_json(r.content).results, json=body)

    @endpoint
    def context(
        self,
        cube_id: IdLike,
        query: str,
        *,
        token_budget: int = 2000,
        top_k: int = 20,
        filters: SearchFilters | Mapping[str, Any] | None = None,
        mode: str = "hybrid",
        expand: bool = False,
        include_archived: bool = False,
        working_session: str | None = None,
    ) -> _Call[ContextResponse]:
        """The memories a prompt should carry for ``query``, formatted with dates and speakers, grouped by
        session in time order, within ``token_budget`` (cl100k_base tokens). With ``working_session`` (any name
        for the caller's conversation), a query close to the session's earlier ones is answered from its working
        memory (``response.working`` says whether)."""
        body: dict[str, Any] = {"query": query, "token_budget": token_budget, "top_k": top_k, "mode": mode,
                                "expand": expand}
        if include_archived:
            body["include_archived"] = True
        if working_session is not None:
            body["working_session"] = working_session
        if filters is not None:
            body["filters"] = _dump(filters)
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/context", _model(ContextResponse), json=body)

    # -- the guard
    @endpoint
    def get_guard(self, cube_id: IdLike) -> _Call[GuardSettings]:
        """The cube's guard settings (defaults until its owner sets them)."""
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/guard", _model(GuardSettings))

    @endpoint
    def set_guard(self, cube_id: IdLike, settings: GuardSettings | Mapping[str, Any]) -> _Call[GuardSettings]:
        """Replace the cube's guard settings (the owner; fields left out take their defaults)."""
        return _Call("PUT", f"/v1/cubes/{_id(cube_id)}/guard", _model(GuardSettings), json=_dump(settings))

    @endpoint
    def quarantine(self, cube_id: IdLike, *, limit: int | None = None,
                   cursor: str | None = None) -> _Call[QuarantineList]:
        """One page of the cube's quarantined memories, riskiest first, each with the guard's reasons."""
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/quarantine", _model(QuarantineList),
                     params=_clean(limit=limit, cursor=cursor))

    @endpoint
    def review(self, memory_id: IdLike, decision: str, *, note: str | None = None) -> _Call[Memory]:
        """``approve`` (back to active) or ``reject`` (deleted, and a lesson) a quarantined memory."""
        return _Call("POST", f"/v1/memories/{_id(memory_id)}/review", _model(Memory),
                     json=_clean(decision=decision, note=note))

    @endpoint
    def add_messages(
        self,
        cube_id: IdLike,
        messages: Iterable[Message | Mapping[str, Any]],
        *,
        session_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> _Call[MessagesAccepted]:
        """Store chat turns (``{"role", "content", "name"?, "timestamp"?}``) and enqueue one consolidation job
        that turns them into memories (poll ``get_job(result.job_id)``); the same ``idempotency_key`` again
        returns the same job and stores nothing."""
        body = _clean(messages=[_dump(m) for m in messages], session_id=session_id,
                      idempotency_key=idempotency_key)
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/messages", _model(MessagesAccepted), json=body)

    # -- links and graph
    @endpoint
    def list_links(self, memory_id: IdLike) -> _Call[list[Link]]:
        """Links from (``direction="out"``) and to (``"in"``) a memory, strongest first."""
        return _Call("GET", f"/v1/memories/{_id(memory_id)}/links",
                     lambda r: LinkList.model_validate_json(r.content).links)

    @endpoint
    def get_graph(self, cube_id: IdLike, *, limit: int | None = None) -> _Call[Graph]:
        """A cube's live memories (nodes, most linked first, at most ``limit``), links and communities."""
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/graph", _model(Graph), params=_clean(limit=limit))

    # -- background jobs
    @endpoint
    def get_job(self, job_id: IdLike) -> _Call[Job]:
        return _Call("GET", f"/v1/jobs/{_id(job_id)}", _model(Job))

    @endpoint
    def list_jobs(self, cube_id: IdLike, *, limit: int | None = None) -> _Call[list[Job]]:
        """A cube's jobs, newest first."""
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/jobs",
                     lambda r: JobList.model_validate_json(r.content).jobs, params=_clean(limit=limit))

    # -- activation memory (KV-cache snapshots)
    @endpoint
    def list_models(self) -> _Call[list[ModelInfo]]:
        """The server's models (``MEMOS_MODELS`` and the built-in ``tiny``); loaded ones with their fingerprint."""
        return _Call("GET", "/v1/models", lambda r: ModelList.model_validate_json(r.content).models)

    @endpoint
    def create_activation(
        self,
        cube_id: IdLike,
        model: str,
        *,
        memory_ids: Iterable[IdLike] | None = None,
        text: str | None = None,
        name: str | None = None,
    ) -> _Call[ActivationAccepted]:
        """A KV-cache snapshot of ``memory_ids`` (plaintext memories of the cube) or of ``text`` (exactly one),
        built by a background job: poll ``get_activation(result.activation.id)`` until ``state == "ready"``."""
        ids = [_id(m) for m in memory_ids] if memory_ids is not None else None
        body = _clean(model=model, memory_ids=ids, text=text, name=name)
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/activations", _model(ActivationAccepted), json=body)

    @endpoint
    def list_activations(self, cube_id: IdLike, *, limit: int | None = None) -> _Call[list[Activation]]:
        """A cube's activation memories, newest first (state, model, tokens, bytes, version, stale)."""
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/activations",
                     lambda r: ActivationList.model_validate_json(r.content).activations, params=_clean(limit=limit))

    @endpoint
    def get_activation(self, activation_id: IdLike) -> _Call[Activation]:
        return _Call("GET", f"/v1/activations/{_id(activation_id)}", _model(Activation))

    @endpoint
    def extend_activation(self, activation_id: IdLike, memory_ids: Iterable[IdLike]) -> _Call[ActivationAccepted]:
        """Add source memories; the job builds the next version from the current snapshot (only the new
        tokens are prefilled when the old text stays a prefix of the new one)."""
        body = {"memory_ids": [_id(m) for m in memory_ids]}
        return _Call("POST", f"/v1/activations/{_id(activation_id)}/extend", _model(ActivationAccepted), json=body)

    @endpoint
    def generate(
        self,
        cube_id: IdLike,
        model: str,
        prompt: str,
        *,
        activation_id: IdLike | None = None,
        activation_ids: Iterable[IdLike] | None = None,
        recompute_ratio: float | None = None,
        max_new_tokens: int | None = None,
        adapter_id: IdLike | None = None,
    ) -> _Call[GenerateResponse]:
        """Greedy generation, after the activation's snapshot when given (only the prompt is prefilled), or
        after ``activation_ids`` (2 to 16) composed into one prefix with ``recompute_ratio`` of its tokens
        recomputed (server default 0.15; 1.0 is a full prefill up to rounding): ``.text``, ``.used``
        (activations, versions, model, fingerprint) and ``.timings`` (``compose_ms``, ``recomputed_tokens`` when
        composed). ``adapter_id``: through that LoRA adapter (a parametric memory; ``.used.adapter_version``)."""
        ids = [_id(a) for a in activation_ids] if activation_ids is not None else None
        body = _clean(model=model, prompt=prompt, activation_id=_id(activation_id) if activation_id else None,
                      activation_ids=ids, recompute_ratio=recompute_ratio, max_new_tokens=max_new_tokens,
                      adapter_id=_id(adapter_id) if adapter_id else None)
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/generate", _model(GenerateResponse), json=body)

    # -- parametric memory (LoRA adapters)
    @endpoint
    def register_adapter(
        self,
        cube_id: IdLike,
        model: str,
        adapter_dir: str | os.PathLike[str] | None = None,
        *,
        config: bytes | None = None,
        weights: bytes | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> _Call[Adapter]:
        """Upload a PEFT LoRA adapter for ``model``: the directory ``save_pretrained`` wrote, or the bytes of
        its ``adapter_config.json`` and ``adapter_model.safetensors``. Checked against the model (a bad one
        raises ``ValidationError`` and stores nothing); becomes a parametric memory, version 1."""
        form = _clean(model=model, name=name, description=description)
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/adapters", _model(Adapter),
                     files=_adapter_files(adapter_dir, config, weights), data=form)

    @endpoint
    def upload_adapter_version(
        self,
        adapter_id: IdLike,
        adapter_dir: str | os.PathLike[str] | None = None,
        *,
        config: bytes | None = None,
        weights: bytes | None = None,
        description: str | None = None,
    ) -> _Call[Adapter]:
        """New weights for the adapter (same model, same checks): its next version, which serves from now on."""
        return _Call("POST", f"/v1/adapters/{_id(adapter_id)}/versions", _model(Adapter),
                     files=_adapter_files(adapter_dir, config, weights), data=_clean(description=description))

    @endpoint
    def list_adapters(self, cube_id: IdLike, *, limit: int | None = None) -> _Call[list[Adapter]]:
        """A cube's adapters, newest first (state, model, version, rank, blob, losses when trained)."""
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/adapters",
                     lambda r: AdapterList.model_validate_json(r.content).adapters, params=_clean(limit=limit))

    @endpoint
    def get_adapter(self, adapter_id: IdLike) -> _Call[Adapter]:
        return _Call("GET", f"/v1/adapters/{_id(adapter_id)}", _model(Adapter))

    @endpoint
    def rollback_adapter(self, adapter_id: IdLike, version: int, *, reason: str | None = None) -> _Call[Adapter]:
        """A new version serving ``version``'s weights."""
        return _Call("POST", f"/v1/adapters/{_id(adapter_id)}/rollback", _model(Adapter),
                     json=_clean(version=version, reason=reason))

    @endpoint
    def approve_adapter(self, adapter_id: IdLike, *, note: str | None = None, steps: int | None = None,
                        rank: int | None = None, learning_rate: float | None = None) -> _Call[AdapterAccepted]:
        """Approve an adapter the scheduler proposed (the cube's owner): its training job starts."""
        return _Call("POST", f"/v1/adapters/{_id(adapter_id)}/approve", _model(AdapterAccepted),
                     json=_clean(note=note, steps=steps, rank=rank, learning_rate=learning_rate))

    @endpoint
    def reject_adapter(self, adapter_id: IdLike, *, note: str | None = None) -> _Call[Adapter]:
        """Turn down an adapter the scheduler proposed (the cube's owner)."""
        return _Call("POST", f"/v1/adapters/{_id(adapter_id)}/reject", _model(Adapter), json=_clean(note=note))

    @endpoint
    def train_adapter(
        self,
        cube_id: IdLike,
        model: str,
        *,
        memory_ids: Iterable[IdLike] | None = None,
        tags: Iterable[str] | None = None,
        limit: int | None = None,
        steps: int | None = None,
        rank: int | None = None,
        learning_rate: float | None = None,
        name: str | None = None,
        adapter_id: IdLike | None = None,
    ) -> _Call[AdapterAccepted]:
        """Fine-tune a LoRA on the cube's plaintext memories (``memory_ids``, or those with all ``tags``, or the
        newest ``limit``) in a background job: poll ``get_job(result.job_id)`` (its result has the loss per
        step) or ``get_adapter(result.adapter.id)`` until ``state == "ready"``. With ``adapter_id``: that
        adapter's next version."""
        body = _clean(model=model, memory_ids=[_id(m) for m in memory_ids] if memory_ids is not None else None,
                      tags=list(tags) if tags is not None else None, limit=limit, steps=steps, rank=rank,
                      learning_rate=learning_rate, name=name, adapter_id=_id(adapter_id) if adapter_id else None)
        return _Call("POST", f"/v1/cubes/{_id(cube_id)}/adapters/train", _model(AdapterAccepted), json=body)

    # -- the tier scheduler (docs/scheduler.md)
    @endpoint
    def scheduler_status(self) -> _Call[SchedulerStatus]:
        """The memory tiers of the server process that answers: budgets, use, hits, moves, the policy."""
        return _Call("GET", "/v1/scheduler/status", _model(SchedulerStatus))

    @endpoint
    def scheduler_events(self, *, limit: int | None = None) -> _Call[list[TierMove]]:
        """The latest moves between tiers (your payloads' with a tenant key), newest first."""
        return _Call("GET", "/v1/scheduler/events", lambda r: _TIER_MOVES.validate_json(r.content),
                     params=_clean(limit=limit))

    @endpoint
    def pin(self, memory_id: IdLike) -> _Call[PinState]:
        """Keep an activation's KV snapshot or a parametric memory's adapter in memory until ``unpin`` (409
        beyond the tiers' budgets)."""
        return _Call("POST", f"/v1/memories/{_id(memory_id)}/pin", _model(PinState))

    @endpoint
    def unpin(self, memory_id: IdLike) -> _Call[PinState]:
        return _Call("POST", f"/v1/memories/{_id(memory_id)}/unpin", _model(PinState))

    @endpoint
    def working_memory(self, cube_id: IdLike, session: str) -> _Call[WorkingMemoryView]:
        """A session's working memory in the cube: its memories, how often it was filled and reused, its moves."""
        return _Call("GET", f"/v1/cubes/{_id(cube_id)}/working", _model(WorkingMemoryView),
                     params={"session": session})

    @endpoint
    def forget_working_memory(self, cube_id: IdLike, session: str) -> _Call[None]:
        """Forget a session's working memory (its next context searches the whole cube)."""
        return _Call("DELETE", f"/v1/cubes/{_id(cube_id)}/working", _no_content, params={"session": session})


def _adapter_files(directory: str | os.PathLike[str] | None, config: bytes | None,
                   weights: bytes | None) -> dict[str, tuple[str, bytes, str]]:
    """The multipart files of an adapter upload, from a ``save_pretrained`` directory or given bytes."""
    if directory is not None:
        if config is not None or weights is not None:
            raise TypeError("give adapter_dir or config and weights, not both")
        root = Path(directory)
        config, weights = (root / "adapter_config.json").read_bytes(), (root / "adapter_model.safetensors").read_bytes()
    if config is None or weights is None:
        raise TypeError("give adapter_dir, or both config and weights")
    return {"config": ("adapter_config.json", config, "application/json"),
            "weights": ("adapter_model.safetensors", weights, "application/octet-stream")}
