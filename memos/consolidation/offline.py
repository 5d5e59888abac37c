"""The deterministic consolidator used when no LLM is configured.

For each fact, against each candidate (nearest existing memories, and earlier facts of the batch):
- NOOP when it says the same thing: same content tokens once relation wording, fillers and dates are
  dropped ("Alice lives in Paris" = "Alice is based in Paris these days"), or an equal/less specific value;
- UPDATE when it gives the same subject's same single-valued attribute a new value ("lives in Berlin" after
  "lives in Paris", "favourite color is now green"), or a multi-valued one with an explicit change marker;
- DELETE (a tombstone) when it negates or retracts the candidate ("no longer works at Acme",
  "doesn't like tea anymore", "quit my job at Acme");
- ADD otherwise.
The strongest verdict wins: NOOP over UPDATE over DELETE over ADD, ties broken by similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memos.consolidation.claims import Claim, read_claim
from memos.consolidation.extract import extract_facts
from memos.consolidation.types import Action, Candidate, Decision, Fact, Turn

# Cosine floors (all-MiniLM-L6-v2, normalized): below these two sentences are not about the same thing.
MIN_SIM_UPDATE = 0.45
MIN_SIM_DELETE = 0.45
NEAR_DUPLICATE = 0.95
# When both read as the same subject's same relation, the reading is the evidence; the cosine only guards
# against a misread ("Gustav joined Tyrell last week" vs "Gustav works at Acme" is ~0.41).
MIN_SIM_SLOT = 0.3


@dataclass(frozen=True)
class Verdict:
    action: Action
    reason: str


def _plain(tokens: frozenset[str]) -> frozenset[str]:
    return frozenset(t for t in tokens if not t.startswith("rel:"))


def compare(new: Claim, old: Claim, similarity: float) -> Verdict | None:
    """What ``new`` does to ``old`` (None: they are unrelated, or can both stand)."""
    if (new.episodic or old.episodic) and new.when and old.when and new.when != old.when:
        # "Ran a half marathon on 19 March" and "... on 16 April": two runs, whatever the wording.
        return None
    same_subject = bool(new.subject) and new.subject == old.subject
    same_slot = same_subject and new.relation is not None and (new.relation, new.attribute) == (
        old.relation, old.attribute)
    if new.negated:
        if old.negated:
            if new.tokens == old.tokens or (same_slot and new.value == old.value):
                return Verdict(Action.NOOP, "the same retraction is already recorded")
            return None
        if same_slot and similarity >= MIN_SIM_SLOT and (
            not new.value or new.value <= old.value or old.value <= new.value
        ):
            return Verdict(Action.DELETE, f"retracts {old.relation}: {' '.join(sorted(old.value)) or '-'}")
        plain_new, plain_old = _plain(new.tokens), _plain(old.tokens)
        if same_subject and plain_new and similarity >= MIN_SIM_DELETE:
            covered = len(plain_new & plain_old) / len(plain_new)
            if covered >= 0.75:
                return Verdict(Action.DELETE, "negates it")
        return None

    if new.tokens == old.tokens:
        if old.negated:
            return Verdict(Action.UPDATE, "re-asserts what was retracted")
        return Verdict(Action.NOOP, "already known")
    if old.negated:
        return None
    if same_slot:
        if new.value == old.value or (new.value and new.value < old.value):
            return Verdict(Action.NOOP, "already known (same value)")
        if old.value < new.value and similarity >= MIN_SIM_UPDATE:
            return Verdict(Action.UPDATE, "adds detail to the same fact")
        if (new.functional and similarity >= MIN_SIM_SLOT) or (new.change and similarity >= MIN_SIM_UPDATE):
            label = new.relation if not new.attribute else f"{new.relation} {new.attribute}"
            return Verdict(
                Action.UPDATE,
                f"{label} changed: {' '.join(sorted(old.value)) or '-'} -> {' '.join(sorted(new.value)) or '-'}",
            )
        return None
    if not same_subject or new.relation is not None and old.relation is not None:
        # different subjects, or two different known relations of one subject: both stand
        return Verdict(Action.NOOP, "near-duplicate") if similarity >= NEAR_DUPLICATE else None
    # At least one side has no known relation: compare content words.
    plain_new, plain_old = _plain(new.tokens), _plain(old.tokens)
    if plain_new == plain_old or (plain_new < plain_old and similarity >= 0.8):
        return Verdict(Action.NOOP, "already known")
    if plain_old < plain_new and similarity >= 0.8:
        return Verdict(Action.UPDATE, "adds detail to the same fact")
    if similarity >= NEAR_DUPLICATE:
        return Verdict(Action.NOOP, "near-duplicate")
    return None


_PRIORITY = {Action.NOOP: 3, Action.UPDATE: 2, Action.DELETE: 1}


class OfflineConsolidator:
    """Rules over claims and embeddings; no LLM, deterministic."""

    name = "offline"

    def extract(self, turns: list[Turn]) -> list[Fact]:
        return extract_facts(turns)

    def decide(self, facts: list[Fact], candidates: list[list[Candidate]]) -> list[Decision]:
        decisions: list[Decision] = []
        # What the batch has done so far: memory/fact handle -> its current text, and removed handles.
        current: dict[str, tuple[str, np.ndarray | None]] = {}
        removed: set[str] = set()
        live_facts: list[int] = []  # facts added by the batch, as candidates of later facts
        for i, fact in enumerate(facts):
            pool: list[Candidate] = []
            for c in candidates[i]:
                if c.handle in removed:
                    continue
                if c.handle in current:
                    text, vec = current[c.handle]
                    sim = float(np.dot(vec, fact.vector)) if vec is not None and fact.vector is not None \
                        else c.similarity
                    pool.append(Candidate(c.handle, text, sim, memory_id=c.memory_id))
                else:
                    pool.append(c)
            for j in live_facts:
                handle = f"f{j}"
                if handle in removed:
                    continue
                text, vec = current[handle]
                sim = float(np.dot(vec, fact.vector)) if vec is not None and fact.vector is not None else 0.0
                pool.append(Candidate(handle, text, sim, fact_index=j))
            decision = self._decide_one(i, fact, pool)
            decisions.append(decision)
            if decision.action is Action.ADD:
                current[f"f{i}"] = (fact.text, fact.vector)
                live_facts.append(i)
            elif decision.action is Action.UPDATE and decision.target is not None:
                current[decision.target.handle] = (fact.text, fact.vector)
            elif decision.action is Action.DELETE and decision.target is not None:
                removed.add(decision.target.handle)
        return decisions

    @staticmethod
    def _decide_one(i: int, fact: Fact, pool: list[Candidate]) -> Decision:
        new = read_claim(fact.text)
        best: tuple[int, float, Candidate, Verdict] | None = None
        for cand in pool:
            verdict = compare(new, read_claim(cand.text), cand.similarity)
            if verdict is None:
                continue
            key = (_PRIORITY[verdict.action], cand.similarity)
            if best is None or key > best[:2]:
                best = (key[0], key[1], cand, verdict)
        if best is None:
            return Decision(i, Action.ADD, reason="new information")
        _, _, cand, verdict = best
        return Decision(i, verdict.action, target=cand, reason=verdict.reason)
