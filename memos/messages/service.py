"""Chat messages: stored as received; each turn becomes a memory whose provenance points at it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import ChatMessage, Cube, Memory
from memcube.repository import messages as repo
from memos.embedding import Embedder
from memos.errors import PayloadTooLarge
from memos.memories.service import Limits, add_memories, check_content, utc

USER_ROLES = {"user", "human"}


def store_messages(
    session: Session, cube: Cube, req: schemas.MessagesCreate, *, limits: Limits
) -> list[ChatMessage]:
    if len(req.messages) > limits.max_batch_size:
        raise PayloadTooLarge(f"{len(req.messages)} messages; the limit is {limits.max_batch_size}")
    rows: list[dict[str, Any]] = []
    for msg in req.messages:
        check_content(msg.content, limits)
        rows.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": cube.tenant_id,
                "cube_id": cube.id,
                "session_id": req.session_id,
                "role": msg.role,
                "name": msg.name,
                "content": msg.content,
                "timestamp": utc(msg.timestamp),
            }
        )
    return repo.insert_messages(session, rows)


def memories_from_turns(
    session: Session,
    cube: Cube,
    messages: list[ChatMessage],
    *,
    actor: str,
    limits: Limits,
    embedder: Embedder,
) -> list[Memory]:
    """One memory per turn, with the speaker as role and provenance naming the message."""
    items = [
        schemas.MemoryCreate(
            content=m.content,
            event_time=m.timestamp or datetime.now(UTC),
            session_id=m.session_id,
            role=m.name or m.role,
            metadata={"message_role": m.role, **({"name": m.name} if m.name else {})},
            provenance=schemas.Provenance(
                source=schemas.SourceType.user if m.role.lower() in USER_ROLES else schemas.SourceType.agent,
                actor=m.name or m.role,
                message_ids=[m.id],
                session_id=m.session_id,
                trust=0.7 if m.role.lower() in USER_ROLES else 0.5,
            ),
        )
        for m in messages
    ]
    return add_memories(session, cube, items, actor=actor, limits=limits, embedder=embedder)
