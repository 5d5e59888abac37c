"""Per-session working memory (memos.scheduler.working): what answering from it costs in recall and saves in time.

LoCoMo, through the API of a service started here (with a private Redis, as ``memos serve`` has). Every query
is sent to ``POST /v1/cubes/{id}/context`` twice, interleaved (which goes first alternates): with the
session's ``working_session`` and without (a search of the whole cube, the baseline); ``top_k`` 10 and a
token budget that keeps all ten. Two workloads:

- ``turns``, an agent in conversation: the cube holds a conversation's first half of sessions; each later
  session is a working session whose queries are its turns, in order (the agent asks for context with every
  message it gets). Quality: the share of the full search's ten memories the working path returned too.
- ``questions``: the cube holds every turn; each conversation's QA questions, in the file's order, are one
  session. Quality: evidence recall@10 of both paths.

Printed per workload: the share of queries the working memory answered, the quality figures (on all queries
and on the reused ones), and latency p50 / p95 of both paths split by what the working path did (reused, or
searched and filled). Queries are ``--pause-ms`` apart (100 ms: an agent generates between turns, and a
working memory is written right after its answer, off the request path). The service waits out the working
memory's look-back for changes after ingesting (``COMMIT_LAG``), as an agent's cube is not one minute old.

The reuse threshold (``--reuse``, the service's ``MEMOS_WORKING_REUSE_SIMILARITY``, default 0.8) was set
before this bench first ran; nothing was tuned on its data.

    .venv/bin/python bench/working.py --convs 0,1,2
    .venv/bin/python bench/working.py --workload turns --reuse 0.9
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from _common import _ok, create_workspace, p50_p95, percentile, print_table, run_service
from _locomo import Question, ingest, load
from tqdm import tqdm

from memos.scheduler.working import COMMIT_LAG
from workers.redis_server import RedisServer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10.json"
BUDGET = 100_000  # tokens: every one of the ten memories is kept


@dataclass
class Query:
    cube: str
    session: str
    text: str
    question: Question | None = None  # the questions workload: its evidence


@dataclass
class Outcome:
    quality_full: float  # recall@10 (questions) or 1.0 (turns: the reference)
    quality_working: float  # recall@10 (questions) or the share of the full search's memories returned
    reused: bool
    similarity: float
    t_full: float
    t_working: float


def session_of(dia_id: str) -> int:
    return int(dia_id.split(":")[0].lstrip("D"))


def dia_ids(resp: dict[str, Any]) -> list[str]:
    return [str(m["metadata"].get("dia_id")) for m in resp["memories"]]


def run_queries(client: httpx.Client, headers: dict[str, str], queries: list[Query], desc: str,
                pause_s: float) -> list[Outcome]:
    out: list[Outcome] = []
    for i, q in enumerate(tqdm(queries, desc=desc, unit="q", leave=False)):
        time.sleep(pause_s)  # the agent's turn: the last answer's working-memory write lands meanwhile
        body = {"query": q.text, "top_k": 10, "token_budget": BUDGET}
        calls = [("full", body), ("working", {**body, "working_session": q.session})]
        if i % 2:
            calls.reverse()
        got: dict[str, tuple[dict[str, Any], float]] = {}
        for name, payload in calls:
            t = time.perf_counter()
            got[name] = (_ok(client.post(f"/v1/cubes/{q.cube}/context", json=payload, headers=headers)),
                         time.perf_counter() - t)
        (full, t_full), (work, t_work) = got["full"], got["working"]
        if q.question is not None:
            ev = set(q.question.evidence)
            qf, qw = (len(ev & set(dia_ids(r))) / len(ev) for r in (full, work))
        else:
            ref = {m["id"] for m in full["memories"]}
            qf, qw = 1.0, len(ref & {m["id"] for m in work["memories"]}) / max(1, len(ref))
        out.append(Outcome(qf, qw, bool(work["working"]["reused"]), float(work["working"]["similarity"]),
                           t_full, t_work))
    return out


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def report(name: str, quality: str, rows: list[Outcome], reuse: float) -> None:
    reused = [r for r in rows if r.reused]
    filled = [r for r in rows if not r.reused]
    print(f"\n[{name}] reuse threshold {reuse}: {len(reused)} of {len(rows)} queries answered from the working "
          f"memory ({len(reused) / max(1, len(rows)):.1%}); similarity to the closest earlier query p50 "
          f"{percentile([r.similarity for r in rows], 50):.2f}")
    qual = []
    for part_name, part in (("all", rows), ("reused ones", reused)):
        if part:
            f, w = mean([r.quality_full for r in part]), mean([r.quality_working for r in part])
            qual.append((part_name, len(part), f, w, w / f if f else float("nan")))
    print_table(f"[{name}] {quality}", ["queries", "n", "full search", "with working memory", "ratio"], qual)
    lat = []
    for part_name, part in (("reused", reused), ("searched + filled", filled), ("all", rows)):
        if part:
            f50, f95 = p50_p95([r.t_full for r in part])
            w50, w95 = p50_p95([r.t_working for r in part])
            lat.append((part_name, len(part), f50, f95, w50, w95, f50 / w50))
    print_table(f"[{name}] /context latency, ms", ["working path did", "n", "full p50", "full p95", "working p50",
                                                  "working p95", "full / working p50"], lat)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("LOCOMO_PATH", DATA)))
    ap.add_argument("--convs", default="0,1,2", help="comma-separated conversation indexes")
    ap.add_argument("--workload", choices=("turns", "questions", "both"), default="both")
    ap.add_argument("--reuse", type=float, default=0.8, help="MEMOS_WORKING_REUSE_SIMILARITY for the service")
    ap.add_argument("--max-queries", type=int, default=150, help="per conversation and workload (bounded runs)")
    ap.add_argument("--pause-ms", type=float, default=100.0,
                    help="between two queries (an agent generates between turns; the working memory is written then)")
    args = ap.parse_args(argv)
    if not args.data.exists():
        print(f"LoCoMo data not found at {args.data}", file=sys.stderr)
        return 2
    convs, questions = load(args.data)
    wanted = [int(x) for x in args.convs.split(",") if x.strip()]
    workloads = ("turns", "questions") if args.workload == "both" else (args.workload,)

    with tempfile.TemporaryDirectory(prefix="memos-working-redis-") as rdir, RedisServer(Path(rdir)) as redis, \
            run_service(extra_env={"MEMOS_REDIS_URL": redis.url,
                                   "MEMOS_WORKING_REUSE_SIMILARITY": str(args.reuse)}) as svc:
        ws = create_workspace(svc, name="working")
        with httpx.Client(base_url=svc.base_url, timeout=120.0) as client:
            plans: dict[str, list[Query]] = {}
            t0 = time.perf_counter()
            if "turns" in workloads:
                past = []
                later: list[list[Query]] = []
                for c in wanted:
                    conv = convs[c]
                    last = max(session_of(str(m.metadata["dia_id"])) for m in conv.memories)
                    half = last // 2
                    past.append(replace(conv, sample_id=f"{conv.sample_id}-past", memories=[
                        m for m in conv.memories if session_of(str(m.metadata["dia_id"])) <= half]))
                    later.append([Query("", f"conv-{c}-session-{session_of(str(m.metadata['dia_id']))}", m.content)
                                  for m in conv.memories if session_of(str(m.metadata["dia_id"])) > half
                                  ][: args.max_queries])
                cubes, secs, n = ingest(client, ws.headers, past)
                print(f"turns: ingested {n} turns (first half of each conversation's sessions) in {secs:.1f} s")
                plans["turns"] = [replace(q, cube=cube) for cube, qs in zip(cubes, later, strict=True)
                                  for q in qs]
            if "questions" in workloads:
                cubes, secs, n = ingest(client, ws.headers, [convs[c] for c in wanted])
                print(f"questions: ingested {n} turns in {secs:.1f} s")
                cube_of = dict(zip(wanted, cubes, strict=True))
                per: dict[int, int] = {}
                chosen = []
                for q in questions:
                    if q.conv in cube_of and q.category != 5 and per.get(q.conv, 0) < args.max_queries:
                        per[q.conv] = per.get(q.conv, 0) + 1
                        chosen.append(Query(cube_of[q.conv], f"questions-{q.conv}", q.text, q))
                plans["questions"] = chosen
            # Memories this recent count as changed since any fill: wait out the look-back once.
            time.sleep(max(0.0, COMMIT_LAG.total_seconds() + 1 - (time.perf_counter() - t0)))
            for cube in {q.cube for qs in plans.values() for q in qs}:  # first-request costs are not measured
                client.post(f"/v1/cubes/{cube}/context", json={"query": "hello"}, headers=ws.headers)
            results = {name: run_queries(client, ws.headers, qs, name, args.pause_ms / 1000)
                       for name, qs in plans.items()}
    print(f"\nconversations {wanted}, load average {os.getloadavg()[0]:.1f} at the end")
    if "turns" in results:
        report("turns", "share of the full search's 10 memories returned", results["turns"], args.reuse)
    if "questions" in results:
        report("questions", "evidence recall@10", results["questions"], args.reuse)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
