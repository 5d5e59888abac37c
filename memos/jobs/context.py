"""What a job handler gets besides its session and job row."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from memos.config import Settings
from memos.embedding import Embedder


@dataclass
class LLMUsage:
    """LLM calls and tokens spent by one job run; ``memos.llm`` adds to it, the runner records it."""

    calls: int = 0
    tokens: int = 0

    def add(self, calls: int, tokens: int) -> None:
        self.calls += calls
        self.tokens += tokens


@dataclass
class JobContext:
    """Process-wide resources for handlers (settings, the embedder) and the per-run usage counter.
    ``resources``: what a domain builds on first use and keeps for the process (the activation runtime:
    loaded models, snapshot cache); shared by every ``fresh`` copy."""

    settings: Settings
    embedder: Embedder
    usage: LLMUsage = field(default_factory=LLMUsage)
    resources: dict[str, Any] = field(default_factory=dict)

    def fresh(self) -> JobContext:
        """A copy with a zeroed usage counter, so one run's cost is never charged to another job."""
        return replace(self, usage=LLMUsage())
