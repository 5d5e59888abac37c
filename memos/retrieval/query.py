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


# Names looked for with a regex per query, at most: a query naming more speakers than this is not about one.
MAX_NAMES_PER_QUERY = 32
# re.IGNORECASE also matches "i" with the dotless and the dotted capital I; str.casefold does not.
_DOTTED_I = str.maketrans({"\u0130": "i", "\u0131": "i"})


def _fold(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_DOTTED_I).casefold()


def _present(query: str, speakers: Sequence[str]) -> list[str]:
    """The speakers whose name occurs in the query at all (a case-insensitive substring test): only these get
    a word-boundary regex, so a search compiles a few patterns, not one per speaker of the cube."""
    folded = _fold(query)
    out = [s for s in speakers if s.strip() and _fold(s) in folded]
    return out[:MAX_NAMES_PER_QUERY]


def _name_pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"\b{re.escape(name)}(?:'s|’s)?\b", re.IGNORECASE)


def named_speakers(query: str, speakers: Sequence[str]) -> list[str]:
    return [s for s in _present(query, speakers) if _name_pattern(s).search(query)]


def strip_names(query: str, speakers: Sequence[str]) -> str:
    """The query without speaker names. In a conversation every turn is by one of a few speakers, so their
    names are near-constant features that swamp the embedding ("Wow, Caroline!" ranks first); the speaker
    is used as a boost instead. Falls back to the raw query when nothing else is left."""
    out = query
    for s in sorted(_present(query, speakers), key=len, reverse=True):
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
