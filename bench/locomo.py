"""LoCoMo retrieval benchmark through the REST API, with a BM25 and a dense-only baseline in the same run.

Each LoCoMo conversation (``../shared/data/locomo10.json``) is ingested into its own cube through
``POST /v1/cubes/{id}/memories`` (one memory per turn: ``event_time`` = the session date, ``role`` = the
speaker, ``session_id``, the turn's ``dia_id`` in metadata; parsed by :mod:`memos.importers`). Then every
question with evidence is searched in its conversation's cube, and the evidence turns' ranks give
recall@1/5/10 (share of a question's evidence turns in the top k), hit@10 (any of them) and MRR (first one),
per category and over categories 1-4 (category 5, adversarial, apart).

Systems, same run, same turns:

* ``memos hybrid``: the service's default search (``mode=hybrid``);
* ``dense-only``: the service's ``mode=dense`` (pgvector cosine top-k of the raw question);
* ``BM25 (bm25s)``: bm25s over the turn texts, English stopwords, Snowball stemming when PyStemmer is
  installed (otherwise plain tokens; the line says which).

Targets (issue 3): hybrid recall@10 (1-4) >= 0.75, every category above BM25, hybrid search p95 <= 3x
dense-only p95. Settings are the service defaults; nothing is tuned on the questions. ``--conversations``
picks a subset (e.g. ``0,2,4,6,8`` to tune on one half and validate on the other); ``--env K=V`` passes a
setting to the service (e.g. ``MEMOS_CONTEXT_WEIGHT=0``).

Run: ``.venv/bin/python bench/locomo.py`` (about 5-8 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import ROOT, _ok, create_workspace, p50_p95, print_table, run_service  # noqa: E402

from memos.importers import LocomoConversation, locomo_conversation  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "locomo10.json"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop", 5: "adversarial"}
KS = (1, 5, 10)
BATCH = 200
TARGET_RECALL = 0.75
TARGET_LATENCY_RATIO = 3.0


@dataclass
class Question:
    conv: int
    text: str
    category: int
    evidence: list[str]


@dataclass
class Scores:
    """Per-question (category, recall@1, recall@5, recall@10, hit@10, reciprocal rank)."""

    rows: list[tuple[int, float, float, float, float, float]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def add(self, q: Question, ranked: list[str]) -> None:
        ev = set(q.evidence)
        rec = [len(ev & set(ranked[:k])) / len(ev) for k in KS]
        rr = next((1.0 / (i + 1) for i, d in enumerate(ranked) if d in ev), 0.0)
        self.rows.append((q.category, rec[0], rec[1], rec[2], 1.0 if ev & set(ranked[:10]) else 0.0, rr))

    def mean(self, cats: tuple[int, ...]) -> tuple[list[float], int]:
        sel = [r[1:] for r in self.rows if r[0] in cats]
        if not sel:
            return [float("nan")] * 5, 0
        return [sum(col) / len(sel) for col in zip(*sel, strict=True)], len(sel)


def normalise_evidence(raw: list[str]) -> list[str]:
    """``D:11:26`` -> ``D11:26``, ``D30:05`` -> ``D30:5``, ``;``-joined lists split."""
    out = []
    for e in raw:
        for x in re.split(r"[;,\s]+", e):
            m = re.fullmatch(r"D:?(\d+):0*(\d+)", x.strip())
            if m:
                out.append(f"D{m.group(1)}:{m.group(2)}")
    return out


def load(path: Path, picks: list[int] | None) -> tuple[list[LocomoConversation], list[Question]]:
    data = json.loads(path.read_text())
    convs: list[LocomoConversation] = []
    questions: list[Question] = []
    for ci, sample in enumerate(data):
        if picks is not None and ci not in picks:
            continue
        conv = locomo_conversation(sample)
        known = {m.metadata["dia_id"] for m in conv.memories}
        index = len(convs)
        convs.append(conv)
        for qa in sample.get("qa", []):
            ev = [e for e in normalise_evidence(qa.get("evidence", [])) if e in known]
            if ev:
                questions.append(Question(index, str(qa.get("question", "")), int(qa["category"]), ev))
    return convs, questions


def bm25_baseline(convs: list[LocomoConversation], questions: list[Question]) -> tuple[Scores, str]:
    import bm25s

    try:
        import Stemmer

        stemmer: Any = Stemmer.Stemmer("english")
        label = "BM25 (bm25s, stem)"
    except ImportError:  # PyStemmer is not a dependency; plain tokens then
        stemmer = None
        label = "BM25 (bm25s, no stem)"
    indexes = []
    for conv in convs:
        retriever = bm25s.BM25()
        corpus = bm25s.tokenize([m.content for m in conv.memories], stopwords="en", stemmer=stemmer,
                                show_progress=False)
        retriever.index(corpus, show_progress=False)
        indexes.append(retriever)
    scores = Scores()
    for q in questions:
        tokens = bm25s.tokenize([q.text], stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)[0]
        s = indexes[q.conv].get_scores(tokens)
        order = sorted(range(len(s)), key=lambda i: -s[i])[:10]
        scores.add(q, [str(convs[q.conv].memories[i].metadata["dia_id"]) for i in order])
    return scores, label


def ingest(
    client: httpx.Client, headers: dict[str, str], convs: list[LocomoConversation]
) -> tuple[list[str], float, int]:
    """One cube per conversation; returns the cube ids, seconds spent and memories written."""
    cube_ids = []
    n = 0
    t0 = time.perf_counter()
    for conv in convs:
        cube = _ok(client.post("/v1/cubes", json={"name": f"locomo-{conv.sample_id}"}, headers=headers))
        cube_ids.append(cube["id"])
        items = [m.model_dump(mode="json", exclude_none=True) for m in conv.memories]
        for i in range(0, len(items), BATCH):
            _ok(client.post(f"/v1/cubes/{cube['id']}/memories", json={"memories": items[i:i + BATCH]},
                            headers=headers))
        n += len(items)
    return cube_ids, time.perf_counter() - t0, n


def run_searches(
    client: httpx.Client, headers: dict[str, str], cube_ids: list[str], questions: list[Question],
    modes: list[str],
) -> dict[str, Scores]:
    """Each question in each mode, interleaved so both modes see the same machine load."""
    out = {m: Scores() for m in modes}
    for i, q in enumerate(questions):
        for mode in modes:
            t = time.perf_counter()
            body = _ok(client.post(f"/v1/cubes/{cube_ids[q.conv]}/search",
                                   json={"query": q.text, "top_k": 10, "mode": mode}, headers=headers))
            out[mode].latencies.append(time.perf_counter() - t)
            out[mode].add(q, [str(r["memory"]["metadata"].get("dia_id")) for r in body["results"]])
        if (i + 1) % 250 == 0:
            print(f"  {i + 1}/{len(questions)} questions", flush=True)
    return out


def report(systems: dict[str, Scores]) -> None:
    groups = [((c,), f"{c} {CATEGORIES[c]}") for c in (1, 2, 3, 4)] + [((1, 2, 3, 4), "overall 1-4"),
                                                                       ((5,), "5 adversarial (apart)")]
    rows = []
    for label, sc in systems.items():
        for cats, name in groups:
            m, n = sc.mean(cats)
            rows.append([label, name, *(f"{x:.3f}" if x == x else "n/a" for x in m), n])
    print_table("LoCoMo retrieval (recall@k = share of evidence turns in the top k)",
                ["system", "category", "R@1", "R@5", "R@10", "hit@10", "MRR", "n"], rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--conversations", default="", help="comma-separated conversation indexes (default: all)")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE setting for the service")
    ap.add_argument("--max-questions", type=int, default=0, help="for smoke runs: the first N questions")
    args = ap.parse_args(argv)
    picks = [int(x) for x in args.conversations.split(",") if x.strip()] or None
    convs, questions = load(args.data, picks)
    if args.max_questions:
        questions = questions[: args.max_questions]
    extra = dict(kv.split("=", 1) for kv in args.env)
    print(f"{len(convs)} conversations, {sum(len(c.memories) for c in convs)} turns, {len(questions)} questions"
          f" with evidence; service settings: {extra or 'defaults'}", flush=True)
    bm25, bm25_label = bm25_baseline(convs, questions)
    with run_service(extra_env=extra) as svc:
        ws = create_workspace(svc, name="locomo")
        with httpx.Client(base_url=svc.base_url, timeout=120.0) as client:
            cube_ids, secs, n = ingest(client, ws.headers, convs)
            print(f"ingest: {n} memories in {secs:.1f} s = {n / secs:.1f} memories/s", flush=True)
            # Warm-up (first-request costs are not search costs).
            for mode in ("hybrid", "dense"):
                client.post(f"/v1/cubes/{cube_ids[0]}/search", json={"query": "hello", "mode": mode},
                            headers=ws.headers)
            res = run_searches(client, ws.headers, cube_ids, questions, ["hybrid", "dense"])
    systems = {"memos hybrid": res["hybrid"], "dense-only (mode=dense)": res["dense"], bm25_label: bm25}
    report(systems)
    h50, h95 = p50_p95(res["hybrid"].latencies)
    d50, d95 = p50_p95(res["dense"].latencies)
    print(f"ingest rate: {n / secs:.1f} memories/s ({n} memories, {secs:.1f} s, through the API)")
    print(f"search latency through the API (ms): hybrid p50 {h50:.1f} p95 {h95:.1f} | dense-only p50 {d50:.1f}"
          f" p95 {d95:.1f} | p95 ratio {h95 / d95:.2f} (target <= {TARGET_LATENCY_RATIO})")
    overall = res["hybrid"].mean((1, 2, 3, 4))[0][2]
    beats = all(res["hybrid"].mean((c,))[0][2] > bm25.mean((c,))[0][2] for c in (1, 2, 3, 4))
    ok = overall >= TARGET_RECALL and beats and h95 / d95 <= TARGET_LATENCY_RATIO
    print(f"targets: recall@10 (1-4) {overall:.3f} >= {TARGET_RECALL}: {overall >= TARGET_RECALL}; every category"
          f" above BM25: {beats}; p95 ratio <= {TARGET_LATENCY_RATIO}: {h95 / d95 <= TARGET_LATENCY_RATIO}"
          f" -> {'MET' if ok else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
