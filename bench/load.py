"""Concurrent clients against the running service: throughput, latency percentiles, errors and shed load.

A fresh service is started through ``memos serve`` (so the serving layout under test is the one users get:
``--web-concurrency`` and ``--web-threads`` reach it as ``MEMOS_WEB_CONCURRENCY`` / ``MEMOS_WEB_THREADS``) on a
fresh embedded PostgreSQL, a cube is seeded with ``--memories`` synthetic memories through the API, then for
each level of ``--clients`` (default 1,4,16,64) that many closed-loop clients (no think time, one
connection each, loopback) run for ``--duration`` seconds:

* ``mix``: search 80%, add 15% (one memory per request), context 5%;
* ``search``: search alone.

Every query text is made unique (a counter is appended) so that no cache of recent query embeddings answers
it: the figures measure the embedding path, like the baseline. A 503 is counted as *shed*, apart from the
errors (any other status, timeouts, transport errors); a client that is shed waits the ``Retry-After`` it was
given (at most 2 s) before its next request, as a polite client would. A prober reads ``/healthz`` every
0.5 s during each level.

Baseline, same run: the service's ``Embedder`` class embedding single queries, in this process, while the
service is idle, for ``--baseline-s`` seconds: from one shared instance called by as many threads as there
are cores, and from one instance per thread; the better of the two is what the cores can embed queries at.

Targets (issue 10), printed with the figures:

* 16 clients, search alone: throughput >= 80% of the embedding capacity, p99 < 5x p50, no error and no 503;
* 64 clients: no error but an immediate 503 (p99 of the 503s under 0.5 s), every request answered within 5 s,
  throughput >= 90% of the 16-client figure.

Run: ``.venv/bin/python bench/load.py`` (about 4 minutes), ``--quick`` (1 and 16 clients, 5 s each).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import PY, Service, Workspace, create_workspace, percentile, print_table, run_service  # noqa: E402
from _synthetic import Fact, generate_facts, memory_payload  # noqa: E402

WORKLOADS: dict[str, tuple[tuple[str, float], ...]] = {
    "mix": (("search", 0.80), ("add", 0.15), ("context", 0.05)),
    "search": (("search", 1.0),),
}
ANSWER_WITHIN_S = 5.0
IMMEDIATE_503_S = 0.5
CAPACITY_SHARE_16 = 0.80
P99_OVER_P50 = 5.0
KEEP_AT_64 = 0.90
RETRY_AFTER_CAP_S = 2.0


@dataclass
class Sample:
    op: str
    status: int | str  # an HTTP status, or the exception's name (timeout, connection error ...)
    started: float  # on the level's clock
    latency: float  # seconds
    in_window: bool = True  # completed before the level's end (counts towards throughput)
    why: str = ""  # a 503's cause: "admission" (refused at the door) or "pool" (no database connection in time)

    @property
    def ok(self) -> bool:
        return isinstance(self.status, int) and 200 <= self.status < 300

    @property
    def shed(self) -> bool:
        return self.status == 503


@dataclass
class Level:
    layout: str
    workload: str
    clients: int
    duration: float
    samples: list[Sample] = field(default_factory=list)
    health: list[Sample] = field(default_factory=list)
    load: float = 0.0  # 1-minute load average at the end
    client_cpu: float = 0.0  # CPU seconds this (client) process used per second of the level

    def done(self, op: str | None = None) -> list[Sample]:
        """Successful requests that completed inside the window."""
        return [s for s in self.samples if s.ok and s.in_window and (op is None or s.op == op)]

    def throughput(self, op: str | None = None) -> float:
        return len(self.done(op)) / self.duration

    def latencies(self, op: str) -> list[float]:
        return [s.latency for s in self.samples if s.ok and s.op == op]

    def pct(self, op: str, p: float) -> float:
        return percentile(self.latencies(op), p) * 1000.0

    @property
    def shed(self) -> list[Sample]:
        return [s for s in self.samples if s.shed]

    @property
    def shed_kinds(self) -> str:
        kinds = Counter(s.why for s in self.shed)
        return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "-"

    @property
    def errors(self) -> Counter[str]:
        return Counter(f"{s.op} {s.status}" for s in self.samples if not s.ok and not s.shed)

    @property
    def answered_within(self) -> float:
        """Share of requests answered (any HTTP status) within ANSWER_WITHIN_S."""
        if not self.samples:
            return float("nan")
        good = sum(isinstance(s.status, int) and s.latency <= ANSWER_WITHIN_S for s in self.samples)
        return good / len(self.samples)


@dataclass
class Capacity:
    """Single-query embeddings per second in this process (service idle)."""

    threads: int
    backend: str = "?"
    shared: float = 0.0  # one Embedder, `threads` threads
    per_thread: float = 0.0  # one Embedder per thread

    @property
    def best(self) -> float:
        return max(self.shared, self.per_thread)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", default="1,4,16,64", help="comma-separated concurrency levels (default 1,4,16,64)")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per level (default 20)")
    ap.add_argument("--workloads", default="mix,search", help="mix and/or search (default both)")
    ap.add_argument("--memories", type=int, default=2000, help="memories seeded in the cube (default 2,000)")
    ap.add_argument("--timeout", type=float, default=30.0, help="client timeout per request, s (default 30)")
    ap.add_argument("--baseline-s", type=float, default=8.0, help="seconds per embedding baseline (default 8)")
    ap.add_argument("--layouts", default="",
                    help="serving layouts to compare, comma-separated PROCESSESxTHREADS[xIN_FLIGHT] (e.g. "
                         "1x0,2x0,1x8x4; 0 threads = anyio's 40, no in-flight = the service default): the cube is "
                         "seeded once and the service restarted on it per layout (default: the service's defaults)")
    ap.add_argument("--rounds", type=int, default=1, help="times to cycle through the layouts (default 1)")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="another setting for the service (repeatable), e.g. MEMOS_DB_POOL_SIZE=5")
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 and 16 clients, 5 s each, 500 memories")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if args.quick:
        args.clients, args.duration, args.memories, args.baseline_s = "1,16", 5.0, 500, 3.0
    args.client_list = [int(c) for c in str(args.clients).split(",") if c.strip()]
    args.workload_list = [w.strip() for w in str(args.workloads).split(",") if w.strip()]
    unknown = set(args.workload_list) - set(WORKLOADS)
    if unknown:
        ap.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    try:
        args.layout_list = [layout_env(x.strip()) for x in str(args.layouts).split(",") if x.strip()] or [{}]
    except ValueError as exc:
        ap.error(str(exc))
    return args


def layout_env(spec: str) -> dict[str, str]:
    """``PxT[xI]`` -> the service's MEMOS_WEB_CONCURRENCY, MEMOS_WEB_THREADS and MEMOS_MAX_IN_FLIGHT."""
    parts = spec.lower().split("x")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"layout {spec!r}: expected PROCESSESxTHREADS[xIN_FLIGHT], e.g. 2x0 or 1x8x4")
    env = {"MEMOS_WEB_CONCURRENCY": parts[0], "MEMOS_WEB_THREADS": parts[1]}
    if len(parts) == 3:
        env["MEMOS_MAX_IN_FLIGHT"] = parts[2]
    return env


def layout_name(env: dict[str, str]) -> str:
    if "MEMOS_WEB_CONCURRENCY" not in env:
        return "service defaults"
    threads = env["MEMOS_WEB_THREADS"]
    return (f"{env['MEMOS_WEB_CONCURRENCY']} proc x {threads if threads != '0' else '40'} threads, in-flight "
            f"{env.get('MEMOS_MAX_IN_FLIGHT', 'default')}")


def extra_settings(args: argparse.Namespace) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in args.env:
        name, _, value = item.partition("=")
        env[name] = value
    return env


class Queries:
    """Unique query texts (a paraphrase of a seeded fact plus a counter), shared by every client."""

    def __init__(self, facts: Sequence[Fact], seed: int) -> None:
        self._facts = facts
        self._rng = random.Random(seed)
        self._n = itertools.count()

    def next(self) -> str:
        return f"{self._rng.choice(self._facts).query} ({next(self._n)})"


# ---------------------------------------------------------------- seeding
def seed_cube(svc: Service, ws: Workspace, facts: Sequence[Fact], batch: int = 250) -> float:
    t = time.perf_counter()
    with httpx.Client(base_url=svc.base_url, headers=ws.headers, timeout=600.0) as client:
        for i in range(0, len(facts), batch):
            resp = client.post(f"/v1/cubes/{ws.cube_id}/memories",
                               json={"memories": [memory_payload(f) for f in facts[i:i + batch]]})
            if resp.status_code != 201:
                raise RuntimeError(f"seeding failed: {resp.status_code} {resp.text[:300]}")
    return time.perf_counter() - t


def vacuum_analyze(svc: Service) -> None:
    """Settle the table after the bulk load (autovacuum would otherwise run in the middle of a level)."""
    import psycopg

    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE memories")
        conn.execute("VACUUM ANALYZE memory_versions")


# ---------------------------------------------------------------- the baseline
def make_embedder() -> Any:
    """The service's embedder class with the service's settings (the same env reaches both processes), so
    the same backend and the same exported encoder graph."""
    from memos.config import Settings
    from memos.embedding import Embedder

    s = Settings()
    emb = Embedder(s.embedding_model, batch_size=s.embedding_batch_size, threads=s.embedding_threads,
                   backend=s.embedding_backend, cache_dir=s.embedding_cache_dir,
                   query_cache_size=s.query_cache_size)
    emb.embed(["warm-up"])
    return emb


def _embed_for(embedders: Sequence[Any], threads: int, seconds: float, queries: Queries) -> float:
    """Queries/s with ``threads`` threads each embedding single queries for ``seconds``; thread i uses
    ``embedders[i % len(embedders)]``."""
    texts = [queries.next() for _ in range(4096)]
    counts = [0] * threads
    start = threading.Barrier(threads + 1)
    deadline = 0.0

    def work(i: int) -> None:
        emb = embedders[i % len(embedders)]
        start.wait()
        n = 0
        while time.perf_counter() < deadline:
            emb.embed_one(texts[(i * 1024 + n) % len(texts)])
            n += 1
        counts[i] = n

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for th in pool:
        th.start()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    start.wait()
    for th in pool:
        th.join()
    return sum(counts) / (time.perf_counter() - t0)


def embedding_capacity(seconds: float, queries: Queries) -> Capacity:
    threads = max(2, os.cpu_count() or 2)
    cap = Capacity(threads=threads)
    shared = make_embedder()
    cap.backend = str(getattr(shared, "backend_name", "torch"))
    cap.shared = _embed_for([shared], threads, seconds, queries)
    cap.per_thread = _embed_for([shared] + [make_embedder() for _ in range(threads - 1)], threads, seconds,
                                queries)
    return cap


# ---------------------------------------------------------------- the clients
def _picker(mix: tuple[tuple[str, float], ...]) -> Callable[[random.Random], str]:
    ops = [op for op, _ in mix]
    weights = [w for _, w in mix]
    return lambda rng: rng.choices(ops, weights)[0]


async def _client(i: int, http: httpx.AsyncClient, ws: Workspace, level: Level, pick: Callable[[random.Random], str],
                  queries: Queries, adds: itertools.cycle[Fact], t0: float, seed: int) -> None:
    rng = random.Random(seed * 1000 + i)
    deadline = t0 + level.duration
    while time.perf_counter() < deadline:
        op = pick(rng)
        body: dict[str, Any]
        if op == "search":
            url, body = f"/v1/cubes/{ws.cube_id}/search", {"query": queries.next()}
        elif op == "context":
            url, body = f"/v1/cubes/{ws.cube_id}/context", {"query": queries.next(), "token_budget": 1000,
                                                             "top_k": 10}
        else:
            url, body = f"/v1/cubes/{ws.cube_id}/memories", {"memories": [memory_payload(next(adds))]}
        t = time.perf_counter()
        retry_after = 0.0
        why = ""
        status: int | str
        try:
            resp = await http.post(url, json=body)
            status = resp.status_code
            if status == 503:
                why = _shed_cause(resp)
                try:
                    retry_after = min(float(resp.headers.get("retry-after", "1")), RETRY_AFTER_CAP_S)
                except ValueError:
                    retry_after = 1.0
        except httpx.TimeoutException:
            status = "timeout"
        except httpx.TransportError as exc:
            status = type(exc).__name__
        now = time.perf_counter()
        level.samples.append(Sample(op, status, t - t0, now - t, in_window=now <= deadline, why=why))
        if retry_after:
            await asyncio.sleep(min(retry_after, max(0.0, deadline - time.perf_counter())))


def _shed_cause(resp: httpx.Response) -> str:
    try:
        detail = str(resp.json().get("detail", ""))
    except ValueError:
        return "other"
    if "requests in flight" in detail:
        return "admission"
    if "database connection" in detail:
        return "pool"
    return "other"


async def _prober(base_url: str, level: Level, t0: float) -> None:
    """GET /healthz every 0.5 s during the level: health must stay answerable under load."""
    async with httpx.AsyncClient(base_url=base_url, timeout=ANSWER_WITHIN_S) as http:
        while time.perf_counter() < t0 + level.duration:
            t = time.perf_counter()
            status: int | str
            try:
                status = (await http.get("/healthz")).status_code
            except httpx.TimeoutException:
                status = "timeout"
            except httpx.TransportError as exc:
                status = type(exc).__name__
            level.health.append(Sample("healthz", status, t - t0, time.perf_counter() - t))
            await asyncio.sleep(0.5)


async def run_level(svc: Service, ws: Workspace, layout: str, workload: str, clients: int,
                    args: argparse.Namespace, queries: Queries, adds: itertools.cycle[Fact]) -> Level:
    level = Level(layout=layout, workload=workload, clients=clients, duration=args.duration)
    # One client object (one connection) per simulated agent, as independent agents would have: a shared
    # pool would add its own queueing to the figures.
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        https = [await stack.enter_async_context(httpx.AsyncClient(
            base_url=svc.base_url, headers=ws.headers, timeout=args.timeout, limits=limits)) for _ in range(clients)]
        pick = _picker(WORKLOADS[workload])
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(_prober(svc.base_url, level, t0),
                             *[_client(i, http, ws, level, pick, queries, adds, t0, args.seed)
                               for i, http in enumerate(https)])
        level.client_cpu = (time.process_time() - cpu0) / (time.perf_counter() - t0)
    level.load = os.getloadavg()[0]
    return level


def warm_up(svc: Service, ws: Workspace, queries: Queries) -> None:
    with httpx.Client(base_url=svc.base_url, headers=ws.headers, timeout=60.0) as client:
        for _ in range(10):
            client.post(f"/v1/cubes/{ws.cube_id}/search", json={"query": queries.next()}).raise_for_status()
        client.post(f"/v1/cubes/{ws.cube_id}/context", json={"query": queries.next()}).raise_for_status()


# ---------------------------------------------------------------- report
def _errors(level: Level) -> str:
    return ", ".join(f"{k} x{v}" for k, v in sorted(level.errors.items())) or "0"


def merge(levels: Sequence[Level]) -> Level:
    """One level out of the same level's rounds (samples pooled, durations added)."""
    first = levels[0]
    out = Level(layout=first.layout, workload=first.workload, clients=first.clients,
                duration=sum(lv.duration for lv in levels))
    for lv in levels:
        out.samples += lv.samples
        out.health += lv.health
    out.load = sum(lv.load for lv in levels) / len(levels)
    out.client_cpu = sum(lv.client_cpu for lv in levels) / len(levels)
    return out


def merged(levels: Sequence[Level]) -> list[Level]:
    groups: dict[tuple[str, str, int], list[Level]] = {}
    for lv in levels:
        groups.setdefault((lv.layout, lv.workload, lv.clients), []).append(lv)
    return [merge(g) for g in groups.values()]


def report(levels: list[Level], caps: dict[str, list[Capacity]], args: argparse.Namespace) -> None:
    ops_of = {w: [op for op, _ in WORKLOADS[w]] for w in WORKLOADS}
    levels = merged(levels)
    rounds = f", {args.rounds} rounds pooled" if args.rounds > 1 else ""
    for layout, layout_caps in caps.items():
        mine = [lv for lv in levels if lv.layout == layout]
        for workload in args.workload_list:
            rows = []
            for lv in (x for x in mine if x.workload == workload):
                shed = lv.shed
                health = [s.latency for s in lv.health]
                rows.append([lv.clients, lv.throughput(), lv.throughput("search"), len(lv.done()), len(shed),
                             percentile([s.latency for s in shed], 99) * 1000 if shed else float("nan"),
                             lv.shed_kinds, _errors(lv), f"{lv.answered_within:.1%}",
                             max(health) * 1000 if health else float("nan"), sum(not s.ok for s in lv.health),
                             f"{lv.client_cpu:.0%}", f"{lv.load:.2f}"])
            print_table(f"{layout} - {workload}: {args.duration:.0f} s per level{rounds}",
                        ["clients", "ops/s", "search/s", "ok", "503 shed", "503 p99 ms", "503 why", "errors", "<=5 s",
                         "healthz max ms", "healthz fail", "client CPU", "load"], rows)
            rows = []
            for lv in (x for x in mine if x.workload == workload):
                for op in ops_of[workload]:
                    n = len(lv.latencies(op))
                    p50, p95, p99 = (lv.pct(op, p) for p in (50, 95, 99))
                    rows.append([f"{lv.clients} {op}", n, p50, p95, p99, p99 / p50 if n else float("nan")])
            print_table(f"{layout} - {workload}: latency of successful requests",
                        ["clients / op", "n", "p50 ms", "p95 ms", "p99 ms", "p99/p50"], rows)
        cap = mean_capacity(layout_caps)
        print(f"\n{layout} - baseline: single-query embeddings ({cap.backend}) in this process, service idle, "
              f"{cap.threads} threads: {cap.shared:.1f}/s from one shared Embedder, {cap.per_thread:.1f}/s with "
              f"one Embedder per thread; capacity = {cap.best:.1f}/s")
        targets(mine, cap, layout)
    if len(caps) > 1:
        compare(levels, caps, args)


def mean_capacity(caps: Sequence[Capacity]) -> Capacity:
    return Capacity(threads=caps[0].threads, backend=caps[0].backend,
                    shared=sum(c.shared for c in caps) / len(caps),
                    per_thread=sum(c.per_thread for c in caps) / len(caps))


def compare(levels: list[Level], caps: dict[str, list[Capacity]], args: argparse.Namespace) -> None:
    """The layouts side by side: throughput per level relative to the layout's own embedding baseline."""
    by = {(lv.layout, lv.workload, lv.clients): lv for lv in levels}
    for workload in args.workload_list:
        rows = []
        for layout, layout_caps in caps.items():
            cap = mean_capacity(layout_caps).best
            row: list[Any] = [layout, cap]
            for clients in args.client_list:
                lv = by.get((layout, workload, clients))
                row.append(f"{lv.throughput():.1f} ({lv.throughput() / cap:.2f})" if lv and cap else "n/a")
            top = by.get((layout, workload, max(args.client_list)))
            shed = top.shed if top else []
            row += [f"{len(shed)} / {percentile([s.latency for s in shed], 99) * 1000:.0f}" if shed else "0",
                    f"{top.answered_within:.1%}" if top else "n/a"]
            rows.append(row)
        print_table(f"Layouts, {workload}: ops/s (share of the embedding capacity)",
                    ["layout", "capacity/s", *[f"{c} clients" for c in args.client_list],
                     f"503 n / p99 ms at {max(args.client_list)}", f"<=5 s at {max(args.client_list)}"], rows)


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def targets(levels: list[Level], cap: Capacity, layout: str) -> None:
    by = {(lv.workload, lv.clients): lv for lv in levels}
    rows: list[list[Any]] = []
    for workload in ("search", "mix"):
        l16, l64 = by.get((workload, 16)), by.get((workload, 64))
        if l16 is not None:
            p50, p99 = l16.pct("search", 50), l16.pct("search", 99)
            if workload == "search":
                share = l16.throughput("search") / cap.best if cap.best else float("nan")
                rows.append([f"{workload} 16: search/s vs capacity", f"{l16.throughput('search'):.1f} / "
                             f"{cap.best:.1f} = {share:.2f}", f">= {CAPACITY_SHARE_16:.2f}",
                             _verdict(share >= CAPACITY_SHARE_16)])
            rows.append([f"{workload} 16: search p99 / p50", f"{p99:.0f} / {p50:.0f} = {p99 / p50:.1f}",
                         f"< {P99_OVER_P50:.0f}", _verdict(p99 < P99_OVER_P50 * p50)])
            bad = sum(l16.errors.values()) + len(l16.shed)
            rows.append([f"{workload} 16: errors + 503", f"{_errors(l16)} + {len(l16.shed)}", "0",
                         _verdict(bad == 0)])
        if l64 is not None:
            shed = l64.shed
            slow_503 = percentile([s.latency for s in shed], 99) if shed else 0.0
            rows.append([f"{workload} 64: errors but 503", _errors(l64), "0", _verdict(not l64.errors)])
            rows.append([f"{workload} 64: 503 p99", f"{slow_503 * 1000:.0f} ms ({len(shed)} shed)",
                         f"< {IMMEDIATE_503_S * 1000:.0f} ms", _verdict(slow_503 < IMMEDIATE_503_S)])
            rows.append([f"{workload} 64: answered within 5 s", f"{l64.answered_within:.1%}", "100%",
                         _verdict(l64.answered_within == 1.0)])
            if l16 is not None:
                keep = l64.throughput() / l16.throughput() if l16.throughput() else float("nan")
                rows.append([f"{workload} 64: ops/s vs 16 clients", f"{l64.throughput():.1f} / "
                             f"{l16.throughput():.1f} = {keep:.2f}", f">= {KEEP_AT_64:.2f}",
                             _verdict(keep >= KEEP_AT_64)])
    if rows:
        print_table(f"{layout} - targets (issue 10)", ["what", "measured", "target", "met"], rows)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())  # private (0700): quiets platformdirs
    facts = generate_facts(args.memories + 20_000, seed=args.seed)
    seeded, extra = facts[:args.memories], facts[args.memories:]
    queries = Queries(seeded, args.seed)
    adds = itertools.cycle(extra)
    extra_env = extra_settings(args)
    memos = [PY, "-c", "from memos.cli import main; main()", "serve"]
    levels: list[Level] = []
    caps: dict[str, list[Capacity]] = {layout_name(env): [] for env in args.layout_list}
    home = Path(tempfile.mkdtemp(prefix="memos-load-"))
    os.chmod(home, 0o755)  # the embedded server may run as its own system user when we are root
    try:
        print(f"seeding a cube (memos serve on {home}) ...", flush=True)
        with run_service(command=memos, extra_env=extra_env, home=home) as svc:
            ws = create_workspace(svc)
            took = seed_cube(svc, ws, seeded)
            print(f"seeded {len(seeded):,} memories in {took:.1f}s ({len(seeded) / took:.0f}/s)", flush=True)
            vacuum_analyze(svc)
        for rnd in range(args.rounds):
            for env in args.layout_list:
                layout = layout_name(env)
                print(f"round {rnd + 1}/{args.rounds}, {layout}: starting memos serve ...", flush=True)
                with run_service(command=memos, extra_env={**extra_env, **env}, home=home) as svc:
                    warm_up(svc, ws, queries)
                    cap = embedding_capacity(args.baseline_s, queries)
                    caps[layout].append(cap)
                    print(f"   embedding capacity {cap.best:.1f} queries/s (shared {cap.shared:.1f}, per thread "
                          f"{cap.per_thread:.1f}), service idle", flush=True)
                    for workload in args.workload_list:
                        for clients in args.client_list:
                            lv = asyncio.run(run_level(svc, ws, layout, workload, clients, args, queries, adds))
                            levels.append(lv)
                            print(f"   {workload:6s} {clients:3d} clients: {lv.throughput():6.1f} ops/s, search p50 "
                                  f"{lv.pct('search', 50):.0f} ms p99 {lv.pct('search', 99):.0f} ms, shed "
                                  f"{len(lv.shed)}, errors {_errors(lv)}, load {lv.load:.2f}", flush=True)
                            time.sleep(2.0)  # let the last requests' commits and the access recorder settle
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"\nmachine: {os.cpu_count()} cores; {args.memories:,} memories seeded; service: memos serve "
          f"{extra_env or ''}; clients: closed loop, one connection each, timeout {args.timeout:.0f} s; "
          f"each query text unique")
    report(levels, caps, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
