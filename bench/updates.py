"""ADD / UPDATE / NOOP precision and recall of consolidation on an update set (``bench/data/updates_*.jsonl``).

    .venv/bin/python bench/updates.py bench/data/updates_dev.jsonl            # through the service
    .venv/bin/python bench/updates.py bench/data/updates_dev.jsonl --direct   # the offline consolidator only

Each case (see ``bench/data/README.md``) gets a cube of its own. Through the service (the default): its
``existing`` facts are posted through ``POST /v1/cubes/{id}/messages`` first, each as its own batch by its
speaker at its time (so they are memories as consolidation writes them), then the case's message; the jobs
run on the real background path (Redis + Celery + relay) when it starts, else through the same runner in
this process. ``--direct`` runs the offline consolidator in this process on the same texts (existing facts
as the candidates, no database): quick, for development; the service figure is the one to report.

Scoring, per case: an UPDATE or NOOP is the pair (decision, target existing fact); a predicted one counts
when the expected list has the same pair. ADD is whether the message adds anything new (the offline path
writes a turn's new sentences as one memory, so the number of ADD facts is not compared); an ADD that
``restates`` a stored fact with more details also counts as a NOOP of that fact. A DELETE
(retraction) counts as an UPDATE of its target: both end the target's validity. Precision and recall per
decision and micro-averaged over the three.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import _ok, create_workspace, print_table, run_service  # noqa: E402

DECISIONS = ("ADD", "UPDATE", "NOOP")
Item = tuple[str, int | None]  # (decision, target index or None for ADD)


def expected_items(case: dict[str, Any]) -> set[Item]:
    out: set[Item] = set()
    for e in case["expected"]:
        out.add(("ADD", None) if e["decision"] == "ADD" else (e["decision"], int(e["target"])))
    return out


def predicted_items(rows: list[dict[str, Any]], index_of: dict[str, int]) -> set[Item]:
    """Items from a job's decision rows; a target that is not one of the case's existing facts is dropped
    (it can only be an earlier fact of the same message)."""
    out: set[Item] = set()
    for r in rows:
        action = "UPDATE" if r["action"] == "DELETE" else r["action"]
        if action == "ADD":
            out.add(("ADD", None))
            if r.get("restates") in index_of:  # new details beside a restatement of a stored fact
                out.add(("NOOP", index_of[r["restates"]]))
        elif r.get("target_id") in index_of:
            out.add((action, index_of[r["target_id"]]))
    return out


def score(results: list[tuple[dict[str, Any], set[Item]]]) -> tuple[list[list[Any]], Counter[str]]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for case, got in results:
        want = expected_items(case)
        for d, t in got | want:
            if (d, t) in got and (d, t) in want:
                tp[d] += 1
            elif (d, t) in got:
                fp[d] += 1
                errors[f"{case['category']}: extra {d}"] += 1
            else:
                fn[d] += 1
                errors[f"{case['category']}: missed {d}"] += 1
    rows = []
    for d in (*DECISIONS, "micro"):
        t_, p_, n_ = (sum(c.values()) for c in (tp, fp, fn)) if d == "micro" else (tp[d], fp[d], fn[d])
        rows.append([d, f"{t_ / (t_ + p_):.3f}" if t_ + p_ else "n/a", f"{t_ / (t_ + n_):.3f}" if t_ + n_ else "n/a",
                     t_ + n_])
    return rows, errors


def run_direct(cases: list[dict[str, Any]]) -> list[tuple[dict[str, Any], set[Item], list[dict[str, Any]]]]:
    """The offline consolidator on each case, existing facts as candidates (no database)."""
    from memos.consolidation.offline import OfflineConsolidator
    from memos.consolidation.plan import plan_memories
    from memos.consolidation.types import Candidate, Turn
    from memos.embedding import get_embedder

    embedder = get_embedder()
    consolidator = OfflineConsolidator(embedder)
    out = []
    for case in cases:
        msg = case["message"]
        facts = consolidator.extract([Turn("user", msg["text"], msg["speaker"],
                                           datetime.fromisoformat(msg["event_time"]))])
        existing = [e["content"] for e in case["existing"]]
        ids = [uuid.uuid4() for _ in existing]
        vectors = embedder.embed([f.text for f in facts] + existing) if facts or existing else []
        for i, f in enumerate(facts):
            f.vector = vectors[i]
        old = vectors[len(facts):]
        candidates = [[Candidate(f"m{j + 1}", text, float(f.vector @ old[j]), memory_id=ids[j])  # type: ignore[operator]
                       for j, text in enumerate(existing)] for f in facts]
        for row in candidates:
            row.sort(key=lambda c: -c.similarity)
        decisions = consolidator.decide(facts, candidates)
        facts, decisions = plan_memories(facts, decisions)
        rows = [{"fact": facts[d.fact_index].text, "action": d.action.value, "reason": d.reason,
                 "target_id": str(d.target.memory_id) if d.target and d.target.memory_id else None,
                 "restates": str(d.restates.memory_id) if d.restates and d.restates.memory_id else None}
                for d in decisions]
        out.append((case, predicted_items(rows, {str(i): j for j, i in enumerate(ids)}), rows))
    return out


def run_service_cases(cases: list[dict[str, Any]], *, worker: bool
                      ) -> tuple[list[tuple[dict[str, Any], set[Item], list[dict[str, Any]]]], str]:
    from consolidation import in_process_runner, start_background, wait_cube_idle

    from memos.config import Settings
    from memos.database import resolve

    out = []
    with run_service(extra_env={"MEMOS_RUN_WORKERS": "false"}) as svc, ExitStack() as stack:
        ws = create_workspace(svc, name="updates")
        access = resolve(Settings(home=svc.home))
        mode, bg = "in-process runner", None
        if worker:
            try:
                bg = start_background(svc.home, access, stack)
                mode = "real worker (Redis + Celery + relay)"
            except Exception as exc:
                mode = f"in-process runner (background path failed: {type(exc).__name__}: {exc})"[:160]
        with httpx.Client(base_url=svc.base_url, timeout=300.0) as client:
            posted = []
            for case in cases:
                cube = _ok(client.post("/v1/cubes", json={"name": case["id"]}, headers=ws.headers))["id"]
                setup = []
                for e in case["existing"]:
                    body = {"messages": [{"role": "user", "name": e["speaker"], "content": e["content"],
                                          "timestamp": e["event_time"]}]}
                    setup.append(_ok(client.post(f"/v1/cubes/{cube}/messages", json=body, headers=ws.headers)))
                msg = case["message"]
                body = {"messages": [{"role": "user", "name": msg["speaker"], "content": msg["text"],
                                      "timestamp": msg["event_time"]}]}
                posted.append((case, cube, setup, _ok(client.post(f"/v1/cubes/{cube}/messages", json=body,
                                                                  headers=ws.headers))))
            if bg is None:
                in_process_runner(access, svc.home)()
            for case, cube, setup, accepted in posted:
                _, jobs = wait_cube_idle(client, ws.headers, cube, expect_at_least=len(setup) + 1, timeout_s=3600)
                by_id = {j["id"]: j for j in jobs}
                index_of: dict[str, int] = {}
                for i, s in enumerate(setup):
                    for r in (by_id[s["job_id"]].get("result") or {}).get("decisions", []):
                        if r["action"] == "ADD" and r.get("memory_id"):
                            index_of.setdefault(r["memory_id"], i)
                rows = (by_id[accepted["job_id"]].get("result") or {}).get("decisions", [])
                out.append((case, predicted_items(rows, index_of), rows))
    return out, mode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=Path)
    ap.add_argument("--direct", action="store_true", help="the offline consolidator in this process (no service)")
    ap.add_argument("--no-worker", action="store_true", help="run the jobs in this process (no Redis/Celery)")
    ap.add_argument("--show", type=int, default=0, metavar="N", help="print N wrong cases (development data only)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cases = [json.loads(line) for line in args.file.read_text().splitlines() if line.strip()]
    if args.direct:
        results, mode = run_direct(cases), "offline consolidator in process (--direct)"
    else:
        results, mode = run_service_cases(cases, worker=not args.no_worker)
    rows, errors = score([(c, got) for c, got, _ in results])
    print(f"{args.file.name}: {len(cases)} cases; {mode}")
    print_table(f"Decisions on {args.file.name} (target: precision and recall >= 0.9 on held-out)",
                ["decision", "precision", "recall", "support"], rows)
    print("errors by category:", "; ".join(f"{k} x{v}" for k, v in errors.most_common()))
    shown = 0
    for case, got, drows in results:
        if shown >= args.show or got == expected_items(case):
            continue
        shown += 1
        print(f"\n{case['id']} [{case['category']}] {case['message']['text']!r}")
        for i, e in enumerate(case["existing"]):
            print(f"  existing {i}: {e['content']}")
        print(f"  expected: {sorted(expected_items(case), key=str)}  got: {sorted(got, key=str)}")
        for r in drows:
            print(f"    {r['action']:6} {r['fact']!r} ({r.get('reason', '')})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
