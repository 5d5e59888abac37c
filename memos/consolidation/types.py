"""The values consolidation passes around, and the ``Consolidator`` interface both paths implement."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np


class Action(enum.StrEnum):
    ADD = "ADD"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    NOOP = "NOOP"


@dataclass(frozen=True)
class Turn:
    """A message of the batch as the consolidator sees it."""

    role: str
    content: str
    name: str | None = None
    timestamp: datetime | None = None
    message_id: uuid.UUID | None = None


@dataclass
class Fact:
    """A salient statement, speaker resolved and dates absolute."""

    text: str
    turn_index: int
    speaker: str
    event_time: datetime | None = None
    dates: list[dict[str, Any]] = field(default_factory=list)
    vector: np.ndarray | None = None
    # Every turn the fact stands for (one memory may hold several sentences of a speaker); empty = turn_index.
    turns: list[int] = field(default_factory=list)
    # False: the sentence names nobody ("The hours are brutal."); it is kept only as part of a fact of its turn.
    standalone: bool = True
    origin: int | None = None  # its index in the extracted list (kept when facts are grouped into memories)

    @property
    def turn_indexes(self) -> list[int]:
        return self.turns or [self.turn_index]


@dataclass(frozen=True)
class Candidate:
    """An existing memory a fact is compared with (``memory_id``), or an earlier fact of the same batch
    (``fact_index``), which the batch may itself have added or updated."""

    handle: str  # short name shown to the LLM ("m1", "f0") instead of a UUID
    text: str
    similarity: float
    memory_id: uuid.UUID | None = None
    fact_index: int | None = None
    speaker: str | None = None  # who said it, when known (the memory's role, the fact's speaker)


@dataclass
class Decision:
    fact_index: int
    action: Action
    target: Candidate | None = None
    reason: str = ""
    text: str | None = None  # the content to write (UPDATE may merge); None = the fact's text
    # An ADD that may change this candidate (a close match the rules could not call): linked ``may_update``.
    may_update: Candidate | None = None
    # An ADD that says this candidate again, with more: the candidate stands, the new details are written.
    restates: Candidate | None = None
    # Written as part of another fact of its turn (a detail or a continuation), not as a memory of its own.
    attach: bool = False
    # What else an UPDATE's sentence says beside the change (``text`` then holds the change alone): written as
    # an ADD of its own, so the successor stays one fact that a later change can supersede in turn.
    rest: str | None = None


class Consolidator(Protocol):
    """Extract facts from a batch of turns, then decide what each does to the memories it is compared with.

    ``candidates[i]`` are the nearest existing memories of fact ``i`` (best first). Implementations see
    earlier facts of the batch as candidates of later ones themselves, so a batch that says "I live in
    Paris ... actually I moved to Berlin" updates its own new memory."""

    name: str

    def extract(self, turns: list[Turn]) -> list[Fact]: ...

    def decide(self, facts: list[Fact], candidates: list[list[Candidate]]) -> list[Decision]: ...

    def remember(self, texts: list[str], vectors: np.ndarray | list[np.ndarray]) -> None:
        """Vectors of texts the pass encoded alone elsewhere (its facts), for rules that may encode the same
        texts again; a path that encodes nothing itself ignores them."""
