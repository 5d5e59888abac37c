"""What the scheduler's routes answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class TierStatus(BaseModel):
    name: str = Field(description="gpu or cpu (the disk is the blob store behind them)")
    device: str
    emulated: bool = Field(description="a gpu tier held on the CPU device because there is no CUDA")
    budget_bytes: int
    used_bytes: int
    items: int
    adapters: int = Field(description="of the items, LoRA adapters (the others are KV snapshots); in the top tier an"
                          " adapter is in the serving model, below it its tensors wait in host memory")
    pinned: int
    hits: int = Field(description="requests served from this tier")
    promotions: int = Field(description="payloads moved in (from a slower tier or the disk)")
    demotions: int = Field(description="payloads moved out to a slower tier or the disk")
    bytes_in: int
    bytes_out: int
    seconds_in: float = Field(description="time spent moving payloads in")


class PlaintextTiers(BaseModel):
    """Where the plaintext memories the key can see sit (all tenants' with the admin key)."""

    long_term: int = Field(description="live (active) memories: the long-term store")
    archived: int = Field(description="out of the default search: archived cold by the sweep, or superseded")
    working_sessions: int | None = Field(description="sessions with a working memory now (None when its store, Redis,"
                                         " does not answer; docs/scheduler.md#working-memory)")


class SchedulerStatus(BaseModel):
    """This serving process's payload tiers, and where the plaintext memories the key can see sit."""

    policy: str = Field(description="MEMOS_TIER_POLICY: heat, lru or lfu")
    tiers: list[TierStatus]
    misses: int = Field(description="requests that read their payload from disk")
    prefetches: int
    prefetch_hits: int
    load_bytes: int = Field(description="bytes read from disk")
    load_seconds: float
    plaintext: PlaintextTiers | None = None


class TierMove(BaseModel):
    at: datetime
    kind: Literal["activation", "parametric"] = Field(description="a KV snapshot or a LoRA adapter")
    payload: str = Field(description="the payload's blob sha256")
    memory_ids: list[uuid.UUID] = Field(description="the memories whose payload it is (yours)")
    source: str
    target: str
    bytes: int
    ms: float
    reason: Literal["request", "prefetch", "budget", "pin", "evict", "demote", "made"]


class PinState(BaseModel):
    memory_id: uuid.UUID
    kind: Literal["activation", "parametric"]
    pinned: bool
    pinned_at: datetime | None
    payload: str
    residency: Literal["gpu", "cpu", "disk"] = Field(description="where this process holds the payload now")
