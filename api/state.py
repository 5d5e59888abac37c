"""What the app holds for its lifetime, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from memos.config import Settings
from memos.embedding import Embedder
from memos.memories.service import Limits
from memos.retrieval.access import AccessRecorder


@dataclass
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    embedder: Embedder
    admin_hash: str
    access: AccessRecorder

    @property
    def limits(self) -> Limits:
        return Limits.from_settings(self.settings)
