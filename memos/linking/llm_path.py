"""Linking through the LLM: one call per batch proposes keywords, tags, a context and typed links for every
note. Neighbours are shown as handles ("n3") and mapped back to ids here; links to anything else, or of an
unknown type, are dropped."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from memcube.models import Memory
from memos.llm import LLMClient, UsageSink

SYSTEM = """You organise notes in a Zettelkasten. For each note give 3-7 keywords, 1-5 tags, a one-line
context, and links to the listed neighbour handles that are truly connected, each with a type (related,
supports, contradicts, supersedes, same_entity), a strength in [0, 1] and a short reason.
Return JSON: {"notes": [{"note": int, "keywords": [str], "tags": [str], "context": str,
"links": [{"target": str, "type": str, "strength": float, "reason": str}]}]}."""


class _LinkOut(BaseModel):
    target: str
    type: Literal["related", "supports", "contradicts", "supersedes", "same_entity"]
    strength: float = Field(ge=0.0, le=1.0)
    reason: str = ""


class _NoteOut(BaseModel):
    note: int = Field(ge=0)
    keywords: list[str] = Field(default_factory=list, max_length=20)
    tags: list[str] = Field(default_factory=list, max_length=20)
    context: str = ""
    links: list[_LinkOut] = Field(default_factory=list)


class LinkingOut(BaseModel):
    notes: list[_NoteOut]


@dataclass
class LinkProposal:
    target: uuid.UUID
    type: str
    strength: float
    reason: str


@dataclass
class NoteProposal:
    keywords: list[str]
    tags: list[str]
    context: str
    links: list[LinkProposal] = field(default_factory=list)


def propose(
    llm: LLMClient,
    heads: list[Memory],
    neighbour_map: dict[uuid.UUID, list[tuple[Memory, float]]],
    *,
    usage: UsageSink | None = None,
) -> dict[uuid.UUID, NoteProposal]:
    handles: dict[str, uuid.UUID] = {}
    by_id: dict[uuid.UUID, str] = {}
    notes = []
    for i, m in enumerate(heads):
        listed = []
        for n, _ in neighbour_map.get(m.id, []):
            h = by_id.setdefault(n.id, f"n{len(by_id) + 1}")
            handles[h] = n.id
            listed.append({"handle": h, "text": n.content[:500]})
        notes.append({"note": i, "text": m.content[:2000], "neighbours": listed})
    out = llm.complete_json("link", system=SYSTEM, user=json.dumps({"notes": notes}, ensure_ascii=False),
                            schema=LinkingOut, usage=usage)
    result: dict[uuid.UUID, NoteProposal] = {}
    for note in out.notes:
        if note.note >= len(heads) or heads[note.note].id in result:
            continue
        m = heads[note.note]
        allowed = {by_id[n.id] for n, _ in neighbour_map.get(m.id, [])}
        result[m.id] = NoteProposal(
            keywords=[k.strip().lower()[:200] for k in note.keywords if k.strip()][:10],
            tags=[t.strip().lower()[:200] for t in note.tags if t.strip()][:10],
            context=note.context.strip()[:300],
            links=[LinkProposal(handles[lk.target], lk.type, round(lk.strength, 3), lk.reason[:2000])
                   for lk in note.links if lk.target in allowed],
        )
    return result
