"""Pydantic types shared by the API, the SDK and the workers.

This module imports only pydantic and the standard library, so ``memos.client`` stays light.
"""

from __future__ import annotations

import enum
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class MemoryKind(enum.StrEnum):
    """What a memory holds: text (``plaintext``), a KV-cache snapshot (``activation``: written through
    ``POST /v1/cubes/{cube_id}/activations``, never as a plain memory), or LoRA weights (``parametric``:
    uploaded or trained through ``POST /v1/cubes/{cube_id}/adapters``, never as a plain memory)."""

    plaintext = "plaintext"
    activation = "activation"
    parametric = "parametric"


class MemoryStatus(enum.StrEnum):
    active = "active"
    quarantined = "quarantined"
    archived = "archived"
    deleted = "deleted"


class Tier(enum.StrEnum):
    """Plaintext lifecycle tier (working -> long_term -> archived)."""

    working = "working"
    long_term = "long_term"
    archived = "archived"


class Residency(enum.StrEnum):
    """Where a payload (KV snapshot, LoRA weights) currently lives."""

    gpu = "gpu"
    cpu = "cpu"
    disk = "disk"


class Access(enum.StrEnum):
    read = "read"
    write = "write"


class SourceType(enum.StrEnum):
    agent = "agent"
    user = "user"
    tool = "tool"
    import_ = "import"
    consolidation = "consolidation"
    system = "system"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


MAX_JSON_DEPTH = 64
# Defaults of MEMOS_MAX_CONTENT_CHARS and MEMOS_MAX_BATCH_SIZE, shown as maxLength / maxItems in the OpenAPI
# document. The service enforces the configured values (a 413 past them), so a deployment can raise or lower
# them; pydantic does not check these, or a raised setting would still be refused here.
DEFAULT_MAX_CONTENT_CHARS = 32_000
DEFAULT_MAX_BATCH_SIZE = 1_000
_CONTENT_LIMIT: dict[str, Any] = {"maxLength": DEFAULT_MAX_CONTENT_CHARS}
_BATCH_LIMIT: dict[str, Any] = {"maxItems": DEFAULT_MAX_BATCH_SIZE}
_CONTENT_DOC = "at most MEMOS_MAX_CONTENT_CHARS characters (default 32,000): longer is a 413"
_BATCH_DOC = "at most MEMOS_MAX_BATCH_SIZE items (default 1,000): more is a 413"
_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON's "\\ud800" parses to one; it cannot be UTF-8 encoded or stored


def _input_problem(data: Any) -> str | None:
    """What makes raw input unstorable, if anything: NUL characters anywhere (PostgreSQL text and JSONB
    cannot hold them), NaN or Infinity (not JSON), or nesting deeper than ``MAX_JSON_DEPTH``.
    Iterative, so a hostile nesting depth cannot exhaust the interpreter's stack."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "text must not contain NUL (\\x00) characters"
            if not value.isascii() and _SURROGATE.search(value):
                return "text must not contain lone UTF-16 surrogates (\\ud800-\\udfff escapes without their pair)"
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                return "numbers must be finite (NaN and Infinity are not JSON)"
        elif isinstance(value, dict | list | tuple):
            if depth >= MAX_JSON_DEPTH:
                return f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
    return None


class _Base(BaseModel):
    """Inputs. Refused here, so they get FastAPI's 422 shape instead of a database error later: what
    ``_input_problem`` finds, and aware times that leave the year 1-9999 range once converted to UTC
    (PostgreSQL stores them, Python cannot read them back)."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        problem = _input_problem(data)
        if problem:
            raise ValueError(problem)
        return data

    @model_validator(mode="after")
    def _times_in_range(self) -> Any:
        for name, value in self:
            if isinstance(value, datetime) and value.tzinfo is not None:
                try:
                    value.astimezone(UTC)
                except OverflowError:
                    raise ValueError(f"{name} is out of range once converted to UTC") from None
        return self


class _Out(BaseModel):
    # Responses ignore unknown fields so an older SDK keeps working against a newer server.
    model_config = ConfigDict(from_attributes=True, extra="ignore")


# ---------------------------------------------------------------- provenance
class Provenance(_Base):
    """Who or what wrote a memory, from which messages or memories, and how far to trust it.

    A client's write cannot assert a reserved ``source`` (``system``, ``consolidation``), an ``actor`` other
    than its own key (``key:<key id>``; the server fills it in), or a ``trust`` above its key's
    ``max_trust``: each is refused with a 422."""

    source: SourceType = SourceType.agent
    actor: str | None = Field(default=None, max_length=200,
                              description="who wrote it; set by the server (key:<key id>, system:<job>)")
    message_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    memory_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    memory_versions: list[int] | None = Field(
        default=None, max_length=1000,
        description="the version of each of memory_ids it was made from, in the same order (activation snapshots)")
    session_id: str | None = Field(default=None, max_length=200)
    trust: float = Field(default=0.5, ge=0.0, le=1.0)
    note: str | None = Field(default=None, max_length=2000)


# ---------------------------------------------------------------- tenants and keys
class TenantCreate(_Base):
    name: str = Field(min_length=1, max_length=200)


class Tenant(_Out):
    id: uuid.UUID
    name: str
    created_at: datetime | None = None


class KeyCreate(_Base):
    name: str = Field(default="default", min_length=1, max_length=200)
    max_trust: float = Field(
        default=0.9, ge=0.0, le=1.0,
        description="the highest provenance.trust a write through this key may assert (above it: 422)",
    )


class ApiKeyCreated(_Out):
    id: uuid.UUID
    key: str = Field(description="The secret; shown only once.")
    name: str | None = None
    tenant_id: uuid.UUID | None = None
    max_trust: float | None = None


# ---------------------------------------------------------------- cubes
class CubeCreate(_Base):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)


class Cube(_Out):
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    description: str | None = None
    created_at: datetime
    access: Literal["owner", "read", "write"] = "owner"


class CubeList(_Out):
    cubes: list[Cube]


class GrantCreate(_Base):
    tenant_id: uuid.UUID
    access: Access


class Grant(_Out):
    cube_id: uuid.UUID
    tenant_id: uuid.UUID
    access: Access
    created_at: datetime


# ---------------------------------------------------------------- memories
Tag = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S", description="kept without outer spaces")]


class MemoryCreate(_Base):
    content: str = Field(min_length=1, json_schema_extra=_CONTENT_LIMIT, description=_CONTENT_DOC)
    kind: MemoryKind = Field(default=MemoryKind.plaintext,
                             description="plaintext only: activation memories are made through POST "
                             "/v1/cubes/{cube_id}/activations, parametric ones through POST "
                             "/v1/cubes/{cube_id}/adapters (422)",
                             json_schema_extra={"enum": [MemoryKind.plaintext.value]})
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="JSON of at most MEMOS_MAX_METADATA_BYTES (default 64,000): more is a 413")
    tags: list[Tag] = Field(default_factory=list, max_length=100)
    event_time: datetime | None = None
    provenance: Provenance | None = None
    session_id: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=200, description="speaker or role (user, assistant, a name)")

    @field_validator("kind")
    @classmethod
    def _implemented(cls, kind: MemoryKind) -> MemoryKind:
        if kind is MemoryKind.activation:
            raise ValueError("activation memories are KV-cache snapshots the server computes: create them with "
                             "POST /v1/cubes/{cube_id}/activations {model, memory_ids | text}, not as plain memories")
        if kind is MemoryKind.parametric:
            raise ValueError("parametric memories are LoRA adapters: upload one with POST /v1/cubes/{cube_id}"
                             "/adapters (multipart: model, adapter_config.json, adapter_model.safetensors) or "
                             "train one with POST /v1/cubes/{cube_id}/adapters/train, not as plain memories")
        return kind


class MemoriesCreate(_Base):
    memories: list[MemoryCreate] = Field(min_length=1, json_schema_extra=_BATCH_LIMIT, description=_BATCH_DOC)


def _one_of_the_changes(schema: dict[str, Any]) -> None:
    """In the JSON Schema: at least one of the fields that change the memory is given (the service says 422
    "nothing to change" otherwise)."""
    schema["anyOf"] = [{"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                       for name in ("content", "metadata", "tags", "event_time")]


class MemoryUpdate(_Base):
    model_config = ConfigDict(from_attributes=True, extra="forbid", json_schema_extra=_one_of_the_changes)

    content: str | None = Field(default=None, min_length=1, json_schema_extra=_CONTENT_LIMIT, description=_CONTENT_DOC)
    metadata: dict[str, Any] | None = None
    tags: list[Tag] | None = Field(default=None, max_length=100)
    event_time: datetime | None = None
    reason: str | None = Field(default=None, max_length=2000)
    expected_version: int | None = Field(default=None, ge=1, description="optimistic concurrency check")


class Rollback(_Base):
    version: int = Field(ge=1)
    reason: str | None = Field(default=None, max_length=2000)


class Memory(_Out):
    id: uuid.UUID
    cube_id: uuid.UUID
    kind: MemoryKind
    status: MemoryStatus
    tier: Tier
    content: str
    metadata: dict[str, Any]
    tags: list[str]
    keywords: list[str] = Field(default_factory=list)
    context: str | None = None
    session_id: str | None = None
    role: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime
    event_time: datetime | None = None
    provenance: Provenance | None = None
    access_count: int = 0
    last_accessed_at: datetime | None = None
    risk: float = Field(default=0.0, description="the guard's score in [0, 1] (see `guard` for its reasons)")
    guard: GuardVerdict | None = None


class MemoryList(_Out):
    memories: list[Memory]
    next_cursor: str | None = None


class GuardVerdict(_Out):
    """Why the guard scored a memory as it did: each reason (a content cue or a provenance signal) with its
    weight; the score combines them (1 - prod(1 - w))."""

    score: float
    reasons: dict[str, float] = Field(default_factory=dict)
    by: str = Field(default="screen",
                    description="screen (at write) | neighbours (the write-time consensus job) | review | read")
    note: str | None = None


class GuardSettings(_Base):
    """A cube's guard settings (``PUT /v1/cubes/{cube_id}/guard``)."""

    enabled: bool = Field(default=True, description="screen writes; off: nothing is scored or quarantined")
    quarantine_threshold: float = Field(default=0.5, ge=0.05, le=1.0,
                                        description="a new or changed memory scoring at least this is quarantined")
    read_check: bool = Field(default=True, description="the read-time check of /context (and search's "
                             "`guard` flag): suspect and disputed memories are dropped and reported")
    read_threshold: float = Field(default=0.3, ge=0.0, le=1.0,
                                  description="at read time, a memory scoring at least this is dropped")
    trusted_sources: list[str] = Field(
        default_factory=list, max_length=100,
        description="provenance `source` values or actors (`key:<id>`) whose writes are not scored on content")
    untrusted_sources: list[str] = Field(
        default_factory=list, max_length=100,
        description="provenance `source` values or actors whose writes are scored as untrusted")


class ReviewDecision(enum.StrEnum):
    approve = "approve"
    reject = "reject"


class ReviewRequest(_Base):
    decision: ReviewDecision
    note: str | None = Field(default=None, max_length=2000)


class QuarantineList(_Out):
    memories: list[Memory]
    next_cursor: str | None = None


class DroppedMemory(_Out):
    memory: Memory
    reasons: dict[str, float] = Field(description="why the read-time check left it out of the context")
    note: str | None = Field(default=None, description="the LLM judge's own words, when it is one of the reasons")


class MemoryVersion(_Out):
    version: int
    status: MemoryStatus
    content: str
    metadata: dict[str, Any]
    tags: list[str]
    event_time: datetime | None = None
    provenance: Provenance | None = None
    actor: str | None = None
    reason: str | None = None
    valid_from: datetime
    valid_to: datetime | None = None
    caused_by_key_id: uuid.UUID | None = Field(
        default=None, description="the API key whose request caused this version (set by the server)")
    caused_by_tenant_id: uuid.UUID | None = Field(
        default=None, description="the tenant of that key (set by the server)")
    job_id: uuid.UUID | None = Field(
        default=None, description="the background job that wrote this version; null for a direct write")
    risk: float | None = None
    guard: GuardVerdict | None = None


class MemoryHistory(_Out):
    memory_id: uuid.UUID
    versions: list[MemoryVersion]


# ---------------------------------------------------------------- search
class SearchFilters(_Base):
    tags: list[str] | None = Field(default=None, description="memories carrying all of these tags")
    kind: MemoryKind | None = None
    status: list[MemoryStatus] | None = Field(default=None, description="default: active only")
    metadata: dict[str, Any] | None = Field(default=None, description="JSON containment match")
    session_id: str | None = None
    role: str | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None


class SearchWeights(_Base):
    """Fusion weights for ``hybrid`` mode; they are normalised to sum to 1."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", json_schema_extra={
        "not": {"required": ["dense", "lexical"], "properties": {"dense": {"const": 0}, "lexical": {"const": 0}}}})

    dense: float = Field(default=0.5, ge=0, le=1)
    lexical: float = Field(default=0.5, ge=0, le=1)

    @model_validator(mode="after")
    def _not_both_zero(self) -> SearchWeights:
        if self.dense + self.lexical <= 0:
            raise ValueError("at least one weight must be positive")
        return self


class SearchRequest(_Base):
    query: str = Field(min_length=1, max_length=10_000, pattern=r"\S")
    top_k: int = Field(default=10, ge=1, le=100)
    filters: SearchFilters | None = None
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    weights: SearchWeights | None = Field(default=None, description="hybrid fusion weights; default from settings")
    expand: bool = Field(default=False, description="also return session neighbours and linked memories of hits")
    neighbors: int = Field(default=1, ge=0, le=5, description="with expand: turns before/after each hit")
    links: int = Field(default=2, ge=0, le=10, description="with expand: strongest links followed per hit")
    diversity: float | None = Field(
        default=None, ge=0, le=1, description="MMR lambda (1 = relevance only, 0 = diversity only); off when unset"
    )
    rerank: bool = Field(default=False, description="apply the configured reranker (MEMOS_RERANK_MODEL)")
    include_quarantined: bool = Field(
        default=False, description="also quarantined memories (the cube's owner only; or ask for status "
        "`quarantined` in filters)")
    include_archived: bool = Field(
        default=False, description="also archived memories: cold ones the scheduler archived (restored to the "
        "long-term tier when found) and ones consolidation superseded (or ask for status `archived` in filters)")


class SearchResult(_Out):
    memory: Memory
    score: float
    via: Literal["search", "neighbor", "link"] = Field(
        default="search", description="a ranked hit, or context pulled in around one (expand)"
    )


class SearchResponse(_Out):
    results: list[SearchResult]


class ContextRequest(_Base):
    query: str = Field(min_length=1, max_length=10_000, pattern=r"\S")
    token_budget: int = Field(default=2_000, ge=1, le=1_000_000, description="cl100k_base tokens")
    top_k: int = Field(default=20, ge=1, le=100)
    filters: SearchFilters | None = None
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"
    expand: bool = False
    include_archived: bool = Field(default=False, description="as in search")
    working_session: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"\S",
        description="the caller's session (any name): its working memory answers a query close to the ones it has"
        " asked (docs/scheduler.md#working-memory); not a filter (filters.session_id is)")


class WorkingUse(_Out):
    session: str
    reused: bool = Field(description="answered from the working memory, without a search of the whole cube")
    similarity: float = Field(description="the query's cosine to the closest query that filled the working memory"
                              " (0 when there was none)")
    items: int = Field(description="memories in the session's working memory when the request was answered (a"
                       " search's results join it right after, off the request path)")


class ContextResponse(_Out):
    context: str = Field(description="the memories, grouped by session in time order, with dates and speakers")
    memories: list[Memory]
    tokens: int
    dropped: list[DroppedMemory] = Field(
        default_factory=list, description="memories the guard's read-time check left out, with its reasons")
    working: WorkingUse | None = Field(default=None, description="with a working_session: how it was used")


class WorkingMove(_Out):
    at: datetime
    reason: Literal["search", "reuse"] = Field(
        description="search: a search of the whole cube's results and their predicted neighbours entered;"
        " reuse: memories changed since the fill entered with a reuse")
    entered: list[uuid.UUID]
    left: list[uuid.UUID] = Field(description="the least recently retrieved, beyond MEMOS_WORKING_MAX_ITEMS")


class WorkingMemoryView(_Out):
    session: str
    memory_ids: list[uuid.UUID] = Field(description="most recently retrieved first")
    predicted: list[uuid.UUID] = Field(description="of those, the ones that entered as a retrieved memory's session"
                                       " neighbour or link")
    queries: int = Field(description="query vectors kept (the topics that reuse the set)")
    filled_at: datetime
    fills: int
    reuses: int
    moves: list[WorkingMove] = Field(description="newest first")


# ---------------------------------------------------------------- messages
class Message(_Base):
    role: str = Field(min_length=1, max_length=200)
    content: str = Field(min_length=1, json_schema_extra=_CONTENT_LIMIT, description=_CONTENT_DOC)
    name: str | None = Field(default=None, max_length=200)
    timestamp: datetime | None = None


class MessagesCreate(_Base):
    messages: list[Message] = Field(min_length=1, json_schema_extra=_BATCH_LIMIT, description=_BATCH_DOC)
    session_id: str | None = Field(default=None, max_length=200)
    idempotency_key: str | None = Field(default=None, max_length=200)


class MessagesAccepted(_Out):
    message_ids: list[uuid.UUID]
    memories: list[Memory] = Field(default_factory=list)
    job_id: uuid.UUID | None = None


# ---------------------------------------------------------------- jobs
class Job(_Out):
    id: uuid.UUID
    cube_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = Field(default=None, description="the tenant whose request enqueued the job")
    key_id: uuid.UUID | None = Field(default=None, description="the API key whose request enqueued the job")
    type: str
    status: JobStatus
    attempts: int
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    llm_calls: int = 0
    llm_tokens: int = 0
    result: dict[str, Any] | None = None


class JobList(_Out):
    jobs: list[Job]


# ---------------------------------------------------------------- links and graph
class Link(_Out):
    """A typed, directed edge seen from one memory: ``direction`` is "out" when that memory is the source."""

    id: uuid.UUID
    type: str = Field(
        description="related | supports | contradicts | supersedes | superseded_by | may_update | same_entity")
    direction: Literal["out", "in"]
    other_id: uuid.UUID = Field(description="the memory at the other end")
    source_id: uuid.UUID
    target_id: uuid.UUID
    strength: float
    reason: str | None = None
    created_at: datetime


class LinkList(_Out):
    memory_id: uuid.UUID
    links: list[Link]


class GraphNode(_Out):
    id: uuid.UUID
    content: str
    tags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    context: str | None = None
    community: int
    degree: int


class GraphEdge(_Out):
    source: uuid.UUID
    target: uuid.UUID
    type: str
    strength: float
    reason: str | None = None


class Graph(_Out):
    cube_id: uuid.UUID
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    communities: list[list[uuid.UUID]] = Field(description="Louvain communities, largest first")
    truncated: bool = Field(description="the cube has more live memories than the limit")


# ---------------------------------------------------------------- activation memory (KV-cache snapshots)
class ActivationState(enum.StrEnum):
    """building: its job has not written a snapshot yet; ready: usable; stale: a source memory changed since
    (the current snapshot is still usable and a rebuild is queued); failed: the build gave up (see ``error``)."""

    building = "building"
    ready = "ready"
    stale = "stale"
    failed = "failed"


MAX_ACTIVATION_SOURCES = 200
DEFAULT_MAX_NEW_TOKENS = 512  # MEMOS_MAX_NEW_TOKENS_LIMIT's default, shown as the maximum (the setting is enforced)


def _memory_ids_or_text(schema: dict[str, Any]) -> None:
    """In the JSON Schema: exactly one of ``memory_ids`` and ``text`` is given (and not null)."""
    schema["oneOf"] = [{"required": ["memory_ids"], "properties": {"memory_ids": {"type": "array"}}},
                       {"required": ["text"], "properties": {"text": {"type": "string"}}}]


class ActivationCreate(_Base):
    """Exactly one of ``memory_ids`` (plaintext memories of the cube, rendered in a stable order) or ``text``."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", json_schema_extra=_memory_ids_or_text)

    model: str = Field(min_length=1, max_length=200, description="a name from GET /v1/models")
    memory_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=MAX_ACTIVATION_SOURCES)
    text: str | None = Field(default=None, min_length=1, pattern=r"\S", json_schema_extra=_CONTENT_LIMIT,
                             description=_CONTENT_DOC)
    name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_source(self) -> ActivationCreate:
        if (self.memory_ids is None) == (self.text is None):
            raise ValueError("give exactly one of memory_ids or text")
        return self


class ActivationExtend(_Base):
    """More plaintext memories for a snapshot built from memories; only their tokens are prefilled when they
    come after the snapshot's text in the render order (see docs/activation.md)."""

    memory_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_ACTIVATION_SOURCES)


class Activation(_Out):
    id: uuid.UUID
    cube_id: uuid.UUID
    name: str | None = None
    model: str
    state: ActivationState
    stale: bool = Field(description="a source memory changed since this version was built")
    version: int
    tokens: int | None = None
    bytes: int | None = None
    fingerprint: str | None = None
    blob_sha256: str | None = None
    source_memory_ids: list[uuid.UUID] = Field(default_factory=list)
    error: str | None = None
    job_id: uuid.UUID | None = Field(default=None, description="the latest build job")
    created_at: datetime
    updated_at: datetime


class ActivationAccepted(_Out):
    activation: Activation
    job_id: uuid.UUID


class ActivationList(_Out):
    activations: list[Activation]


class ModelInfo(_Out):
    name: str
    source: Literal["builtin", "huggingface", "gguf"]
    loaded: bool
    fingerprint: str | None = Field(default=None, description="known once the model is loaded in this process")
    adapters_loaded: int = Field(default=0, description="LoRA adapters loaded on it in this process")


class ModelList(_Out):
    models: list[ModelInfo]


MAX_COMPOSED_ACTIVATIONS = 16
# The share of tokens compose.py recomputes by default: on SmolLM2-135M, 15% gave 0.92 teacher-forced agreement
# with a full prefill at 4.5x its speed; more helps slowly (bench/README.md, docs/activation.md).
DEFAULT_RECOMPUTE_RATIO = 0.15


def _prefix_schema(schema: dict[str, Any]) -> None:
    """In the JSON Schema: not both ``activation_id`` and ``activation_ids``; ``recompute_ratio`` only with
    ``activation_ids`` (null counts as absent, as in the model)."""
    schema["not"] = {"required": ["activation_id", "activation_ids"],
                     "properties": {"activation_id": {"type": "string"}, "activation_ids": {"type": "array"}}}
    schema["anyOf"] = [{"required": ["activation_ids"], "properties": {"activation_ids": {"type": "array"}}},
                       {"not": {"required": ["recompute_ratio"],
                                "properties": {"recompute_ratio": {"type": "number"}}}}]


class GenerateRequest(_Base):
    """A prompt, after at most one prefix: one activation's snapshot (``activation_id``), or several composed
    into one context (``activation_ids``, see docs/activation.md#composition)."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", json_schema_extra=_prefix_schema)

    model: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1, json_schema_extra=_CONTENT_LIMIT, description=_CONTENT_DOC)
    activation_id: uuid.UUID | None = Field(default=None, description="an activation memory of this cube: the prefix")
    activation_ids: list[uuid.UUID] | None = Field(
        default=None, min_length=2, max_length=MAX_COMPOSED_ACTIVATIONS, json_schema_extra={"uniqueItems": True},
        description="activation memories of this cube composed into one prefix, their texts joined by a newline "
        "in this order (not with activation_id)")
    recompute_ratio: float | None = Field(
        default=None, ge=0.0, le=1.0,
        description=f"with activation_ids: the share of the composed tokens recomputed where the chunks meet "
        f"(default {DEFAULT_RECOMPUTE_RATIO}; 0 = positions re-encoded only, 1 = a full prefill up to float rounding)")
    adapter_id: uuid.UUID | None = Field(
        default=None, description="a parametric memory (LoRA adapter) of this cube for the same model: its current "
        "version's weights apply to the prompt and the generated tokens (a snapshot prefix stays the base model's)")
    max_new_tokens: int = Field(default=64, ge=1, json_schema_extra={"maximum": DEFAULT_MAX_NEW_TOKENS},
                                description="at most MEMOS_MAX_NEW_TOKENS_LIMIT (default 512): more is a 422")
    stream: bool = Field(default=False, description="Server-Sent Events: token texts, then one `done` event")

    @model_validator(mode="after")
    def _check_prefix(self) -> GenerateRequest:
        if self.activation_id is not None and self.activation_ids is not None:
            raise ValueError("give activation_id (one snapshot) or activation_ids (composed), not both")
        if self.activation_ids is not None and len(set(self.activation_ids)) != len(self.activation_ids):
            raise ValueError("activation_ids names an activation twice")
        if self.recompute_ratio is not None and self.activation_ids is None:
            raise ValueError("recompute_ratio applies to a composition: give activation_ids")
        return self


class UsedActivation(_Out):
    activation_id: uuid.UUID
    version: int
    stale: bool


class GenerationUsed(_Out):
    activation_id: uuid.UUID | None = Field(default=None, description="the one snapshot (null when composed)")
    version: int | None = None
    stale: bool = Field(default=False, description="a source changed since this version (of any composed "
                        "activation); its rebuild is queued")
    model: str
    fingerprint: str
    activations: list[UsedActivation] = Field(default_factory=list,
                                              description="every snapshot in the prefix, in order")
    recompute_ratio: float | None = Field(default=None, description="when composed")
    adapter_id: uuid.UUID | None = Field(default=None, description="the LoRA adapter applied (parametric memory)")
    adapter_version: int | None = Field(default=None, description="the adapter's version whose weights served")
    batched: int | None = Field(default=None, description="requests in the mixed-adapter batch this one ran in")
    adapter_loaded: bool | None = Field(default=None, description="the adapter was already loaded (a pool hit)")


class GenerationTimings(_Out):
    ttft_ms: float = Field(description="to the first token, composition included")
    total_ms: float
    prefill_tokens: int
    cached_tokens: int = Field(description="positions of the prefix (a snapshot, or the composed cache)")
    compose_ms: float | None = Field(default=None, description="composing the snapshots (when composed)")
    recomputed_tokens: int | None = Field(default=None, description="composed tokens recomputed (when composed)")
    adapter_ms: float | None = Field(default=None, description="making the adapter ready in the serving model: a "
                                     "pool hit, or its load from the blob store (batched adapter requests)")


class GenerateResponse(_Out):
    text: str
    used: GenerationUsed
    timings: GenerationTimings


# ---------------------------------------------------------------- parametric memory (LoRA adapters)
class AdapterState(enum.StrEnum):
    """training: its job has not written weights yet; ready: usable; failed: training gave up (see ``error``);
    proposed: the scheduler proposes training it on stable, heavily used memories, awaiting the owner's
    decision; rejected: a proposal the owner turned down."""

    training = "training"
    ready = "ready"
    failed = "failed"
    proposed = "proposed"
    rejected = "rejected"


MAX_ADAPTER_SOURCES = 1000


class Adapter(_Out):
    """A parametric memory: a LoRA adapter for one model, its weights a content-addressed blob."""

    id: uuid.UUID
    cube_id: uuid.UUID
    name: str | None = None
    description: str = ""
    model: str
    state: AdapterState
    version: int
    source: Literal["upload", "training", "proposal"] = Field(
        description="proposal: proposed by the scheduler, its source memories those it would learn")
    fingerprint: str | None = Field(default=None, description="of the base model the adapter was checked against")
    blob_sha256: str | None = Field(default=None, description="sha256 of adapter_model.safetensors")
    bytes: int | None = None
    dtype: str | None = None
    rank: int | None = None
    alpha: float | None = None
    params: int | None = None
    target_modules: list[str] = Field(default_factory=list, description="the model's modules that carry LoRA weights")
    lora_config: dict[str, Any] = Field(default_factory=dict, description="adapter_config.json as PEFT reads it")
    source_memory_ids: list[uuid.UUID] = Field(default_factory=list, description="what a trained adapter learned")
    source_memory_versions: list[int] = Field(default_factory=list)
    losses: list[float] | None = Field(default=None, description="training loss per step (trained adapters)")
    error: str | None = None
    job_id: uuid.UUID | None = Field(default=None, description="the latest training job")
    created_at: datetime
    updated_at: datetime


class AdapterList(_Out):
    adapters: list[Adapter]


def _memory_ids_or_tags(schema: dict[str, Any]) -> None:
    schema["not"] = {"required": ["memory_ids", "tags"],
                     "properties": {"memory_ids": {"type": "array"}, "tags": {"type": "array"}}}


class AdapterTrain(_Base):
    """Fine-tune a LoRA on plaintext memories of the cube: ``memory_ids``, or those with all of ``tags``,
    or (neither) the cube's newest live plaintext memories, at most ``limit``. With ``adapter_id`` the
    result is that adapter's next version."""

    model_config = ConfigDict(from_attributes=True, extra="forbid", json_schema_extra=_memory_ids_or_tags)

    model: str = Field(min_length=1, max_length=200, description="a name from GET /v1/models")
    memory_ids: list[uuid.UUID] | None = Field(default=None, min_length=1, max_length=MAX_ADAPTER_SOURCES)
    tags: list[Tag] | None = Field(default=None, min_length=1, max_length=20)
    limit: int = Field(default=200, ge=1, le=MAX_ADAPTER_SOURCES)
    steps: int = Field(default=30, ge=1, description="optimizer steps, at most MEMOS_ADAPTER_TRAIN_MAX_STEPS")
    rank: int = Field(default=8, ge=1, le=256)
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)
    name: str | None = Field(default=None, max_length=200)
    adapter_id: uuid.UUID | None = Field(default=None, description="retrain this adapter: a new version of it")

    @model_validator(mode="after")
    def _one_selection(self) -> AdapterTrain:
        if self.memory_ids is not None and self.tags is not None:
            raise ValueError("give memory_ids or tags, not both")
        return self


class ProposalDecision(_Base):
    """The owner's decision on a proposed adapter; approving starts its training job with these settings."""

    note: str | None = Field(default=None, max_length=2000)
    steps: int = Field(default=30, ge=1, description="optimizer steps, at most MEMOS_ADAPTER_TRAIN_MAX_STEPS")
    rank: int = Field(default=8, ge=1, le=256)
    learning_rate: float = Field(default=2e-3, gt=0.0, le=1.0)


class AdapterAccepted(_Out):
    adapter: Adapter
    job_id: uuid.UUID


class ErrorBody(_Out):
    """Every error response: a stable machine-readable ``error`` code and a human-readable ``detail``."""

    error: str = Field(description="a stable code: not_found, conflict, payload_too_large, validation_error...")
    detail: Any = None


class ValidationIssue(_Out):
    """One problem with the request, as FastAPI reports it (``loc`` is the path to the offending value)."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = Field(default=None, description="the offending value, when it is a scalar safe to echo")
    ctx: dict[str, Any] | None = None


class ValidationErrorBody(_Out):
    """A 422: ``error`` is ``validation_error`` with FastAPI's list of issues in ``detail``, or ``invalid_input``
    with a sentence when the service refuses a value the schema allows (a page size over the setting...)."""

    error: Literal["validation_error", "invalid_input"]
    detail: list[ValidationIssue] | str
