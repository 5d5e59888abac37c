"""What a worker process keeps: the database engine and the job context, created on first use after the
fork (never inherited from the parent process, whose sockets the children must not share)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from memcube.db import Database
from memos.config import Settings, get_settings
from memos.database import resolve
from memos.embedding import get_embedder
from memos.jobs.context import JobContext, LLMUsage


@dataclass
class Resources:
    settings: Settings
    database: Database
    ctx: JobContext

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.database.sessions


_resources: Resources | None = None
_lock = threading.Lock()


def get() -> Resources:
    global _resources
    if _resources is None:
        with _lock:
            if _resources is None:
                settings = get_settings()
                database = resolve(settings).database(pool_size=2)
                _resources = Resources(
                    settings=settings, database=database,
                    ctx=JobContext(settings=settings, embedder=get_embedder(settings), usage=LLMUsage()),
                )
    return _resources


def reset() -> None:
    """Forget the parent's engine after a fork (without closing its sockets, which the parent owns)."""
    global _resources
    if _resources is not None:
        _resources.database.engine.dispose(close=False)
    _resources = None
