"""ORM tables. One DeclarativeBase with a naming convention, typed ``Mapped`` columns.

Every tenant-owned table carries ``tenant_id`` (the owner of the cube) so the row-level security
policies created in the migrations can compare it with the transaction's tenant.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, mapped_column

EMBEDDING_DIM = 384
DEFAULT_KEY_MAX_TRUST = 0.9  # 1.0 ("certain") is left to keys the admin explicitly trusts that far

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _cube_owned(table: str) -> ForeignKeyConstraint:
    """A cube-scoped row carries its cube owner's ``tenant_id``: the pair must be a cube's (row-level security
    reads ``tenant_id``; see migrations 2026-11-30-0500)."""
    return ForeignKeyConstraint(["cube_id", "tenant_id"], ["cubes.id", "cubes.tenant_id"], ondelete="CASCADE",
                                name=f"fk_{table}_cube_id_tenant_id_cubes")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JSONB, uuid.UUID: UUID(as_uuid=True)}


def _uuid() -> uuid.UUID:
    return uuid.uuid4()


def _now_col(**kw: Any) -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), **kw)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = _now_col()


class ApiKey(Base):
    """An API key, stored as a SHA-256 hash (keys are 256-bit random, so a slow hash buys nothing)."""

    __tablename__ = "api_keys"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The highest provenance.trust a write through this key may assert (set by the admin at creation).
    max_trust: Mapped[float] = mapped_column(Float, default=DEFAULT_KEY_MAX_TRUST,
                                             server_default=str(DEFAULT_KEY_MAX_TRUST))
    created_at: Mapped[datetime] = _now_col()
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Cube(Base):
    __tablename__ = "cubes"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", name="uq_cubes_tenant_name"),
        UniqueConstraint("id", "tenant_id", name="uq_cubes_id_tenant_id"),  # target of the cube-owned keys
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # The cube's guard settings (memos.guard.settings.GuardSettings); NULL = the service's defaults.
    guard: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now_col()


class CubeGrant(Base):
    __tablename__ = "cube_grants"
    __table_args__ = (_cube_owned("cube_grants"),)
    cube_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    grantee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))  # the owner
    access: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = _now_col()


class PayloadBlob(Base):
    """A content-addressed payload (KV snapshot, LoRA weights) on disk, described here."""

    __tablename__ = "payload_blobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "sha256", name="uq_payload_blobs_tenant_sha"),
        _cube_owned("payload_blobs"),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column(index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    dtype: Mapped[str | None] = mapped_column(String(40))
    model_id: Mapped[str | None] = mapped_column(String(400))
    fingerprint: Mapped[str | None] = mapped_column(String(128))
    residency: Mapped[str] = mapped_column(String(10), default="disk")
    created_at: Mapped[datetime] = _now_col()


class MemoryAccess(Base):
    """How often searches and contexts returned a memory, and when last (``memos.retrieval.access``).

    A narrow row of its own, written by an upsert from the access-statistics flush: counting a hit on the
    ``memories`` row wrote a new version of that wide row (vector, text, tsvector) with new entries in its
    indexes and ran its statement triggers (migration 2026-12-07-1500). ``Memory.access_count`` and
    ``Memory.last_accessed_at`` read it; a memory nobody has found has no row."""

    __tablename__ = "memory_access"
    __table_args__ = (
        _cube_owned("memory_access"),
        Index("ix_memory_access_cube_id_tenant_id", "cube_id", "tenant_id"),  # the cascade when a cube goes
    )
    memory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column()
    access_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_accessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Memory(Base):
    """The head of a memory: its current state, derived from the latest row in ``memory_versions``."""

    __tablename__ = "memories"
    __table_args__ = (
        _cube_owned("memories"),
        Index("ix_memories_cube_created", "cube_id", "created_at", "id"),
        Index("ix_memories_cube_updated", "cube_id", "updated_at"),  # changed since (working memory)
        Index("ix_memories_cube_session", "cube_id", "session_id", "created_at"),  # session order
        Index("ix_memories_cube_role", "cube_id", "role", "created_at"),  # a speaker's latest (consolidation)
        # GIN without a pending list (migration 2026-11-24-1500): searches stay fast under writes.
        Index("ix_memories_tags", "tags", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
        Index("ix_memories_tsv", "tsv", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
        Index(
            "ix_memories_expires_at", "expires_at",
            postgresql_where="expires_at IS NOT NULL AND status <> 'deleted'",
        ),
        Index("ix_memories_cube_quarantine", "cube_id", text("risk DESC"), "id",
              postgresql_where=text("status = 'quarantined'")),  # the guard's queue, riskiest first
        Index(
            "ix_memories_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(20), default="plaintext")
    status: Mapped[str] = mapped_column(String(20), default="active")
    tier: Mapped[str] = mapped_column(String(20), default="long_term")
    content: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    context: Mapped[str | None] = mapped_column(Text)
    session_id: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(200))
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    trust: Mapped[float] = mapped_column(Float, default=0.5)
    # The guard's score in [0, 1] and its reasons (memos.guard); a quarantined memory is listed by risk.
    risk: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    guard: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=True)
    tsv: Mapped[Any] = mapped_column(
        # Plaintext only: an activation's content repeats its sources' (migration 2026-11-30-0800).
        TSVECTOR, Computed("CASE WHEN kind = 'plaintext' THEN to_tsvector('english', content) END", persisted=True),
        nullable=True,
    )
    event_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, default=1)
    blob_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("payload_blobs.id", ondelete="SET NULL"))
    # Read from memory_access in the statement that loads the memory (a primary-key probe per row); queries that
    # filter or sort many rows by them join MemoryAccess instead (memcube.repository.sweeps, scheduler.propose).
    # Not expired when the session writes the memory (only the access flush, elsewhere, changes them), so a
    # handler that updates a memory does not read them again; insert_memories sets them for new rows.
    access_count: Mapped[int] = column_property(func.coalesce(
        select(MemoryAccess.access_count).where(MemoryAccess.memory_id == id).correlate_except(MemoryAccess)
        .scalar_subquery(), 0), expire_on_flush=False)
    last_accessed_at: Mapped[datetime | None] = column_property(
        select(MemoryAccess.last_accessed_at).where(MemoryAccess.memory_id == id).correlate_except(MemoryAccess)
        .scalar_subquery(), expire_on_flush=False)
    heat: Mapped[float] = mapped_column(Float, default=0.0)
    heat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last decay (sweep)
    heat_hits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # hits folded into heat
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # last linking run
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pinned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # payload pinned in memory tiers
    created_at: Mapped[datetime] = _now_col()
    updated_at: Mapped[datetime] = _now_col()


class MemoryVersion(Base):
    """Append-only history: every change to a memory, deletes included, is a row here."""

    __tablename__ = "memory_versions"
    __table_args__ = (
        _cube_owned("memory_versions"),
        UniqueConstraint("memory_id", "version", name="uq_memory_versions_memory_version"),
        Index("ix_memory_versions_provenance", "provenance", postgresql_using="gin",
              postgresql_ops={"provenance": "jsonb_path_ops"}, postgresql_with={"fastupdate": "off"}),
        # "Has this job already written?" (consolidation's already-applied check).
        Index("ix_memory_versions_job_id", "job_id", postgresql_where="job_id IS NOT NULL"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    memory_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    content: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    event_time: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    actor: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    risk: Mapped[float | None] = mapped_column(Float)
    guard: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Attribution, written by the server only (never from a request body): the API key and tenant whose
    # request caused this version, and the job that wrote it (NULL for a direct write). No foreign keys:
    # history must keep naming a key or tenant after it is gone, and a cascade would rewrite history.
    caused_by_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    caused_by_tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))


class MemoryLink(Base):
    """A typed, directed edge between two memories, by id (never by rank position)."""

    __tablename__ = "memory_links"
    __table_args__ = (
        _cube_owned("memory_links"),
        UniqueConstraint("source_id", "target_id", "type", name="uq_memory_links_edge"),
        Index("ix_memory_links_target", "target_id"),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column(index=True)
    source_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"))
    target_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(40))
    strength: Mapped[float] = mapped_column(Float, default=0.5)
    reason: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now_col()


class GuardLesson(Base):
    """What a rejected or dropped record looked like; later records that resemble it are screened harder."""

    __tablename__ = "guard_lessons"
    __table_args__ = (_cube_owned("guard_lessons"), Index("ix_guard_lessons_cube", "cube_id", "created_at"))
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column()
    memory_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("memories.id", ondelete="SET NULL"))
    content: Mapped[str] = mapped_column(Text)
    embedding: Mapped[Any] = mapped_column(Vector(EMBEDDING_DIM), nullable=True)
    cues: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now_col()


class MemoryCoUse(Base):
    """How often ``/context`` carried the same top memories together; an activation is built for a set used
    often (the scheduler's transformation, ``memos.scheduler.transform``)."""

    __tablename__ = "memory_co_use"
    __table_args__ = (
        _cube_owned("memory_co_use"),
        UniqueConstraint("cube_id", "signature", name="uq_memory_co_use_cube_id_signature"),
        Index("ix_memory_co_use_ripe", text("uses DESC"), postgresql_where=text("activation_id IS NULL")),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column()
    signature: Mapped[str] = mapped_column(Text)
    memory_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)))
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    first_at: Mapped[datetime] = _now_col()
    last_at: Mapped[datetime] = _now_col()
    activation_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("memories.id", ondelete="SET NULL"))


class ChatMessage(Base):
    """A chat turn as received; memories made from it point here through their provenance."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_cube_session", "cube_id", "session_id", "seq"),
                      _cube_owned("messages"))
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID] = mapped_column()
    session_id: Mapped[str | None] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(BigInteger, Identity())
    role: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    job_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = _now_col()


class Job(Base):
    """A background job and its transactional-outbox row in one: written in the request's transaction,
    handed to Celery by the relay (``dispatched_at``), and updated by the task as it runs."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency"),
        Index("ix_jobs_cube_created", "cube_id", "created_at"),
        Index("ix_jobs_undispatched", "created_at", postgresql_where="dispatched_at IS NULL"),
        Index(
            "ix_jobs_unfinished", "dispatched_at",
            postgresql_where="status IN ('queued', 'running') AND dispatched_at IS NOT NULL",
        ),
    )
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=_uuid)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    cube_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("cubes.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    # The API key whose request enqueued the job (NULL for system jobs); ``tenant_id`` is that key's tenant.
    key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    llm_calls: Mapped[int] = mapped_column(Integer, default=0)
    llm_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _now_col()
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # retry backoff
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# ---------------------------------------------------------------- retrieval statistics (kept by triggers)
class CubeLexeme(Base):
    """BM25 document frequency of a lexeme in a cube; maintained by triggers on ``memories``."""

    __tablename__ = "cube_lexemes"
    __table_args__ = (_cube_owned("cube_lexemes"),)
    cube_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    lexeme: Mapped[str] = mapped_column(Text, primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    df: Mapped[int] = mapped_column(Integer)


class CubeTextStats(Base):
    """Memories with text in a cube and their total length in lexemes (BM25's N and avgdl)."""

    __tablename__ = "cube_text_stats"
    __table_args__ = (_cube_owned("cube_text_stats"),)
    cube_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    docs: Mapped[int] = mapped_column(BigInteger)
    total_len: Mapped[int] = mapped_column(BigInteger)


class CubeRole(Base):
    """A speaker/role seen in a cube and how many memories carry it (the cube's known speakers)."""

    __tablename__ = "cube_roles"
    __table_args__ = (_cube_owned("cube_roles"),)
    cube_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(200), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    n: Mapped[int] = mapped_column(Integer)
