"""LoCoMo data, scoring and the REST calls of ``bench/locomo.py``.

Questions keep the index of their conversation in the file (0-9), which is what the cross-validation folds
split on. Scores are per question, so any subset (a fold, a category) can be averaged afterwards.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from _common import _ok
from tqdm import tqdm

from memos.importers import LocomoConversation, locomo_conversation

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
HEADLINE_CATS = (1, 2, 3, 4)  # category 5 (adversarial) is reported apart
KS = (1, 5, 10)
BATCH = 200


@dataclass(frozen=True)
class Question:
    conv: int  # index of the conversation in the data file
    text: str
    category: int
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One question's figures: recall@1/5/10, hit@10 and reciprocal rank of the first evidence turn."""

    conv: int
    category: int
    r1: float
    r5: float
    r10: float
    hit10: float
    rr: float


def score_ranking(q: Question, ranked: list[str]) -> Row:
    ev = set(q.evidence)
    r1, r5, r10 = (len(ev & set(ranked[:k])) / len(ev) for k in KS)
    rr = next((1.0 / (i + 1) for i, d in enumerate(ranked) if d in ev), 0.0)
    return Row(q.conv, q.category, r1, r5, r10, 1.0 if ev & set(ranked[:10]) else 0.0, rr)


@dataclass
class Scores:
    """Per-question rows of one system, and its request latencies when it ran through the API."""

    rows: list[Row] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    ranked: list[list[str]] = field(default_factory=list)  # each question's top 10 turn ids

    def add(self, q: Question, ranked: list[str]) -> None:
        self.rows.append(score_ranking(q, ranked))
        self.ranked.append(ranked[:10])

    def select(self, convs: Iterable[int]) -> Scores:
        keep = set(convs)
        return Scores([r for r in self.rows if r.conv in keep])

    def mean(self, cats: tuple[int, ...]) -> tuple[list[float], int]:
        """Mean (R@1, R@5, R@10, hit@10, MRR) over the questions of ``cats`` and how many there were."""
        sel = [(r.r1, r.r5, r.r10, r.hit10, r.rr) for r in self.rows if r.category in cats]
        if not sel:
            return [float("nan")] * 5, 0
        return [sum(col) / len(sel) for col in zip(*sel, strict=True)], len(sel)

    def recall10(self, cats: tuple[int, ...] = HEADLINE_CATS) -> float:
        return self.mean(cats)[0][2]

    def __add__(self, other: Scores) -> Scores:
        return Scores(self.rows + other.rows, self.latencies + other.latencies, self.ranked + other.ranked)


def normalise_evidence(raw: list[str]) -> list[str]:
    """``D:11:26`` -> ``D11:26``, ``D30:05`` -> ``D30:5``, ``;``-joined lists split."""
    out = []
    for e in raw:
        for x in re.split(r"[;,\s]+", e):
            m = re.fullmatch(r"D:?(\d+):0*(\d+)", x.strip())
            if m:
                out.append(f"D{m.group(1)}:{m.group(2)}")
    return out


def load(path: Path) -> tuple[list[LocomoConversation], list[Question]]:
    """Every conversation of the file and every question whose evidence names turns that exist."""
    data = json.loads(path.read_text())
    convs: list[LocomoConversation] = []
    questions: list[Question] = []
    for ci, sample in enumerate(data):
        conv = locomo_conversation(sample)
        known = {m.metadata["dia_id"] for m in conv.memories}
        convs.append(conv)
        for qa in sample.get("qa", []):
            ev = [e for e in normalise_evidence(qa.get("evidence", [])) if e in known]
            if ev:
                questions.append(Question(ci, str(qa.get("question", "")), int(qa["category"]), tuple(ev)))
    return convs, questions


def ingest(
    client: httpx.Client, headers: dict[str, str], convs: list[LocomoConversation]
) -> tuple[list[str], float, int]:
    """One cube per conversation, one memory per turn; returns the cube ids, seconds spent, memories written."""
    cube_ids = []
    n = 0
    t0 = time.perf_counter()
    bar = tqdm(total=sum(len(c.memories) for c in convs), desc="ingest", unit="turn", leave=False)
    for conv in convs:
        cube = _ok(client.post("/v1/cubes", json={"name": f"locomo-{conv.sample_id}"}, headers=headers))
        cube_ids.append(cube["id"])
        items = [m.model_dump(mode="json", exclude_none=True) for m in conv.memories]
        for i in range(0, len(items), BATCH):
            _ok(client.post(f"/v1/cubes/{cube['id']}/memories", json={"memories": items[i:i + BATCH]},
                            headers=headers))
            bar.update(len(items[i:i + BATCH]))
        n += len(items)
    bar.close()
    return cube_ids, time.perf_counter() - t0, n


def api_search(
    client: httpx.Client, headers: dict[str, str], cube_ids: list[str], questions: list[Question],
    modes: list[str], *, desc: str,
) -> dict[str, Scores]:
    """Each question in each mode through ``POST /v1/cubes/{id}/search`` (top 10), modes interleaved so they
    see the same machine load."""
    for mode in modes:  # warm-up: first-request costs are not search costs
        client.post(f"/v1/cubes/{cube_ids[0]}/search", json={"query": "hello", "mode": mode}, headers=headers)
    out = {m: Scores() for m in modes}
    for q in tqdm(questions, desc=desc, unit="q", leave=False):
        for mode in modes:
            t = time.perf_counter()
            body = _ok(client.post(f"/v1/cubes/{cube_ids[q.conv]}/search",
                                   json={"query": q.text, "top_k": 10, "mode": mode}, headers=headers))
            out[mode].latencies.append(time.perf_counter() - t)
            out[mode].add(q, [str(r["memory"]["metadata"].get("dia_id")) for r in body["results"]])
    return out


def ranked_ids(questions: list[Question], rank: Callable[[Question], list[str]]) -> Scores:
    """Scores of a ranking function over ``questions`` (for the baselines computed in the bench process)."""
    sc = Scores()
    for q in questions:
        sc.add(q, rank(q))
    return sc
