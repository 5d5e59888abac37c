"""Score fusion and re-ranking of the candidate set (pure functions, no I/O).

Weighted fusion of min-max dense and max-normalised BM25 scores rather than reciprocal rank fusion (Cormack et
al. 2009): RRF throws away how much better the best match is. The structural boosts below were chosen while
looking at LoCoMo; docs/retrieval.md has their cross-validated figures and what each one is worth.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from memcube.repository.retrieval import Candidate
from memos.retrieval.query import QueryPlan
from memos.temporal import TimeRange, mentions_time

TOP_PER_SESSION = 3  # the session boost averages a session's best this many candidate scores


@dataclass(frozen=True)
class Weights:
    """Fusion weights and boosts (scores are in [0, 1] units before boosts)."""

    dense: float = 0.5  # lexical gets 1 - dense
    neighbour: float = 0.3
    speaker: float = 0.2
    time: float = 0.2
    time_range: float = 0.2
    session: float = 0.2


def _minmax(values: Sequence[float]) -> list[float]:
    lo, hi = min(values), max(values)
    span = hi - lo
    return [(v - lo) / span if span > 1e-9 else 0.0 for v in values]


def _in_range(when: datetime | None, r: TimeRange) -> bool:
    if when is None:
        return False
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (r.start is None or when >= r.start) and (r.end is None or when < r.end)


def base_scores(rows: Sequence[Candidate], dense_weight: float) -> dict[uuid.UUID, float]:
    """``w * minmax(dense) + (1 - w) * bm25 / max(bm25)`` over every fetched row (neighbours included)."""
    if not rows:
        return {}
    d = _minmax([r.dense for r in rows])
    top = max(r.lexical for r in rows)
    lx = [r.lexical / top if top > 0 else 0.0 for r in rows]
    return {r.id: dense_weight * d[i] + (1 - dense_weight) * lx[i] for i, r in enumerate(rows)}


def rerank(rows: Sequence[Candidate], q: QueryPlan, w: Weights) -> list[tuple[uuid.UUID, float]]:
    """Candidates (not the neighbours fetched for smoothing) with their final scores, best first."""
    f0 = base_scores(rows, w.dense)
    score: dict[uuid.UUID, float] = {}
    cands = [r for r in rows if r.is_candidate]
    for r in cands:
        s = f0[r.id]
        # A turn whose neighbours also match is more likely the evidence (answers span adjacent turns).
        s += w.neighbour * max(f0.get(r.prev_id, 0.0) if r.prev_id else 0.0,
                               f0.get(r.next_id, 0.0) if r.next_id else 0.0)
        if q.speaker is not None and r.role is not None and r.role.lower() == q.speaker.lower():
            s += w.speaker
        if q.asks_time and (r.has_dates or mentions_time(r.content)):
            s += w.time
        if q.time_range is not None and _in_range(r.event_time, q.time_range):
            s += w.time_range
        score[r.id] = s
    # Session boost: memories from the session where the query's topic is discussed most.
    groups: dict[object, list[float]] = {}
    key = {r.id: (r.session_id if r.session_id is not None else r.id) for r in cands}
    for r in cands:
        groups.setdefault(key[r.id], []).append(score[r.id])
    sb = {k: sum(sorted(v, reverse=True)[:TOP_PER_SESSION]) / TOP_PER_SESSION for k, v in groups.items()}
    final = {r.id: score[r.id] + w.session * sb[key[r.id]] for r in cands}
    return sorted(final.items(), key=lambda kv: kv[1], reverse=True)


_WORD = re.compile(r"\w+")


def _tokens(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def mmr(
    ranked: Sequence[tuple[uuid.UUID, float]], contents: dict[uuid.UUID, str], *, lam: float, k: int
) -> list[tuple[uuid.UUID, float]]:
    """Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998): greedily pick the item maximising
    ``lam * relevance - (1 - lam) * max similarity to what is already picked``. Similarity is the word-set
    Jaccard of the contents (near-copies score near 1), relevance the min-max-normalised fused score."""
    if not ranked:
        return []
    rel = dict(zip([i for i, _ in ranked], _minmax([s for _, s in ranked]), strict=True))
    toks = {i: _tokens(contents.get(i, "")) for i, _ in ranked}
    scores = dict(ranked)
    pool = [i for i, _ in ranked]
    picked: list[uuid.UUID] = []
    while pool and len(picked) < k:
        def value(i: uuid.UUID) -> float:
            sim = max((len(toks[i] & toks[j]) / max(len(toks[i] | toks[j]), 1) for j in picked), default=0.0)
            return lam * rel[i] - (1 - lam) * sim
        best = max(pool, key=value)
        picked.append(best)
        pool.remove(best)
    return [(i, scores[i]) for i in picked]
