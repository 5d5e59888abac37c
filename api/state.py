"""What the app holds for its lifetime, built once at start-up."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from memos.config import Settings
from memos.embedding import Embedder
from memos.memories.service import Limits
from memos.retrieval.access import AccessRecorder
from memos.scheduler.predict import PayloadPredictor
from memos.scheduler.working import WorkingMemory, store_for
from memos.tenants.cache import PrincipalCache

if TYPE_CHECKING:
    from memos.activation.runtime import ActivationRuntime
    from memos.parametric.runtime import ParametricRuntime


@dataclass
class AppState:
    settings: Settings
    sessions: sessionmaker[Session]
    embedder: Embedder
    admin_hash: str
    access: AccessRecorder
    # API keys resolved lately (MEMOS_AUTH_CACHE_TTL_S).
    principals: PrincipalCache = field(init=False, repr=False)
    prefetch: PayloadPredictor = field(init=False, repr=False)
    # Activation memory's models, backend and snapshot cache (bounded by their settings): made on first use.
    _activation: ActivationRuntime | None = field(default=None, repr=False)
    _activation_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Parametric memory's adapter pool and mixed-adapter batcher, on the activation runtime's models.
    _parametric: ParametricRuntime | None = field(default=None, repr=False)
    # Sessions' working memory (memos.scheduler.working): in Redis when the service has one.
    working: WorkingMemory = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.principals = PrincipalCache(self.settings.auth_cache_ttl_s)
        # What search and context retrieve predicts which snapshots are asked for next (memos.scheduler.predict).
        self.prefetch = PayloadPredictor(self.sessions, lambda: self._activation, parametric=lambda: self._parametric)
        self.working = WorkingMemory(store_for(self.settings), self.settings)

    @property
    def limits(self) -> Limits:
        return Limits.from_settings(self.settings)

    @property
    def activation(self) -> ActivationRuntime:
        with self._activation_lock:
            if self._activation is None:
                from memos.activation.runtime import ActivationRuntime

                self._activation = ActivationRuntime.from_settings(self.settings)
            return self._activation

    @property
    def parametric(self) -> ParametricRuntime:
        activation = self.activation
        with self._activation_lock:
            if self._parametric is None or self._parametric.activation is not activation:
                from memos.parametric.runtime import ParametricRuntime

                self._parametric = ParametricRuntime.over(activation)
            return self._parametric
