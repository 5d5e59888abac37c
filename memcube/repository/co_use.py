"""Sets of memories carried together by ``/context``, counted; the ones used often enough for a snapshot."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from memcube.models import MemoryCoUse


@dataclass(frozen=True)
class CoUse:
    tenant_id: uuid.UUID
    cube_id: uuid.UUID
    signature: str
    memory_ids: tuple[uuid.UUID, ...]
    uses: int


def add_uses(session: Session, rows: Sequence[CoUse], at: datetime) -> None:
    """Count the uses (one statement; a set seen before adds to its row)."""
    if not rows:
        return
    session.execute(
        text(
            """
            INSERT INTO memory_co_use (id, tenant_id, cube_id, signature, memory_ids, uses, first_at, last_at)
            SELECT gen_random_uuid(), r.tenant_id, r.cube_id, r.signature,
                   ARRAY(SELECT jsonb_array_elements_text(r.ids)::uuid), r.uses, :at, :at
            FROM jsonb_to_recordset(CAST(:rows AS jsonb))
                 AS r(tenant_id uuid, cube_id uuid, signature text, ids jsonb, uses int)
            ON CONFLICT (cube_id, signature)
            DO UPDATE SET uses = memory_co_use.uses + EXCLUDED.uses, last_at = EXCLUDED.last_at
            """
        ),
        {"rows": _json(rows), "at": at},
    )


def _json(rows: Sequence[CoUse]) -> str:
    return json.dumps([{"tenant_id": str(r.tenant_id), "cube_id": str(r.cube_id), "signature": r.signature,
                        "ids": [str(m) for m in r.memory_ids], "uses": r.uses} for r in rows])


def ripe(session: Session, *, min_uses: int, used_since: datetime, limit: int) -> list[MemoryCoUse]:
    """Sets used at least ``min_uses`` times, lately, with no activation yet: most used first, locked
    (skip-locked) for the transformation sweep."""
    stmt = (
        select(MemoryCoUse)
        .where(MemoryCoUse.activation_id.is_(None), MemoryCoUse.uses >= min_uses, MemoryCoUse.last_at >= used_since)
        .order_by(MemoryCoUse.uses.desc())
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))
