"""What a search query asks for, beyond its words: which known speaker it names, whether it asks about
time, and which period it points at. Generic English rules; nothing here is tuned on a benchmark's questions."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from memos.temporal import TimeRange, asks_about_time, query_time_range


@dataclass(frozen=True)
class QueryPlan:
    raw: str
    text: str  # what is embedded and matched lexically: the query without the cube's speaker names
    speaker: str | None  # the one known speaker the query names, if exactly one
    asks_time: bool  # "when ...?", "how long ...", "before ...": memories that carry a time rank higher
    time_range: TimeRange | None  # "in May 2023", "after 2022", "last year"


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}(?:'s|’s)?\b", re.IGNORECASE)


def named_speakers(query: str, speakers: Sequence[str]) -> list[str]:
    return [s for s in speakers if s.strip() and _name_pattern(s).search(query)]


def strip_names(query: str, speakers: Sequence[str]) -> str:
    """The query without speaker names. In a conversation every turn is by one of a few speakers, so their
    names are near-constant features that swamp the embedding ("Wow, Caroline!" ranks first); the speaker
    is used as a boost instead. Falls back to the raw query when nothing else is left."""
    out = query
    for s in sorted(speakers, key=len, reverse=True):
        if s.strip():
            out = _name_pattern(s).sub(" ", out)
    out = re.sub(r"\s+", " ", out).strip()
    return out if re.search(r"\w", out) else query


def plan(query: str, speakers: Sequence[str], *, now: datetime | None = None) -> QueryPlan:
    named = named_speakers(query, speakers)
    return QueryPlan(
        raw=query,
        text=strip_names(query, speakers),
        speaker=named[0] if len(named) == 1 else None,
        asks_time=asks_about_time(query),
        time_range=query_time_range(query, now),
    )
