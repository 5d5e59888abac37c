"""Ingest and search at scale through the REST API, with the raw baselines measured in the same run.

For each size (``--sizes 10000,100000``; ``--quick`` = 2,000) a fresh service is started on a fresh
embedded PostgreSQL, synthetic but realistic memories are ingested through ``POST /v1/cubes/{id}/memories``
in batches, then paraphrasing queries are searched (default mode and ``mode=dense``). Baselines, same run,
same machine:

* raw embedding rate: the service's ``Embedder`` class with the same batch size and thread settings, in
  this process, on a sample of the same texts, in the same chunks the API receives;
* query embedding p50/p95: ``Embedder.embed_one`` on each query (those vectors feed the next baseline);
* raw pgvector p50/p95: psycopg on the same database, ``ORDER BY embedding <=> %s LIMIT 10`` with the
  cube filter, pgvector's defaults (HNSW index, ``hnsw.ef_search`` 40).

Overheads are printed as ratios: ingest rate / raw embedding rate (target >= 0.80) and search p95 /
(query embedding p95 + raw pgvector p95) (target <= 1.5). The HNSW index exists before ingest (the
migration creates it), so every insert maintains it; the script checks and prints that, and the ingest
rate of the first and last tenth of the data shows what the growing index costs.

Run: ``.venv/bin/python bench/ingest_search.py --quick`` (smoke), ``--sizes 10000,100000`` (full).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import Service, Workspace, create_workspace, p50_p95, print_table, run_service  # noqa: E402
from _synthetic import Fact, generate_facts, memory_payload, pick_queries  # noqa: E402

RAW_SQL = "SELECT id, content FROM memories WHERE cube_id = %s ORDER BY embedding <=> %s LIMIT 10"
INGEST_TARGET = 0.80
SEARCH_TARGET = 1.5


@dataclass
class Result:
    size: int
    ingest_s: float = 0.0
    ingest_rate: float = 0.0
    first_tenth_rate: float = 0.0
    last_tenth_rate: float = 0.0
    raw_embed_rate: float = 0.0
    hnsw_before: bool = False
    hnsw_mb: float = 0.0
    table_mb: float = 0.0
    search: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (p50 ms, p95 ms)
    hits: dict[str, float] = field(default_factory=dict)  # name -> share of queries whose source came back
    raw_plan: str = ""

    @property
    def ingest_ratio(self) -> float:
        return self.ingest_rate / self.raw_embed_rate if self.raw_embed_rate else float("nan")

    def search_ratio(self, mode: str) -> float:
        base = self.search["query embedding"][1] + self.search["raw pgvector"][1]
        return self.search[mode][1] / base if base else float("nan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated memory counts (default: 10000,100000)")
    ap.add_argument("--quick", action="store_true", help="one smoke run of 2,000 memories and 200 searches")
    ap.add_argument("--batch-size", type=int, default=256, help="memories per POST (default 256)")
    ap.add_argument("--clients", type=int, default=2, help="concurrent ingest clients (default 2)")
    ap.add_argument("--searches", type=int, default=500, help="queries per mode (default 500)")
    ap.add_argument("--raw-sample", type=int, default=0,
                    help="texts for the raw embedding rate (default: max(2048, size/25))")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.searches = "2000", 200
    args.size_list = [int(s) for s in str(args.sizes).split(",") if s.strip()]
    if not args.size_list or min(args.size_list) < args.batch_size:
        ap.error("--sizes must be at least --batch-size each")
    return args


def make_embedder() -> Any:
    """The service's embedder class with the service's settings (the same env reaches both processes)."""
    from memos.config import Settings
    from memos.embedding import Embedder

    s = Settings()
    emb = Embedder(s.embedding_model, batch_size=s.embedding_batch_size, threads=s.embedding_threads)
    emb.embed(["warm-up"])
    return emb


class Ingest:
    """Ingest through the API in rounds of batches, with raw-embedding chunks timed between the rounds, so
    the service and its baseline see the same machine load (other processes come and go on 2 shared cores)."""

    def __init__(self, svc: Service, ws: Workspace, facts: list[Fact], emb: Any, *, batch: int, clients: int,
                 raw_sample: int) -> None:
        self.svc, self.ws, self.facts, self.emb = svc, ws, facts, emb
        self.batch, self.clients = batch, clients
        self.ids: list[str] = [""] * len(facts)
        self.done_at: list[float] = [0.0] * len(facts)  # on the ingest clock (raw chunks excluded)
        self.ingest_s = 0.0
        self.raw_texts = 0
        self.raw_s = 0.0
        step = max(1, len(facts) // raw_sample)
        self.sample = [f.content for f in facts[::step]][:raw_sample]
        self._local = threading.local()
        self._round_t0 = 0.0
        self._clients: list[httpx.Client] = []

    def _send(self, item: tuple[int, list[Fact]]) -> None:
        start, part = item
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(base_url=self.svc.base_url, headers=self.ws.headers,
                                                       timeout=600.0)
            self._clients.append(client)
        body = {"memories": [memory_payload(f) for f in part]}
        resp = client.post(f"/v1/cubes/{self.ws.cube_id}/memories", json=body)
        if resp.status_code != 201:
            raise RuntimeError(f"ingest failed: {resp.status_code} {resp.text[:300]}")
        now = self.ingest_s + time.perf_counter() - self._round_t0
        for j, m in enumerate(resp.json()["memories"]):
            self.ids[start + j] = m["id"]
            self.done_at[start + j] = now

    def run(self) -> None:
        chunks = [(i, self.facts[i:i + self.batch]) for i in range(0, len(self.facts), self.batch)]
        raw_chunks = [self.sample[i:i + self.batch] for i in range(0, len(self.sample), self.batch)]
        rounds = max(1, min(len(raw_chunks), len(chunks) // self.clients))
        with ThreadPoolExecutor(max_workers=self.clients) as pool:
            for r in range(rounds):
                part = chunks[r * len(chunks) // rounds:(r + 1) * len(chunks) // rounds]
                self._round_t0 = time.perf_counter()
                list(pool.map(self._send, part))  # re-raises the first failure
                self.ingest_s += time.perf_counter() - self._round_t0
                for texts in raw_chunks[r * len(raw_chunks) // rounds:(r + 1) * len(raw_chunks) // rounds]:
                    t = time.perf_counter()
                    self.emb.embed(texts)
                    self.raw_s += time.perf_counter() - t
                    self.raw_texts += len(texts)
        for c in self._clients:
            c.close()


def tenth_rates(done_at: list[float], batch: int) -> tuple[float, float]:
    """Memories/s over roughly the first and the last tenth of the ingest (whole batches)."""
    done_at = sorted(done_at)  # two clients finish batches out of input order
    n = len(done_at)
    k = max(batch, (n // 10) // batch * batch)
    first = k / done_at[k - 1] if done_at[k - 1] else float("nan")
    span = done_at[-1] - done_at[n - k - 1] if n > k else done_at[-1]
    return first, (k / span if span else float("nan"))


def db_facts(svc: Service) -> tuple[bool, float, float]:
    """(HNSW index present, its size MB, table+TOAST size MB)."""
    import psycopg

    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'memories' AND indexdef ILIKE '%USING hnsw%'"
        ).fetchone()
        present = bool(row and row[0])
        sizes = conn.execute(
            "SELECT coalesce(pg_relation_size('ix_memories_embedding_hnsw'), 0),"
            " pg_table_size('memories')"
        ).fetchone()
    assert sizes is not None
    return present, sizes[0] / 2**20, sizes[1] / 2**20


def vacuum_analyze(svc: Service) -> None:
    """Settle the table after the bulk load (autovacuum would do it later, in the middle of the timings)."""
    import psycopg

    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE memories")
        conn.execute("VACUUM ANALYZE memory_versions")


def run_searches(svc: Service, ws: Workspace, emb: Any, facts: list[Fact], ids: list[str], n: int,
                 seed: int) -> tuple[dict[str, list[float]], dict[str, float], str]:
    """Per query, interleaved so all four see the same machine load: embed it here, the raw pgvector query
    with that vector, the service in the default mode, the service with mode=dense."""
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    queries = pick_queries(facts, n, seed=seed)
    times: dict[str, list[float]] = {k: [] for k in ("query embedding", "raw pgvector", "service default",
                                                     "service dense")}
    hits = dict.fromkeys(("raw pgvector", "service default", "service dense"), 0)
    url = f"/v1/cubes/{ws.cube_id}/search"
    with psycopg.connect(svc.database_uri(), autocommit=True) as conn, \
            httpx.Client(base_url=svc.base_url, headers=ws.headers, timeout=60.0) as client:
        register_vector(conn)
        plan = conn.execute("EXPLAIN " + RAW_SQL, (ws.cube_id, np.asarray(emb.embed_one(queries[0][1])))).fetchall()
        raw_plan = next((r[0].strip().lstrip("-> ") for r in plan if "Scan" in r[0]), "?")
        for _, q in queries[:10]:  # warm-up: prepared statements, caches, lazy imports
            conn.execute(RAW_SQL, (ws.cube_id, np.asarray(emb.embed_one(q)))).fetchall()
            client.post(url, json={"query": q}).raise_for_status()
            client.post(url, json={"query": q, "mode": "dense"}).raise_for_status()
        for src, q in queries:
            want = ids[src]
            t = time.perf_counter()
            vec = emb.embed_one(q)
            times["query embedding"].append(time.perf_counter() - t)
            t = time.perf_counter()
            rows = conn.execute(RAW_SQL, (ws.cube_id, np.asarray(vec)), prepare=True).fetchall()
            times["raw pgvector"].append(time.perf_counter() - t)
            hits["raw pgvector"] += any(str(r[0]) == want for r in rows)
            for name, body in (("service default", {"query": q}), ("service dense", {"query": q, "mode": "dense"})):
                t = time.perf_counter()
                resp = client.post(url, json=body)
                times[name].append(time.perf_counter() - t)
                resp.raise_for_status()
                hits[name] += any(r["memory"]["id"] == want for r in resp.json()["results"])
    return times, {k: v / len(queries) for k, v in hits.items()}, raw_plan


def run_size(size: int, facts_all: list[Fact], emb: Any, args: argparse.Namespace) -> Result:
    facts = facts_all[:size]
    res = Result(size=size)
    print(f"\n== {size:,} memories: starting a fresh service ...", flush=True)
    with run_service(workers=args.workers) as svc:
        ws = create_workspace(svc)
        res.hnsw_before, _, _ = db_facts(svc)
        print(f"   HNSW index present before ingest: {res.hnsw_before}; ingesting in batches of "
              f"{args.batch_size} from {args.clients} client(s) ...", flush=True)
        ing = Ingest(svc, ws, facts, emb, batch=args.batch_size, clients=args.clients,
                     raw_sample=min(args.raw_sample or max(2048, size // 25), size))
        ing.run()
        ids, res.ingest_s = ing.ids, ing.ingest_s
        res.ingest_rate = size / res.ingest_s
        res.raw_embed_rate = ing.raw_texts / ing.raw_s
        res.first_tenth_rate, res.last_tenth_rate = tenth_rates(ing.done_at, args.batch_size)
        print(f"   ingested in {res.ingest_s:.1f}s ({res.ingest_rate:.1f}/s); raw embedding "
              f"{res.raw_embed_rate:.1f}/s on {ing.raw_texts} texts between the rounds", flush=True)
        vacuum_analyze(svc)
        _, res.hnsw_mb, res.table_mb = db_facts(svc)
        print(f"   {args.searches} searches x (embed, raw pgvector, default, dense) ...", flush=True)
        times, res.hits, res.raw_plan = run_searches(svc, ws, emb, facts, ids, args.searches, args.seed)
        res.search = {k: p50_p95(v) for k, v in times.items()}
    return res


def report(results: list[Result], args: argparse.Namespace) -> None:
    import torch

    from memos.config import Settings

    s = Settings()
    print(f"\nmachine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end; "
          f"embedder batch {s.embedding_batch_size}, MEMOS_EMBEDDING_THREADS={s.embedding_threads or 'default'} "
          f"(torch threads {torch.get_num_threads()}); API batch {args.batch_size}, {args.clients} ingest "
          f"client(s), {args.workers} uvicorn worker(s)")
    rows = []
    for r in results:
        rows.append([f"{r.size:,}", r.ingest_rate, r.raw_embed_rate, r.ingest_ratio,
                     "yes" if r.ingest_ratio >= INGEST_TARGET else "NO",
                     r.first_tenth_rate, r.last_tenth_rate, "yes" if r.hnsw_before else "NO", r.hnsw_mb])
    print_table("Ingest (memories/s; the HNSW index exists before ingest, so inserts maintain it)",
                ["size", "ingest/s", "raw embed/s", "ratio (>=0.80)", "met", "first 10%/s", "last 10%/s",
                 "HNSW before", "HNSW MB"], rows)
    rows = []
    for r in results:
        for name in ("service default", "service dense", "query embedding", "raw pgvector"):
            p50, p95 = r.search[name]
            ratio = r.search_ratio(name) if name.startswith("service") else float("nan")
            met = ("yes" if ratio <= SEARCH_TARGET else "NO") if name.startswith("service") else ""
            hit = r.hits.get(name, float("nan"))
            rows.append([f"{r.size:,} {name}", p50, p95, ratio, met, hit])
    print_table(f"Search ({args.searches} queries; ratio = p95 / (query embedding p95 + raw pgvector p95))",
                ["size / what", "p50 ms", "p95 ms", "ratio (<=1.5)", "met", "source in top 10"], rows)
    for r in results:
        print(f"raw pgvector plan at {r.size:,}: {r.raw_plan.split(' (')[0]}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())  # quiets platformdirs in torch's imports
    facts = generate_facts(max(args.size_list), seed=args.seed)
    print(f"generated {len(facts):,} facts; loading the embedder for the baselines ...", flush=True)
    emb = make_embedder()
    results = [run_size(size, facts, emb, args) for size in args.size_list]
    report(results, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
