"""What a memory is indexed as, computed at write time.

* Its vector (raw turns; consolidated facts are embedded as they are): the embedding of
  ``"{role}: {content}"`` (the speaker is part of what a chat turn means), blended
  with the stored vector of the previous memory of the same session: ``normalize((1 - w) * own + w * prev)``.
  The previous vector is already stored (or earlier in the batch), so the context costs no second embedding;
  it is a decaying average over the session (an exponential moving average of turns). ``w`` is
  ``MEMOS_CONTEXT_WEIGHT``; 0 turns it off. Measured on LoCoMo in docs/retrieval.md.
* Its dates: relative phrases ("yesterday", "last week", "in May") resolved against ``event_time`` with
  :mod:`memos.temporal`, kept in ``metadata["dates"]`` (unless the caller set that key).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import Cube
from memcube.repository import retrieval as repo
from memos.config import get_settings
from memos.embedding import Embedder
from memos.temporal import resolved_dates


def document_text(content: str, role: str | None) -> str:
    return f"{role}: {content}" if role else content


def session_of(item: schemas.MemoryCreate) -> str | None:
    return item.session_id or (item.provenance.session_id if item.provenance else None)


def is_turn(item: schemas.MemoryCreate) -> bool:
    """Raw turns get the speaker and session context; consolidated facts are self-contained sentences
    ("Alice moved to Berlin") compared with each other by consolidation, so they are embedded as they are."""
    return item.provenance is None or item.provenance.source != schemas.SourceType.consolidation


def blend(own: Any, prev: Any, weight: float) -> Any:
    v = (1.0 - weight) * np.asarray(own, dtype=np.float32) + weight * np.asarray(prev, dtype=np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def document_vectors(
    session: Session, cube: Cube, items: Sequence[schemas.MemoryCreate], embedder: Embedder,
    *, context_weight: float | None = None,
) -> list[Any]:
    """One vector per item, in order (see the module docstring)."""
    w = get_settings().context_weight if context_weight is None else context_weight
    turns = [is_turn(it) for it in items]
    own = embedder.embed([document_text(it.content, it.role) if t else it.content for it, t in zip(items, turns,
                                                                                                   strict=True)])
    sessions = [session_of(it) if t else None for it, t in zip(items, turns, strict=True)]
    if w <= 0 or not any(sessions):
        return list(own)
    tails = repo.session_tails(session, cube.id, sorted({s for s in sessions if s}))
    last: dict[str, Any] = {sid: vec for sid, (vec, _) in tails.items()}
    out: list[Any] = []
    for vec, sid in zip(own, sessions, strict=True):
        if sid is not None and sid in last:
            vec = blend(vec, last[sid], w)
        if sid is not None:
            last[sid] = vec
        out.append(vec)
    return out


def document_metadata(item: schemas.MemoryCreate) -> dict[str, Any]:
    """The item's metadata, with ``dates`` resolved from its content against its event time."""
    if item.event_time is None or "dates" in item.metadata:
        return item.metadata
    dates = resolved_dates(item.content, item.event_time)
    return {**item.metadata, "dates": dates} if dates else item.metadata
