"""Differences between two versions of a memory: the content word by word, the other fields side by side.

``difflib.SequenceMatcher`` over words (with the whitespace kept as its own tokens, so the text reads back
exactly): a memory is a sentence or a paragraph, where a line diff would mark the whole text as changed.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from memcube.models import MemoryVersion

_TOKENS = re.compile(r"\s+|[^\s]+")

Op = Literal["same", "added", "removed"]


@dataclass(frozen=True)
class Segment:
    op: Op
    text: str


@dataclass(frozen=True)
class FieldChange:
    name: str
    before: str
    after: str


def words(old: str, new: str) -> list[Segment]:
    """``old`` -> ``new`` as runs of unchanged, removed and added text (removed before added)."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    out: list[Segment] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(Segment("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(Segment("removed", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(Segment("added", "".join(b[j1:j2])))
    return out


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def fields(old: MemoryVersion, new: MemoryVersion) -> list[FieldChange]:
    """The fields other than content that differ between two versions."""
    pairs = {
        "status": (old.status, new.status),
        "tags": (sorted(old.tags or []), sorted(new.tags or [])),
        "metadata": (old.meta or {}, new.meta or {}),
        "event time": (old.event_time, new.event_time),
        "risk": (old.risk, new.risk),
        "provenance": (old.provenance, new.provenance),
    }
    return [FieldChange(name, _shown(a), _shown(b)) for name, (a, b) in pairs.items() if a != b]
