"""Parametric memories (LoRA adapters): their heads and the plaintext memories a training job selects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from memcube.models import Memory

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
