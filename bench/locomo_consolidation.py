"""LoCoMo through consolidation: does the consolidated cube keep the evidence the raw turns hold, in fewer
memories?

    .venv/bin/python bench/locomo_consolidation.py [--conversations N] [--every K]

Same run, same service (uvicorn on a fresh embedded PostgreSQL; jobs on the real background path, Redis +
Celery worker + outbox relay, when it starts, else through the same runner in this process; the output
says which):

- raw: every turn stored as one memory through ``POST /v1/cubes/{id}/memories`` (``bench/_locomo.ingest``:
  speaker as ``role``, the session's date as ``event_time``, the turn's ``dia_id`` in metadata);
- consolidated: the same turns through ``POST /v1/cubes/{id}/messages``, one batch per session (speaker
  names, the session's date as each message's timestamp), consolidated by the offline path.

Every question with evidence (categories 1-4; 5 apart) is searched in both cubes (hybrid, top 10). A
consolidated memory stands for the turns its provenance names (``message_ids``, mapped back to the turns'
``dia_id`` through the ids ``/messages`` returned); recall@10 is the share of a question's evidence turns
among the turns the top 10 memories stand for. Memories kept: the consolidated cubes' memories that are
not deleted (active, superseded and quarantined alike) per turn posted. Targets: consolidated recall@10
>= 0.95 of raw; <= 0.8 memories per turn.

Throughput: turns/s from the first ``/messages`` POST until every job (consolidation and the linking jobs
it enqueues) has finished, next to the raw embedding rate of the same texts measured in this run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import ROOT, _ok, create_workspace, print_table, run_service  # noqa: E402
from _locomo import CATEGORIES, HEADLINE_CATS, Question, Scores, ingest, load  # noqa: E402
from consolidation import (  # noqa: E402
    embedding_rate,
    in_process_runner,
    phase_totals,
    py_spy,
    start_background,
    wait_cube_idle,
)
from tqdm import tqdm  # noqa: E402

from memos.importers import LocomoConversation  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "locomo10.json"


def post_sessions(client: httpx.Client, headers: dict[str, str], conv: LocomoConversation
                  ) -> tuple[str, dict[str, str], int]:
    """A cube of its own, each session one ``/messages`` batch; returns the cube id, message id -> dia_id,
    and the number of jobs enqueued."""
    cube = _ok(client.post("/v1/cubes", json={"name": f"cons-{conv.sample_id}"}, headers=headers))
    sessions: dict[str, list[Any]] = {}
    for m in conv.memories:
        sessions.setdefault(m.session_id or "", []).append(m)
    dia_of: dict[str, str] = {}
    jobs = 0
    for sid, turns in sessions.items():
        body = {"session_id": sid, "idempotency_key": f"{conv.sample_id}:{sid}",
                "messages": [{"role": "user", "name": t.role, "content": t.content,
                              "timestamp": t.event_time.isoformat() if t.event_time else None} for t in turns]}
        accepted = _ok(client.post(f"/v1/cubes/{cube['id']}/messages", json=body, headers=headers))
        for mid, t in zip(accepted["message_ids"], turns, strict=True):
            dia_of[str(mid)] = str(t.metadata["dia_id"])
        jobs += accepted.get("job_id") is not None
    return cube["id"], dia_of, jobs


def memories_of(client: httpx.Client, headers: dict[str, str], cube_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = _ok(client.get(f"/v1/cubes/{cube_id}/memories", params=params, headers=headers))
        out += page["memories"]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def turns_of(memory: dict[str, Any], dia_of: dict[str, str]) -> list[str]:
    """The turns a consolidated memory stands for (its provenance's messages), or the raw turn's own id."""
    dia = (memory.get("metadata") or {}).get("dia_id")
    if dia:
        return [str(dia)]
    ids = (memory.get("provenance") or {}).get("message_ids") or []
    return [dia_of[str(m)] for m in ids if str(m) in dia_of]


def search_both(client: httpx.Client, headers: dict[str, str], raw_ids: list[str], cons_ids: list[str],
                dia_of: dict[str, str], questions: list[Question]) -> tuple[Scores, Scores]:
    raw, cons = Scores(), Scores()
    for q in tqdm(questions, desc="search", unit="q", leave=False):
        for cube_ids, scores in ((raw_ids, raw), (cons_ids, cons)):
            t = time.perf_counter()
            body = _ok(client.post(f"/v1/cubes/{cube_ids[q.conv]}/search",
                                   json={"query": q.text, "top_k": 10}, headers=headers))
            scores.latencies.append(time.perf_counter() - t)
            ranked: list[str] = []
            for r in body["results"]:
                for d in turns_of(r["memory"], dia_of):
                    if d not in ranked:
                        ranked.append(d)
            scores.add(q, ranked)
    return raw, cons


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--conversations", type=int, default=10, help="the first N conversations (dev runs)")
    ap.add_argument("--every", type=int, default=1, help="score every K-th question (dev runs)")
    ap.add_argument("--no-worker", action="store_true", help="run the jobs in this process (no Redis/Celery)")
    ap.add_argument("--py-spy", type=Path, default=None, metavar="DIR",
                    help="record the workers and the API with py-spy from the first POST to the last job (raw stacks)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    convs, questions = load(args.data)
    convs = convs[:args.conversations]
    questions = [q for q in questions if q.conv < len(convs)][::args.every]
    n_turns = sum(len(c.memories) for c in convs)
    texts = [m.content for c in convs for m in c.memories]
    print(f"{len(convs)} conversations, {n_turns} turns, {len(questions)} questions with evidence;"
          f" {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC", flush=True)

    with run_service(extra_env={"MEMOS_RUN_WORKERS": "false"}) as svc, ExitStack() as stack:
        ws = create_workspace(svc, name="locomo-cons")
        from memos.config import Settings
        from memos.database import resolve

        access = resolve(Settings(home=svc.home))
        mode, bg = "real worker (Redis + Celery + relay)", None
        if not args.no_worker:
            try:
                bg = start_background(svc.home, access, stack)
            except Exception as exc:  # report it and run the jobs here
                mode, bg = f"in-process runner (background path failed: {type(exc).__name__}: {exc})"[:160], None
        if bg is None and args.no_worker:
            mode = "in-process runner (--no-worker)"
        raw_rates = [embedding_rate(texts)]
        pids = {"worker": bg.worker.pid, "light": bg.light_worker.pid, "api": svc.proc.pid} if bg is not None else {}
        with httpx.Client(base_url=svc.base_url, timeout=600.0) as client:
            raw_ids, raw_s, _ = ingest(client, ws.headers, convs)
            spy = stack.enter_context(ExitStack())
            spy.enter_context(py_spy(pids, args.py_spy, "locomo"))
            t0 = time.perf_counter()
            cons_ids: list[str] = []
            dia_of: dict[str, str] = {}
            n_jobs = 0
            for conv in convs:
                cid, dias, jobs = post_sessions(client, ws.headers, conv)
                cons_ids.append(cid)
                dia_of.update(dias)
                n_jobs += jobs
            post_s = time.perf_counter() - t0
            if bg is None:
                in_process_runner(access, svc.home)()
                in_process_runner(access, svc.home)()  # the linking jobs the first pass enqueued
            end = t0
            all_jobs: list[dict[str, Any]] = []
            for cid in cons_ids:
                finished, jobs_list = wait_cube_idle(client, ws.headers, cid, expect_at_least=1, timeout_s=7200)
                end = max(end, finished)
                all_jobs += jobs_list
                failed = [j for j in jobs_list if j["status"] != "succeeded"]
                if failed:
                    print(f"cube {cid}: {len(failed)} failed jobs: {failed[0].get('error', '')[:300]}")
            e2e_s = end - t0
            spy.close()
            raw_rates.append(embedding_rate(texts))
            kept: Counter[str] = Counter()
            superseded: list[tuple[str, str]] = []  # a sample of (superseded memory, its successor)
            where: dict[tuple[int, str], set[str]] = {}  # (conversation, turn) -> statuses of memories holding it
            for ci, cid in enumerate(cons_ids):
                mems = memories_of(client, ws.headers, cid)
                by_id = {m["id"]: m for m in mems}
                for m in mems:
                    kept[m["status"]] += 1
                    if m["status"] == "archived" and len(superseded) < 12:
                        successor = by_id.get((m.get("metadata") or {}).get("superseded_by"), {})
                        superseded.append((m["content"][:140], successor.get("content", "?")[:140]))
                    for d in turns_of(m, dia_of):
                        where.setdefault((ci, d), set()).add(m["status"])
            raw_sc, cons_sc = search_both(client, ws.headers, raw_ids, cons_ids, dia_of, questions)

    kept_n = sum(n for s, n in kept.items() if s != "deleted")
    rows = []
    for cats, name in [*(((c,), f"{c} {CATEGORIES[c]}") for c in HEADLINE_CATS), (HEADLINE_CATS, "overall 1-4"),
                       ((5,), "5 adversarial (apart)")]:
        r, c = raw_sc.recall10(cats), cons_sc.recall10(cats)
        rows.append([name, sum(q.category in cats for q in questions), f"{r:.3f}", f"{c:.3f}",
                     f"{c / r:.3f}" if r else "n/a"])
    print_table("LoCoMo recall@10: consolidated (/messages) vs raw turns (/memories), same run",
                ["category", "n", "raw", "consolidated", "ratio (target >= 0.95)"], rows)
    print_table("Memories kept", ["figure", "value"], [
        ["turns posted", n_turns],
        ["consolidated memories (not deleted)", kept_n],
        ["by status", ", ".join(f"{s} {n}" for s, n in sorted(kept.items()))],
        ["memories per turn (target <= 0.8)", f"{kept_n / n_turns:.3f}"],
    ])
    evidence = {(q.conv, e) for q in questions if q.category in HEADLINE_CATS for e in q.evidence}
    held = Counter("active" if "active" in where.get(t, set()) else "superseded only" if where.get(t) else "none"
                   for t in evidence)
    print_table("Evidence turns (categories 1-4): where the consolidated cubes keep them",
                ["held in", "turns", "share"],
                [[k, n, f"{n / len(evidence):.3f}"] for k, n in held.most_common()])
    for old, new in superseded:
        print(f"superseded: {old!r}\n  by: {new!r}")
    e2e = n_turns / e2e_s
    print_table(f"Throughput ({mode}; {n_jobs} consolidation jobs)", ["figure", "value"], [
        ["raw ingest through /memories, turns/s", f"{n_turns / raw_s:.1f}"],
        ["POST /messages (requests only), turns/s", f"{n_turns / post_s:.1f}"],
        ["first POST -> last job done (consolidation + linking), turns/s", f"{e2e:.1f}"],
        ["raw embedding rate of the same texts, before / after, sentences/s",
         " / ".join(f"{x:.0f}" for x in raw_rates)],
        ["end to end / raw embedding (the higher) (target >= 0.8)", f"{e2e / max(raw_rates):.2f}"],
    ])
    print_table("Where the workers' time went (sum of the jobs' timings_ms)",
                ["job type", "passes", "phase", "seconds"], phase_totals(all_jobs))
    print(f"finished {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
