"""Where a request's CPU goes: milliseconds of CPU per request in the service (its event loop, the query encoder's
thread, the request threads), in PostgreSQL and in the clients, under concurrent load on loopback.

Throughput on a machine this size is bounded by CPU per request, not by latency: two cores give at most
2,000 ms of CPU per second, so a search that costs 28 ms of CPU across the service and PostgreSQL tops out
near 70 searches/s whatever its latency. The bench measures that cost directly, from ``/proc`` (Linux):
the CPU time of every thread of the service process and of every PostgreSQL process of its data directory,
read before and after each workload, divided by the requests completed. Threads are named with ``py-spy
dump`` when py-spy is installed (the encoder's thread is ``memos-embed``); without it the service's threads
other than the event loop are reported together.

A fresh ``memos serve`` on a fresh embedded PostgreSQL (``pg_stat_statements`` preloaded unless
``--no-statements``), a cube seeded with ``--memories`` synthetic memories through the API, then for each
workload ``--clients`` closed-loop clients for ``--duration`` seconds: search in each of ``--modes`` (every
query text unique, so no query-cache hit), and two references, ``GET /healthz`` (the HTTP stack alone) and
``GET /v1/cubes/{id}`` (authentication, a transaction with its tenant context and one statement). With
statements on, PostgreSQL's per-statement times for each workload follow (calls per request, mean ms,
share of the statements' time).

Run: ``.venv/bin/python bench/cpu_budget.py`` (about 3 minutes), ``--modes hybrid --duration 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import PY, Service, Workspace, create_workspace, percentile, print_table, run_service  # noqa: E402
from _synthetic import generate_facts  # noqa: E402
from load import Queries, seed_cube, vacuum_analyze  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
ENCODER_THREAD = "memos-embed"


@dataclass
class Workload:
    name: str
    method: str
    path: str
    body: dict[str, Any] | None = None  # "QUERY" in a value is replaced by a unique query text
    done: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per request
    statements: list[tuple[str, float, float, float]] = field(default_factory=list)  # what, calls/req, mean, share
    load: float = 0.0


def _ticks(stat_path: Path) -> int:
    """utime + stime of one process or thread, in clock ticks (0 when it is gone)."""
    try:
        fields = stat_path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def service_threads(pid: int) -> dict[int, int]:
    return {int(t.name): _ticks(t / "stat") for t in Path(f"/proc/{pid}/task").iterdir()}


def postgres_pids(pgdata: Path) -> list[int]:
    """The postmaster of ``pgdata`` and its children (backends, background workers)."""
    try:
        postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    out = [postmaster]
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == postmaster:
                out.append(int(p.name))
    return out


def thread_names(pid: int) -> dict[int, str]:
    """Python thread names by native thread id, from ``py-spy dump`` (empty without py-spy)."""
    spy = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    if not Path(spy).exists():
        return {}
    try:
        out = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names: dict[int, str] = {}
    for m in re.finditer(r'^Thread (0x[0-9A-Fa-f]+|\d+) \((?:[^)]*)\): "([^"]*)"', out, re.M):
        # py-spy prints the native id when it knows it ("Thread 12345 (active): ...").
        if m.group(1).isdigit():
            names[int(m.group(1))] = m.group(2)
    return names


async def drive(svc: Service, ws: Workspace, wl: Workload, clients: int, duration: float, queries: Queries) -> None:
    end = time.perf_counter() + duration

    def body() -> dict[str, Any] | None:
        if wl.body is None:
            return None
        return {k: (queries.next() if v == "QUERY" else v) for k, v in wl.body.items()}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=svc.base_url, headers=ws.headers, timeout=30.0) as http:
            while time.perf_counter() < end:
                t = time.perf_counter()
                r = await http.request(wl.method, wl.path, json=body())
                if r.status_code >= 400:
                    raise RuntimeError(f"{wl.name}: {r.status_code} {r.text[:300]}")
                wl.latencies.append(time.perf_counter() - t)
                wl.done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    wl.seconds = time.perf_counter() - started


def statements_reset(svc: Service) -> None:
    import psycopg

    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


def statements_read(svc: Service, requests: int) -> list[tuple[str, float, float, float]]:
    import psycopg

    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query, calls, total_exec_time FROM pg_stat_statements"
            " WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY total_exec_time DESC").fetchall()
    total = sum(r[2] for r in rows) or 1.0
    return [(" ".join(q.split())[:90], calls / max(requests, 1), t / calls if calls else 0.0, t / total)
            for q, calls, t in rows[:12]]


def measure(svc: Service, ws: Workspace, wl: Workload, args: argparse.Namespace, queries: Queries,
            names: dict[int, str], statements: bool) -> None:
    pid = svc.proc.pid
    pgs = postgres_pids(svc.pgdata)
    if statements:
        statements_reset(svc)
    before_threads = service_threads(pid)
    before_pg = {p: _ticks(Path(f"/proc/{p}/stat")) for p in pgs}
    before_self = time.process_time()
    asyncio.run(drive(svc, ws, wl, args.clients, args.duration, queries))
    client_cpu = time.process_time() - before_self
    after_threads = service_threads(pid)
    # A backend that exited during the workload is not counted (the pool keeps its connections open).
    after_pg = {p: _ticks(Path(f"/proc/{p}/stat")) for p in postgres_pids(svc.pgdata)}
    pg_ticks = sum(t - before_pg.get(p, 0) for p, t in after_pg.items())
    wl.load = os.getloadavg()[0]
    n = max(wl.done, 1)
    groups = {"event loop": 0, "encoder": 0, "other threads": 0}
    for tid, ticks in after_threads.items():
        delta = ticks - before_threads.get(tid, 0)
        if tid == pid:
            groups["event loop"] += delta
        elif names.get(tid) == ENCODER_THREAD:
            groups["encoder"] += delta
        else:
            groups["other threads"] += delta
    wl.cpu_ms = {k: v * 1000.0 / TICK / n for k, v in groups.items()}
    wl.cpu_ms["service"] = sum(wl.cpu_ms.values())
    wl.cpu_ms["PostgreSQL"] = pg_ticks * 1000.0 / TICK / n
    wl.cpu_ms["clients"] = client_cpu * 1000.0 / n
    if statements:
        wl.statements = statements_read(svc, wl.done)


def enable_statements(svc: Service) -> None:
    import psycopg

    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--memories", type=int, default=2000, help="memories seeded in the cube (default 2,000)")
    ap.add_argument("--clients", type=int, default=16, help="concurrent closed-loop clients (default 16)")
    ap.add_argument("--duration", type=float, default=15.0, help="seconds per workload (default 15)")
    ap.add_argument("--modes", default="hybrid,dense,lexical", help="search modes (default hybrid,dense,lexical)")
    ap.add_argument("--no-statements", action="store_true", help="do not preload pg_stat_statements")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting for the service (repeatable)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if not Path("/proc/self/task").exists():
        print("this bench reads /proc (Linux only)")
        return 1
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())
    extra_env = dict(e.split("=", 1) for e in args.env)
    facts = generate_facts(args.memories, seed=args.seed)
    queries = Queries(facts, args.seed)
    memos = [PY, "-c", "from memos.cli import main; main()", "serve"]
    home = Path(tempfile.mkdtemp(prefix="memos-cpu-"))
    os.chmod(home, 0o755)  # the embedded server may run as its own system user when we are root
    statements = not args.no_statements
    workloads: list[Workload] = []
    try:
        with run_service(command=memos, extra_env=extra_env, home=home) as svc:
            ws = create_workspace(svc)
            took = seed_cube(svc, ws, facts)
            print(f"seeded {len(facts):,} memories in {took:.1f}s", flush=True)
            vacuum_analyze(svc)
            if statements:
                enable_statements(svc)
        with run_service(command=memos, extra_env=extra_env, home=home) as svc:
            if statements:
                import psycopg

                with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            cube = f"/v1/cubes/{ws.cube_id}"
            plan = [Workload(f"search {m}", "POST", f"{cube}/search", {"query": "QUERY", "mode": m})
                    for m in args.modes.split(",") if m]
            plan += [Workload("GET /healthz", "GET", "/healthz"), Workload("GET cube", "GET", cube)]
            warm = Workload("warm-up", "POST", f"{cube}/search", {"query": "QUERY"})
            asyncio.run(drive(svc, ws, warm, 4, 3.0, queries))
            names = thread_names(svc.proc.pid)
            for wl in plan:
                measure(svc, ws, wl, args, queries, names, statements)
                workloads.append(wl)
                print(f"   {wl.name}: {wl.done / wl.seconds:.1f}/s, service {wl.cpu_ms['service']:.2f} ms + "
                      f"PostgreSQL {wl.cpu_ms['PostgreSQL']:.2f} ms CPU per request, load {wl.load:.2f}", flush=True)
                time.sleep(1.0)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    named = "encoder thread named by py-spy" if any(w.cpu_ms.get("encoder") for w in workloads) else \
        "no thread names (py-spy absent): the encoder is in 'other threads'"
    print(f"\nmachine: {os.cpu_count()} cores; {args.memories:,} memories; {args.clients} closed-loop clients, "
          f"{args.duration:.0f} s per workload; service: memos serve {extra_env or ''}; {named}")
    cols = ["event loop", "encoder", "other threads", "service", "PostgreSQL", "clients"]
    rows = [[w.name, f"{w.done / w.seconds:.1f}", f"{percentile(w.latencies, 50) * 1000:.0f}",
             *(f"{w.cpu_ms[c]:.2f}" for c in cols),
             f"{w.cpu_ms['service'] + w.cpu_ms['PostgreSQL']:.2f}", f"{w.load:.1f}"] for w in workloads]
    print_table("CPU ms per request", ["workload", "req/s", "p50 ms", *cols, "service + PG", "load"], rows)
    for w in workloads:
        if w.statements:
            print_table(f"{w.name}: PostgreSQL statements (pg_stat_statements, top level)",
                        ["statement", "per request", "mean ms", "share"],
                        [[q, f"{c:.2f}", f"{m:.3f}", f"{s:.0%}"] for q, c, m, s in w.statements])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
