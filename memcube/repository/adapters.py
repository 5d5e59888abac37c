"""Parametric memories (LoRA adapters): their heads and the plaintext memories a training job selects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from memcube.models import Memory
from memcube.repository.activations import predicted_payloads

KIND = "parametric"


def list_in_cube(session: Session, cube_id: uuid.UUID, *, limit: int) -> list[Memory]:
    """The cube's adapters that are not deleted, newest first."""
    stmt = (select(Memory).options(defer(Memory.embedding))
            .where(Memory.cube_id == cube_id, Memory.kind == KIND, Memory.status != "deleted")
            .order_by(Memory.created_at.desc(), Memory.id.desc()).limit(limit))
    return list(session.scalars(stmt))


def training_sources(
    session: Session, cube_id: uuid.UUID, *, ids: Sequence[uuid.UUID] | None, tags: Sequence[str] | None, limit: int
) -> list[Memory]:
    """Live plaintext memories of the cube to train on, oldest first: ``ids`` (those of them that qualify),
    else those carrying every one of ``tags``, else the newest ``limit``."""
    stmt = (select(Memory).options(defer(Memory.embedding))
            .where(Memory.cube_id == cube_id, Memory.kind == "plaintext", Memory.status == "active"))
    if ids is not None:
        stmt = stmt.where(Memory.id.in_(list(ids)))
    elif tags:
        stmt = stmt.where(Memory.tags.contains(list(tags)))
    rows = list(session.scalars(stmt.order_by(Memory.created_at.desc(), Memory.id.desc()).limit(limit)))
    return sorted(rows, key=lambda m: (m.created_at, m.id))


def predicted(session: Session, cube_id: uuid.UUID, memory_ids: Sequence[uuid.UUID]
              ) -> list[tuple[str, str, dict[str, Any], int, int]]:
    """Adapters of the cube with weights, learned from any of ``memory_ids``: (model, blob sha256, LoRA config,
    number of sources, how many of them are among ``memory_ids``)."""
    return [(str(meta.get("model")), str(meta["blob_sha256"]), dict(meta.get("lora_config") or {}), sources, overlap)
            for meta, sources, overlap in predicted_payloads(session, cube_id, memory_ids, kind=KIND)]
