"""Consolidation benchmark: decision quality (offline path), end-to-end throughput, LLM calls per batch.

    .venv/bin/python bench/consolidation.py [--messages 400] [--seeds 7,1234]

1. Decisions: a seeded synthetic stream with ground truth (bench/_conversations.py) is posted through the
   REST API of a real service (uvicorn, fresh embedded PostgreSQL); the consolidation jobs run on the real
   background path (Redis + Celery worker + outbox relay from ``workers.embedded.background``) when it
   starts, else in this process through the same runner (the output says which). Each message's decision
   is read from its job's result and compared with the ground truth: precision and recall per action.
   Seed 7 is the development seed; 1234 is held out (its misses were read once, for the negation-copula
   rule; both seeds draw phrasings from the same template pools, so it tests the stream, not new wording).
2. Throughput (after a warm-up batch through the whole path): messages/s from the first POST until the
   last job (consolidation and the linking jobs it enqueued) has finished, next to the
   raw embedding rate of the same texts measured in this run (target: end-to-end >= half of it).
   ``--preload N`` first fills the cube with N unrelated memories (not timed): the same figures in a cube
   that already holds a lot.
3. LLM path: the same batches through the LLM consolidator with litellm ``mock_response`` (no network),
   counting calls per batch (target: 1 extraction + 1 decision call per batch).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import create_workspace, print_table, run_service  # noqa: E402
from bench._conversations import LabelledMessage, generate  # noqa: E402

if TYPE_CHECKING:
    from memos.database import DatabaseAccess

ACTIONS = ["ADD", "UPDATE", "DELETE", "NOOP"]


def post_stream(client: httpx.Client, cube_id: str, headers: dict[str, str],
                batches: list[list[LabelledMessage]]) -> list[dict[str, Any]]:
    accepted = []
    for i, batch in enumerate(batches):
        body = {"session_id": f"bench-{i // 10}", "idempotency_key": f"{cube_id}:{i}",
                "messages": [{"role": "user", "name": m.name, "content": m.content,
                              "timestamp": m.timestamp.isoformat()} for m in batch]}
        r = client.post(f"/v1/cubes/{cube_id}/messages", json=body, headers=headers)
        r.raise_for_status()
        accepted.append(r.json())
    return accepted


def wait_jobs(client: httpx.Client, headers: dict[str, str], job_ids: list[str], *, timeout_s: float,
              stall_s: float | None = None) -> list[dict[str, Any]] | None:
    """Poll until every job has finished; None if nothing moved for ``stall_s`` (no worker running)."""
    start = last_progress = time.monotonic()
    done: dict[str, dict[str, Any]] = {}
    while time.monotonic() - start < timeout_s:
        for jid in [j for j in job_ids if j not in done]:
            job = client.get(f"/v1/jobs/{jid}", headers=headers).json()
            if job["status"] in ("succeeded", "failed"):
                done[jid] = job
                last_progress = time.monotonic()
            elif job["status"] == "running":
                last_progress = time.monotonic()
            else:
                break  # jobs run roughly in order: poll the first unfinished one only
        if len(done) == len(job_ids):
            return [done[j] for j in job_ids]
        if stall_s is not None and time.monotonic() - last_progress > stall_s:
            return None
        time.sleep(0.2)
    raise TimeoutError(f"{len(done)}/{len(job_ids)} jobs finished in {timeout_s:.0f}s")


def wait_cube_idle(client: httpx.Client, headers: dict[str, str], cube_id: str, *, expect_at_least: int,
                   timeout_s: float, poll_s: float = 0.1) -> tuple[float, list[dict[str, Any]]]:
    """Poll the cube's job list (one request per poll) until at least ``expect_at_least`` jobs exist and
    every one of them (consolidation AND the linking jobs they enqueue) has finished. Returns the time the
    last one finished (``time.perf_counter`` scale, from its ``finished_at``) and the jobs."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        jobs = client.get(f"/v1/cubes/{cube_id}/jobs", params={"limit": 500}, headers=headers).json()["jobs"]
        if len(jobs) >= expect_at_least and all(j["status"] in ("succeeded", "failed") for j in jobs):
            # Seen now; the last job finished up to one poll earlier: take its own finish time.
            now_wall, now_perf = time.time(), time.perf_counter()
            last = max(datetime.fromisoformat(j["finished_at"]).timestamp() for j in jobs)
            return now_perf - max(0.0, now_wall - last), jobs
        time.sleep(poll_s)
    raise TimeoutError(f"the cube's jobs did not all finish in {timeout_s:.0f}s")


def score(batches: list[list[LabelledMessage]], jobs: list[dict[str, Any]],
          message_ids: list[list[str]]) -> tuple[dict[str, tuple[float, float, int]], Counter[str]]:
    """Per action: (precision, recall, support). A message's prediction is the action of its fact; a
    message with no fact predicts None, with several facts the first (and counts a split)."""
    predicted: dict[str, str | None] = {}
    splits: Counter[str] = Counter()
    for job, ids in zip(jobs, message_ids, strict=True):
        by_msg: dict[str, list[str]] = {}
        for d in (job.get("result") or {}).get("decisions", []):
            by_msg.setdefault(d["message_id"], []).append(d["action"])
        for mid in ids:
            acts = by_msg.get(mid, [])
            predicted[mid] = acts[0] if acts else None
            if len(acts) > 1:
                splits["multi-fact"] += 1
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for batch, ids in zip(batches, message_ids, strict=True):
        for m, mid in zip(batch, ids, strict=True):
            p, e = predicted[mid], m.expected
            if p == e:
                if e:
                    tp[e] += 1
                continue
            if p:
                fp[p] += 1
            if e:
                fn[e] += 1
            splits[f"{m.kind}: expected {e}, got {p}"] += 1
    out = {}
    for a in ACTIONS:
        prec = tp[a] / (tp[a] + fp[a]) if tp[a] + fp[a] else float("nan")
        rec = tp[a] / (tp[a] + fn[a]) if tp[a] + fn[a] else float("nan")
        out[a] = (prec, rec, tp[a] + fn[a])
    return out, splits


def phase_totals(jobs: list[dict[str, Any]]) -> list[list[Any]]:
    """Rows (job type, passes, phase, total seconds) from the ``timings_ms`` the jobs' results report: where
    the worker's time went. Absorbed (coalesced) jobs report none; the job that ran their pass does."""
    passes: Counter[str] = Counter()
    totals: dict[tuple[str, str], float] = {}
    for j in jobs:
        timings = (j.get("result") or {}).get("timings_ms")
        if not timings:
            continue
        passes[j["type"]] += 1
        for phase, ms in timings.items():
            totals[(j["type"], phase)] = totals.get((j["type"], phase), 0.0) + ms / 1000
    return [[t, passes[t], phase, f"{sec:.2f}"] for (t, phase), sec in sorted(totals.items())]


def embedding_rate(texts: list[str]) -> float:
    from memos.embedding import get_embedder

    embedder = get_embedder()
    embedder.embed(texts[:16])
    t = time.perf_counter()
    embedder.embed(texts)
    return len(texts) / (time.perf_counter() - t)


def start_background(home: Path, access: DatabaseAccess, stack: ExitStack) -> Any:
    """The real background path (Redis, Celery worker, outbox relay) for the service under ``home``, on its
    database with its context key, closed with ``stack``; raises when it cannot start."""
    from memos.config import Settings
    from workers.embedded import background

    bg_settings = Settings(home=home / "bg", database_url=access.app_url,
                           context_secret=access.context_key.decode(), run_workers=True, log_level="WARNING")
    (home / "bg").mkdir(exist_ok=True)
    return stack.enter_context(background(bg_settings, access))


def in_process_runner(access: DatabaseAccess, home: Path) -> Any:
    """Run queued jobs here, through the real runner (used when the background path does not start)."""
    from memcube.db import SYSTEM
    from memcube.repository import jobs as jobs_repo
    from memos.config import Settings
    from memos.embedding import get_embedder
    from memos.jobs.context import JobContext
    from memos.jobs.runner import run_job

    db = access.database(pool_size=2)
    ctx = JobContext(settings=Settings(home=home), embedder=get_embedder())

    def drain() -> None:
        while True:
            with db.session(SYSTEM) as s:
                ids = [j.id for j in jobs_repo.undispatched(s, limit=50)]
            if not ids:
                return
            for jid in ids:
                run_job(db.sessions, jid, ctx)

    return drain


def llm_calls_per_batch(access: DatabaseAccess, home: Path, batches: list[list[LabelledMessage]], tenant_id: str,
                        cube_id: str) -> tuple[float, float, int]:
    """The LLM consolidator on the stored batches, with a mock model: (calls/batch, tokens/batch, batches)."""
    import json

    from memcube import schemas
    from memcube.repository import cubes as cubes_repo
    from memcube.repository import jobs as jobs_repo
    from memos.config import Settings
    from memos.consolidation.extract import extract_facts
    from memos.consolidation.service import build_consolidator, consolidate
    from memos.consolidation.types import Turn
    from memos.embedding import get_embedder
    from memos.jobs.context import LLMUsage
    from memos.llm import LLMClient
    from memos.memories.service import Limits
    from memos.messages.service import store_messages

    def model(task: str, messages: list[dict[str, str]]) -> str:
        payload = json.loads(messages[1]["content"])
        if task == "extract":
            turns = [Turn("user", m["content"], m["speaker"]) for m in payload["messages"]]
            return json.dumps({"facts": [{"text": f.text, "message": f.turn_index} for f in extract_facts(turns)]})
        return json.dumps({"decisions": [{"fact": f["fact"], "action": "ADD", "reason": "mock"}
                                         for f in payload["facts"]]})

    db = access.database(pool_size=2)
    settings = Settings(home=home)
    calls = tokens = 0
    for i, batch in enumerate(batches):
        usage = LLMUsage()
        with db.session(uuid.UUID(tenant_id)) as s:
            cube = cubes_repo.get_cube(s, uuid.UUID(cube_id))
            assert cube is not None
            req = schemas.MessagesCreate(messages=[schemas.Message(role="user", name=m.name, content=m.content,
                                                                   timestamp=m.timestamp) for m in batch])
            # A job row of its own type, finished here: no worker picks it up.
            job, _ = jobs_repo.enqueue(s, tenant_id=uuid.UUID(tenant_id), cube_id=cube.id, type="bench.llm",
                                       payload={}, idempotency_key=f"llm-{i}")
            msgs = store_messages(s, cube, req, limits=Limits())
            job.payload = {"message_ids": [str(m.id) for m in msgs]}
            job.status = "succeeded"
            consolidator = build_consolidator(settings, usage=usage, llm=LLMClient("gpt-4o-mini", mock=model))
            consolidate(s, job, settings=settings, embedder=get_embedder(), usage=usage, consolidator=consolidator)
        calls += usage.calls
        tokens += usage.tokens
    db.dispose()
    return calls / len(batches), tokens / len(batches), len(batches)


def preload(svc: Any, ws: Any, n: int, seed: int) -> None:
    """``n`` unrelated memories (bench/_synthetic.py: other people, same kinds of facts) through the API,
    and their linking jobs run, before the timed stream: consolidation in a cube that already holds a lot."""
    from bench._synthetic import generate_facts, memory_payload

    facts = generate_facts(n, seed=seed + 500)
    with httpx.Client(base_url=svc.base_url, timeout=600.0) as client:
        for i in range(0, n, 500):
            body = {"memories": [memory_payload(f) for f in facts[i:i + 500]]}
            client.post(f"/v1/cubes/{ws.cube_id}/memories", json=body, headers=ws.headers).raise_for_status()
        wait_cube_idle(client, ws.headers, ws.cube_id, expect_at_least=(n + 499) // 500, timeout_s=3600)
    # As autovacuum would have by now in a cube that has been there a while (right after a bulk load the
    # planner still thinks the cube is tiny and scans it instead of using the HNSW index).
    import psycopg

    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        conn.execute("ANALYZE")


def warm_up(svc: Any, seed: int) -> None:
    """One batch through the whole path in a cube of its own (worker imports, model load, first queries),
    so the timed run measures the service as it runs, not its start."""
    ws = create_workspace(svc, name=f"warmup{seed}")
    warm = generate(seed + 10_000, messages=16)
    with httpx.Client(base_url=svc.base_url, timeout=60.0) as client:
        post_stream(client, ws.cube_id, ws.headers, warm)
        wait_cube_idle(client, ws.headers, ws.cube_id, expect_at_least=len(warm), timeout_s=300)


@contextmanager
def py_spy(pids: dict[str, int], out_dir: Path | None, tag: str) -> Iterator[None]:
    """``py-spy record`` (raw collapsed stacks) of the given processes for the duration of the block."""
    if out_dir is None:
        yield
        return
    import shutil
    import signal
    import subprocess

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out_dir.mkdir(parents=True, exist_ok=True)
    procs = [subprocess.Popen([exe, "record", "--pid", str(pid), "--rate", "200", "--format", "raw",
                               "--subprocesses", "--idle", "-o", str(out_dir / f"{tag}-{name}.txt")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name, pid in pids.items()]
    time.sleep(1.0)  # py-spy attaches
    try:
        yield
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            p.wait(30)


def run_seed(seed: int, n_messages: int, *, llm_batches: int, profile_dir: Path | None = None,
             preload_n: int = 0) -> dict[str, Any]:
    batches = generate(seed, messages=n_messages)
    texts = [m.content for b in batches for m in b]
    with run_service(extra_env={"MEMOS_RUN_WORKERS": "false"}) as svc, ExitStack() as stack:
        ws = create_workspace(svc, name=f"seed{seed}")
        from memos.config import Settings
        from memos.database import resolve

        access = resolve(Settings(home=svc.home))  # the service's embedded server, its context key
        mode = "real worker (Redis + Celery + relay)"
        bg = None
        try:
            bg = start_background(svc.home, access, stack)
            if bg is None:
                raise RuntimeError("background path disabled")
            warm_up(svc, seed)
        except Exception as exc:  # the infra half may not be there yet: say so, run the jobs here instead
            mode = f"in-process runner (background path failed: {type(exc).__name__}: {str(exc)[:80]})"
            bg = None
        if preload_n:
            # Outside the try above: a preload that fails must stop the run, not switch the runner.
            if bg is None:
                raise SystemExit(f"--preload needs the background path ({mode})")
            preload(svc, ws, preload_n, seed)
        # The raw rate before and after the timed run (the machine's load moves); the higher one is the
        # baseline, which is the harder comparison.
        raw_rates = [embedding_rate(texts)]
        pids = {"worker": bg.worker.pid, "light": bg.light_worker.pid, "api": svc.proc.pid} if bg is not None else {}
        with httpx.Client(base_url=svc.base_url, timeout=60.0) as client, py_spy(pids, profile_dir, f"seed{seed}"):
            t0, t0_wall = time.perf_counter(), time.time()
            accepted = post_stream(client, ws.cube_id, ws.headers, batches)
            post_s = time.perf_counter() - t0
            job_ids = [a["job_id"] for a in accepted]
            jobs = None
            if bg is not None:
                jobs = wait_jobs(client, ws.headers, job_ids, timeout_s=1800, stall_s=60)
                if jobs is None:
                    mode = "in-process runner (the worker made no progress for 60 s)"
            if jobs is None:
                in_process_runner(access, svc.home)()
                jobs = wait_jobs(client, ws.headers, job_ids, timeout_s=60)
            consolidated_s = max(datetime.fromisoformat(j["finished_at"]).timestamp() for j in jobs)
            consolidated_s = time.perf_counter() - max(0.0, time.time() - consolidated_s) - t0
            if bg is None:
                in_process_runner(access, svc.home)()  # the linking jobs the consolidation jobs enqueued
            end, cube_jobs = wait_cube_idle(client, ws.headers, ws.cube_id, expect_at_least=len(job_ids),
                                            timeout_s=1800)
            cube_jobs = [j for j in cube_jobs if datetime.fromisoformat(j["created_at"]).timestamp() >= t0_wall]
            e2e_s = end - t0
        raw_rates.append(embedding_rate(texts))
        failed = [j for j in jobs if j["status"] != "succeeded"]
        scores, errors = score(batches, jobs, [a["message_ids"] for a in accepted])
        llm = llm_calls_per_batch(access, svc.home, batches[:llm_batches], ws.tenant_id, ws.cube_id)
    return {"seed": seed, "scores": scores, "errors": errors, "messages": len(texts), "batches": len(batches),
            "post_s": post_s, "consolidated_s": consolidated_s, "e2e_s": e2e_s, "raw_rates": raw_rates,
            "mode": mode, "failed": len(failed), "llm": llm, "job_types": dict(Counter(j["type"] for j in cube_jobs)),
            "phases": phase_totals(cube_jobs),
            "retried": [(j["type"], j["attempts"], (j.get("error") or "")[:120])
                        for j in cube_jobs if j["attempts"] > 1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--seeds", default="7,1234", help="comma-separated; 7 = dev, 1234 = held out")
    ap.add_argument("--llm-batches", type=int, default=10)
    ap.add_argument("--preload", type=int, default=0, metavar="N",
                    help="first fill the cube with N unrelated memories (through the API, linked; not timed)")
    ap.add_argument("--py-spy", type=Path, default=None, metavar="DIR",
                    help="record the worker and the API with py-spy during the timed run (raw stacks in DIR)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    for seed in (int(s) for s in args.seeds.split(",")):
        r = run_seed(seed, args.messages, llm_batches=args.llm_batches, profile_dir=args.py_spy,
                     preload_n=args.preload)
        label = "dev" if seed == 7 else "held-out" if seed == 1234 else "other"
        print(f"\nseed {seed} ({label}): {r['messages']} messages in {r['batches']} batches into a cube of "
              f"{args.preload} memories; jobs: {r['mode']}; failed jobs: {r['failed']}")
        print_table(f"Offline decisions, seed {seed} (target: precision and recall >= 0.9)",
                    ["action", "precision", "recall", "support"],
                    [[a, *r["scores"][a]] for a in ACTIONS])
        e2e = r["messages"] / r["e2e_s"]
        raw = max(r["raw_rates"])
        jobs = ", ".join(f"{n} {t}" for t, n in sorted(r["job_types"].items()))
        print_table(f"Throughput (same run; warmed up; jobs: {jobs})", ["figure", "value"], [
            ["POST messages (requests only), msg/s", r["messages"] / r["post_s"]],
            ["first POST -> last consolidation job done, msg/s", r["messages"] / r["consolidated_s"]],
            ["first POST -> last job done (consolidation + linking), msg/s", e2e],
            ["raw embedding rate of the same texts, before / after, sentences/s",
             " / ".join(f"{x:.0f}" for x in r["raw_rates"])],
            ["end to end / raw embedding (the higher raw rate) (target >= 0.5)", e2e / raw],
        ])
        print_table("Where the worker's time went (sum of the jobs' timings_ms)",
                    ["job type", "passes", "phase", "seconds"], r["phases"])
        calls, tokens, n = r["llm"]
        print_table(f"LLM path, litellm mock_response, {n} batches (target <= 2 calls per batch)",
                    ["figure", "value"], [["LLM calls per batch", calls], ["tokens per batch (mock usage)", tokens]])
        if r["retried"]:
            print("jobs that took more than one attempt:", r["retried"])
        worst = [(k, v) for k, v in r["errors"].most_common(8)]
        if worst:
            print("most frequent errors:", "; ".join(f"{k} x{v}" for k, v in worst))


if __name__ == "__main__":
    main()
