"""Chat messages as received."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from memcube.models import ChatMessage


def insert_messages(session: Session, rows: list[dict[str, Any]]) -> list[ChatMessage]:
    if not rows:
        return []
    return list(session.scalars(insert(ChatMessage).returning(ChatMessage, sort_by_parameter_order=True), rows))


def get_messages(session: Session, message_ids: Sequence[uuid.UUID]) -> list[ChatMessage]:
    """Messages by id, in the order they were received."""
    if not message_ids:
        return []
    stmt = select(ChatMessage).where(ChatMessage.id.in_(list(message_ids))).order_by(ChatMessage.seq)
    return list(session.scalars(stmt))
