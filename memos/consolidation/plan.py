"""From decisions on sentences to the memories to write: a speaker's new sentences become one memory.

Facts are decided one sentence at a time (a sentence can restate, supersede or add), but a memory per
sentence stores 2-3 memories per chat turn. The new (ADD) sentences of one turn are written as one memory,
and a speaker's next turn in the same batch joins that memory when it continues the same topic (cosine of
its sentence to the memory's mean vector at least ``TOPIC_SIMILARITY``): "I went to a support group
yesterday" ... "The support group made me feel accepted" is one memory that names both messages in its
provenance. A memory of one turn's sentences gets the length-weighted mean of their vectors (no second
forward pass); a memory of several turns is embedded again as one text. Shared by both paths (the LLM's
facts of one turn are grouped the same way).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

from memos.consolidation.segment import MIN_CONTENT_WORDS, content_words
from memos.consolidation.types import Action, Decision, Fact

# Cosine with the speaker's name taken out; measured on LoCoMo conversations 0-4 (docs/consolidation.md):
# memories per turn against recall@10.
TOPIC_SIMILARITY = 0.42
# A memory stops growing at this many sentences (a long session on one topic stays retrievable in parts).
MAX_SENTENCES = 8


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def pooled(parts: Sequence[Fact]) -> np.ndarray | None:
    """The vector of a memory of several sentences of one turn from its sentences' vectors: their mean
    weighted by length, which is what the encoder's mean pooling over the whole text would weigh them by
    (without the attention across sentences), so the memory costs no second forward pass. None (embed the
    text again) for a memory of several turns, or when a part has no vector: pooling those was measured
    worse (LoCoMo conversations 0-1, same run conditions: recall@10 0.725 pooling every memory, 0.743
    pooling one turn's sentences only, 0.748 embedding every memory of several sentences again)."""
    vectors = [p.vector for p in parts if p.vector is not None]
    if len(vectors) < len(parts) or len({t for p in parts for t in p.turn_indexes}) > 1:
        return None
    weights = [max(1, len(p.text.split())) for p in parts]
    return _unit(np.sum([w * v for w, v in zip(weights, vectors, strict=True)], axis=0))


def _without(v: np.ndarray, name: np.ndarray | None) -> np.ndarray:
    """``v`` with the direction of the speaker's name taken out: facts that all start "Alice ..." are close
    through the name alone, which says nothing about their topic."""
    return v if name is None else _unit(v - float(np.dot(v, name)) * name)


def plan_memories(facts: list[Fact], decisions: list[Decision], *, batch_of: Sequence[Hashable] | None = None,
                  topic_similarity: float = TOPIC_SIMILARITY, name_vectors: Mapping[str, np.ndarray] | None = None,
                  ) -> tuple[list[Fact], list[Decision]]:
    """Group plain ADD decisions (no target, no conflict) into one fact per memory; every other decision
    passes through. ``batch_of[turn]`` keeps groups inside one batch (coalesced jobs stay apart). Targets
    that name an earlier fact of the batch are renumbered to the group that fact went into. ``name_vectors``
    (speaker -> the embedding of their name) takes the name out of the topic comparison."""
    facts, decisions = _split_rest(facts, decisions)
    groups: list[list[int]] = []  # fact indexes per memory
    open_group: dict[tuple[Hashable, str], int] = {}  # (batch, speaker) -> index in groups
    group_of: dict[int, int] = {}  # fact index -> group index
    out_order: list[tuple[str, int]] = []  # ("group", g) or ("decision", i), in decision order
    # A turn that writes nothing but details: they are what it says, grouped like any new sentence; unless it
    # says a known fact again, and they are short words around it ("As usual."): a longer detail may be what
    # the turn is about (LoCoMo: "Hey Evan, long time no see! <the news>").
    hosting = {facts[d.fact_index].turn_index for d in decisions
               if not d.attach and d.action in (Action.ADD, Action.UPDATE, Action.DELETE)}
    said_again = {facts[d.fact_index].turn_index: d.target for d in reversed(decisions)
                  if d.action is Action.NOOP and d.target is not None}
    decisions = [d if not d.attach or facts[d.fact_index].turn_index in hosting
                 else dataclasses.replace(d, attach=False, action=Action.NOOP, target=t,
                                          reason="a detail of what its turn says again")
                 if (t := said_again.get(facts[d.fact_index].turn_index)) is not None
                 and len(content_words(facts[d.fact_index].text)) <= MIN_CONTENT_WORDS
                 else dataclasses.replace(d, attach=False) for d in decisions]
    attached: list[Decision] = []
    for d in decisions:
        fact = facts[d.fact_index]
        if d.attach:
            attached.append(d)
            continue
        if d.action is not Action.ADD or d.target is not None or d.restates is not None:
            out_order.append(("decision", d.fact_index))
            continue
        key = (batch_of[fact.turn_index] if batch_of is not None else None, fact.speaker)
        g = open_group.get(key)
        if g is not None:
            members = groups[g]
            last_turn = facts[members[-1]].turn_index
            same_turn = fact.turn_index == last_turn
            if not same_turn:
                member_vectors = [v for i in members if (v := facts[i].vector) is not None]
                centroid = _unit(np.sum(member_vectors, axis=0)) if member_vectors else None
                name = (name_vectors or {}).get(fact.speaker)
                close = (centroid is not None and fact.vector is not None and float(np.dot(
                    _without(centroid, name), _without(fact.vector, name))) >= topic_similarity)
                if not close or len(members) >= MAX_SENTENCES:
                    g = None
        if g is None:
            groups.append([d.fact_index])
            g = len(groups) - 1
            open_group[key] = g
            out_order.append(("group", g))
        else:
            groups[g].append(d.fact_index)
        group_of[d.fact_index] = g

    # A detail joins the group that holds its turn's new sentences, in the order it was said.
    left: list[Decision] = []
    for d in attached:
        turn = facts[d.fact_index].turn_index
        g = next((group_of[i] for i in sorted(group_of) if facts[i].turn_index == turn), None)
        if g is None:
            left.append(d)
            continue
        groups[g] = sorted([*groups[g], d.fact_index])
        group_of[d.fact_index] = g
    attached = left

    by_fact = {d.fact_index: d for d in decisions}
    new_facts: list[Fact] = []
    new_decisions: list[Decision] = []
    index_of_fact: dict[int, int] = {}
    for kind, i in out_order:
        if kind == "decision":
            index_of_fact[i] = len(new_facts)
            new_facts.append(facts[i])
            new_decisions.append(dataclasses.replace(by_fact[i], fact_index=len(new_facts) - 1))
            continue
        members = groups[i]
        first = facts[members[0]]
        for m in members:
            index_of_fact[m] = len(new_facts)
        merged = dataclasses.replace(
            first,
            text=" ".join(facts[m].text for m in members),
            dates=[dt for m in members for dt in facts[m].dates],
            vector=pooled([facts[m] for m in members]),
            turns=sorted({t for m in members for t in facts[m].turn_indexes}),
        )
        new_facts.append(merged)
        d0 = next(by_fact[m] for m in members if not by_fact[m].attach)
        reasons = sorted({by_fact[m].reason for m in members if by_fact[m].reason})
        may = next((by_fact[m].may_update for m in members if by_fact[m].may_update is not None), None)
        new_decisions.append(dataclasses.replace(d0, fact_index=len(new_facts) - 1, reason="; ".join(reasons),
                                                 may_update=may, attach=False))
    _attach(facts, attached, new_facts, new_decisions, index_of_fact)
    # A fact of the batch that became part of a memory of several sentences is no longer one fact: what would
    # have superseded it is added beside it, linked ``may_update`` (a memory of several facts is never closed).
    sizes = {index_of_fact[m]: len(groups[g]) for m, g in group_of.items()}
    for k, d in enumerate(new_decisions):
        t = d.target
        if d.action in (Action.UPDATE, Action.DELETE) and t is not None and t.fact_index is not None \
                and sizes.get(index_of_fact.get(t.fact_index, -1), 1) > 1:
            new_decisions[k] = dataclasses.replace(d, action=Action.ADD, target=None, may_update=t,
                                                   reason=f"may update a fact of a longer memory ({d.reason})")
    # Targets naming an earlier fact of the batch follow it into its group.
    for k, d in enumerate(new_decisions):
        for attr in ("target", "may_update", "restates"):
            c = getattr(d, attr)
            if c is not None and c.fact_index is not None and c.fact_index in index_of_fact:
                new_decisions[k] = d = dataclasses.replace(
                    d, **{attr: dataclasses.replace(c, fact_index=index_of_fact[c.fact_index])})
    return new_facts, new_decisions


def _split_rest(facts: list[Fact], decisions: list[Decision]) -> tuple[list[Fact], list[Decision]]:
    """An UPDATE that names what else its sentence says (``Decision.rest``) becomes the change alone (its
    ``text``) and, right after it, an ADD of the rest: a fact of the same turn, grouped like any new sentence.
    Both texts are embedded again (``embed_memories``)."""
    if not any(d.rest for d in decisions):
        return facts, decisions
    facts = list(facts)
    out: list[Decision] = []
    for d in decisions:
        if not d.rest or d.action not in (Action.UPDATE, Action.DELETE):
            out.append(d)
            continue
        fact = facts[d.fact_index]
        if d.text:
            facts[d.fact_index] = dataclasses.replace(fact, text=d.text, vector=None)
        facts.append(dataclasses.replace(fact, text=d.rest, vector=None))
        out += [dataclasses.replace(d, rest=None),
                Decision(len(facts) - 1, Action.ADD, reason="said beside a change")]
    return facts, out


def _attach(facts: list[Fact], attached: list[Decision], new_facts: list[Fact], new_decisions: list[Decision],
            index_of_fact: dict[int, int]) -> None:
    """Each attached sentence joins the fact its turn writes nearest before it (else the first after it);
    with none, it is an ADD of its own."""
    writes = {Action.ADD, Action.UPDATE, Action.DELETE}
    origin = {k: i for i, k in sorted(index_of_fact.items(), reverse=True)}  # new index -> first original fact
    for d in attached:
        fact = facts[d.fact_index]
        hosts = [k for k, nd in enumerate(new_decisions)
                 if nd.action in writes and fact.turn_index in new_facts[k].turn_indexes and k in origin]
        before = [k for k in hosts if origin[k] < d.fact_index]
        after = [k for k in hosts if origin[k] > d.fact_index]
        host = max(before, key=lambda k: origin[k]) if before else min(after, key=lambda k: origin[k]) if after \
            else None
        if host is None:
            # The turn writes nothing else: what it says is its own memory (it passed the content test).
            index_of_fact[d.fact_index] = len(new_facts)
            new_facts.append(fact)
            new_decisions.append(dataclasses.replace(d, fact_index=len(new_facts) - 1, action=Action.ADD,
                                                     attach=False, reason="new information"))
            continue
        h = new_facts[host]
        text = f"{h.text} {fact.text}" if origin[host] < d.fact_index else f"{fact.text} {h.text}"
        # The host's vector already pools its own sentences: weigh it by its length against the detail's.
        vector = pooled([h, fact])
        new_facts[host] = dataclasses.replace(h, text=text, dates=h.dates + fact.dates, vector=vector)
        index_of_fact[d.fact_index] = host

