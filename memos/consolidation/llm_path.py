"""The LLM consolidator: one call extracts the facts of a whole message batch, one call decides for all of
them. Both ask for JSON validated by the pydantic models below (malformed output is retried by
``LLMClient``). The model never sees or returns UUIDs: candidates are named by short handles ("m3", "f0")
that are mapped back to ids here, and a handle that was not offered for that fact is refused, so a
decision can never touch an unrelated memory (A-MEM's links by rank position are the failure mode avoided).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from memos.consolidation.extract import speaker_of
from memos.consolidation.types import Action, Candidate, Decision, Fact, Turn
from memos.llm import LLMClient, UsageSink
from memos.temporal import resolve_dates

MAX_BATCH_CANDIDATES = 5  # earlier facts of the batch shown next to each fact

EXTRACT_SYSTEM = """You extract long-term memories from a conversation.
Return JSON: {"facts": [{"text": str, "message": int, "dates": [{"text": str, "date": "YYYY-MM-DD",
"granularity": "day|week|month|year"}]}]}.
Rules: one self-contained fact per item, written in the third person with the speaker's name instead of
"I"/"my" (e.g. "Alice lives in Paris"); make relative dates absolute using the message's timestamp
("yesterday" said on 2023-05-08 -> "on 7 May 2023") and list them in "dates"; skip greetings, questions,
small talk and the assistant's own suggestions; "message" is the index of the message the fact comes from.
Return {"facts": []} when nothing is worth remembering."""

DECIDE_SYSTEM = """You maintain a memory store. For each new fact, compare it with its candidate memories
and choose one action: ADD (new information), UPDATE (it changes or refines a candidate: give the target
handle and the merged text), DELETE (it retracts or contradicts a candidate: give the target handle),
NOOP (the information is already there). Only use handles listed for that fact.
Return JSON: {"decisions": [{"fact": int, "action": "ADD|UPDATE|DELETE|NOOP", "target": str|null,
"text": str|null, "reason": str}]} with one decision per fact."""


class _DateOut(BaseModel):
    text: str = ""
    date: str
    granularity: Literal["day", "week", "month", "year"] = "day"


class _FactOut(BaseModel):
    text: str = Field(min_length=1)
    message: int = Field(ge=0)
    dates: list[_DateOut] = Field(default_factory=list)


class ExtractionOut(BaseModel):
    facts: list[_FactOut]


class _DecisionOut(BaseModel):
    fact: int = Field(ge=0)
    action: Action
    target: str | None = None
    text: str | None = None
    reason: str = ""


class DecisionsOut(BaseModel):
    decisions: list[_DecisionOut]


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


class LLMConsolidator:
    """Two LLM calls per batch (plus retries on malformed output), counted into ``usage``."""

    name = "llm"

    def __init__(self, llm: LLMClient, *, usage: UsageSink | None = None) -> None:
        self.llm = llm
        self.usage = usage

    def extract(self, turns: list[Turn]) -> list[Fact]:
        speakers = [speaker_of(t) or t.role for t in turns]
        listing = [
            {"message": i, "speaker": speakers[i], "role": t.role,
             "timestamp": t.timestamp.isoformat() if t.timestamp else None, "content": t.content}
            for i, t in enumerate(turns)
        ]
        out = self.llm.complete_json(
            "extract", system=EXTRACT_SYSTEM, user=json.dumps({"messages": listing}, ensure_ascii=False),
            schema=ExtractionOut, usage=self.usage,
        )
        facts: list[Fact] = []
        for item in out.facts:
            if item.message >= len(turns):
                continue  # points at a message that is not in the batch
            turn = turns[item.message]
            ref = turn.timestamp or datetime.now(UTC)
            # Whatever relative phrase the model left in is resolved the offline way.
            text, resolved = resolve_dates(item.text.strip(), ref)
            dates = [d.model_dump() for d in item.dates if _day(d.date)] + [r.as_dict() for r in resolved]
            first = _day(dates[0]["date"]) if dates else None
            facts.append(Fact(
                text=text, turn_index=item.message, speaker=speakers[item.message],
                event_time=datetime.combine(first, datetime.min.time(), UTC) if first else ref,
                dates=dates,
            ))
        return facts

    def remember(self, texts: list[str], vectors: np.ndarray | list[np.ndarray]) -> None:
        """The model reads text, not vectors: nothing to keep."""

    def decide(self, facts: list[Fact], candidates: list[list[Candidate]]) -> list[Decision]:
        if not facts:
            return []
        offered: list[dict[str, Candidate]] = []
        listing: list[dict[str, Any]] = []
        for i, fact in enumerate(facts):
            pool = {c.handle: c for c in candidates[i]}
            # Earlier facts of the batch, most similar first, so a batch can correct itself.
            earlier = sorted(
                (Candidate(f"f{j}", facts[j].text, _cos(fact, facts[j]), fact_index=j) for j in range(i)),
                key=lambda c: -c.similarity,
            )[:MAX_BATCH_CANDIDATES]
            pool.update({c.handle: c for c in earlier})
            offered.append(pool)
            listing.append({"fact": i, "text": fact.text,
                            "candidates": [{"handle": h, "text": c.text} for h, c in pool.items()]})
        out = self.llm.complete_json(
            "decide", system=DECIDE_SYSTEM, user=json.dumps({"facts": listing}, ensure_ascii=False),
            schema=DecisionsOut, usage=self.usage,
        )
        by_fact: dict[int, _DecisionOut] = {}
        for d in out.decisions:
            by_fact.setdefault(d.fact, d)
        decisions: list[Decision] = []
        for i in range(len(facts)):
            found = by_fact.get(i)
            if found is None:
                decisions.append(Decision(i, Action.ADD, reason="the model gave no decision; kept as new"))
                continue
            d = found
            target = offered[i].get(d.target) if d.target else None
            if d.action in (Action.UPDATE, Action.DELETE) and target is None:
                decisions.append(Decision(i, Action.ADD, reason=f"{d.action.value} without a valid target "
                                                                f"({d.target!r}); kept as new"))
                continue
            decisions.append(Decision(i, d.action, target=target, reason=d.reason or "model decision",
                                      text=d.text if d.action is Action.UPDATE and d.text else None))
        return decisions


def _cos(a: Fact, b: Fact) -> float:
    if a.vector is None or b.vector is None:
        return 0.0
    return float((a.vector * b.vector).sum())
