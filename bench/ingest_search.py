"""Ingest and search at scale through the REST API, with the raw baselines measured in the same run.

For each size (``--sizes 10000,100000``; ``--quick`` = 2,000) a fresh service is started on a fresh
embedded PostgreSQL, synthetic but realistic memories are ingested through ``POST /v1/cubes/{id}/memories``
in batches, then paraphrasing queries are searched (default mode and ``mode=dense``). Baselines, same run,
same machine:

* raw embedding rate: the service's ``Embedder`` class with the same batch size and thread settings, in
  this process, on a sample of the same texts, in the same chunks the API receives;
* query embedding p50/p95: ``Embedder.embed_one`` on each query (those vectors feed the next baseline), and
  the same with the torch encoder, no query cache, one forward pass per query: the reference issue 10 states
  its targets against (the service embeds with ONNX, which is faster, so both ratios are printed);
* the service runs without its query-embedding cache (``MEMOS_QUERY_CACHE_SIZE=0``): both modes search
  each query, one after the other, and every search pays for its embedding;
* raw pgvector p50/p95: psycopg on the same database, ``ORDER BY embedding <=> %s LIMIT 10`` with the
  cube filter, pgvector's defaults (HNSW index, ``hnsw.ef_search`` 40).

Overheads are printed as ratios: ingest rate / raw embedding rate (target >= 0.80) and search p95 /
(query embedding p95 + raw pgvector p95) (targets: <= 1.0 hybrid, <= 0.8 dense); above 100k, search p95 /
the 10k figure of the same run (target <= 1.5). The HNSW index exists before ingest (the migration creates
it), so every insert maintains it; the script checks and prints that, and the ingest rate of the first and
last tenth of the data shows what the growing index costs. Then recall@10 of the HNSW probe against exact
search per ``hnsw.ef_search`` (``recall_probe``).

Sizes above 100k are bulk-loaded (``--loader copy``, ``_bulkload.py``): the queries' targets and ``--real``
more memories through the API, the rest by binary COPY with vectors derived from real ones (not embedded:
see that module), indexes built after the COPY with their build times printed.

Run: ``.venv/bin/python bench/ingest_search.py --quick`` (smoke), ``--sizes 10000,100000`` (full),
``make bench-million`` (10k and 1M in one run, about an hour on 2 busy cores).
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

from _bulkload import LoadStats, copy_fillers, hnsw_def  # noqa: E402
from _common import Service, Workspace, create_workspace, p50_p95, print_table, run_service  # noqa: E402
from _synthetic import Fact, generate_facts, memory_payload, pick_queries  # noqa: E402

RAW_SQL = "SELECT id, content FROM memories WHERE cube_id = %s ORDER BY embedding <=> %s LIMIT 10"
PROBE_SQL = "SELECT id, embedding <=> %s FROM memories WHERE cube_id = %s ORDER BY embedding <=> %s LIMIT 10"
# Another text, never prepared: psycopg prepares a statement after 5 runs and a plan made with index scans
# off would be reused by the probe.
EXACT_SQL = ("SELECT id, embedding <=> %s FROM memories WHERE cube_id = %s ORDER BY embedding <=> %s LIMIT 10"
             " -- exact")
# ann-benchmarks' k-NN recall: a result counts when its distance is within this of the k-th exact distance, so
# that near-ties (blended filler vectors, duplicates) do not count as misses; printed beside the strict recall.
TIE_EPSILON = 1e-3
COPY_ABOVE = 100_000  # --loader auto: sizes above this are bulk-loaded (see _bulkload.py)
INGEST_TARGET = 0.80
# search p95 / (query embedding p95 + raw pgvector p95), per mode (issue 10)
SEARCH_TARGETS = {"service default": 1.0, "service dense": 0.8}
SCALE_TARGET = 1.5  # search p95 at a size above 100k / the same mode's p95 at 10k in the same run
RECALL_TARGET = 0.95


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
    loader: str = "api"
    load: LoadStats | None = None
    # (index, ef_search) -> (strict recall, tie-tolerant recall, p50, p95); index: "m/ef_construction"
    recall: dict[tuple[str, int], tuple[float, float, float, float]] = field(default_factory=dict)
    exact_ms: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def ingest_ratio(self) -> float:
        return self.ingest_rate / self.raw_embed_rate if self.raw_embed_rate else float("nan")

    def search_ratio(self, mode: str, encoder: str = "query embedding") -> float:
        """p95 / (``encoder`` p95 + raw pgvector p95): the service's own encoder, or the torch reference."""
        base = self.search[encoder][1] + self.search["raw pgvector"][1]
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
    ap.add_argument("--loader", choices=("auto", "api", "copy"), default="auto",
                    help=f"api: every memory through the API; copy: the queries' targets and --real more through "
                         f"the API, the rest by COPY with derived vectors (bench/_bulkload.py); auto: copy above "
                         f"{COPY_ABOVE:,}")
    ap.add_argument("--real", type=int, default=20_000, help="copy loader: memories ingested through the API")
    ap.add_argument("--hnsw-m", type=int, default=16, help="copy loader: HNSW m of the index built after COPY")
    ap.add_argument("--hnsw-ef-construction", type=int, default=64, help="copy loader: HNSW ef_construction")
    ap.add_argument("--maintenance-work-mem", default="4GB", help="copy loader: for the index builds")
    ap.add_argument("--recall-queries", type=int, default=100, help="queries for HNSW recall@10 vs exact")
    ap.add_argument("--ef-values", default="40,100,200", help="hnsw.ef_search values for the recall probe")
    ap.add_argument("--hnsw-variants", default="",
                    help="after the recall probe, rebuild the HNSW index with each m/ef_construction given "
                         "(e.g. 24/128,32/200) and probe again: build time, size and recall of each")
    ap.add_argument("--iterative-scan", default="relaxed_order", choices=("relaxed_order", "strict_order", "off"),
                    help="hnsw.iterative_scan of the recall probe (default: the service's)")
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


_TORCH: list[Any] = []


def torch_reference() -> Any:
    """The torch MiniLM encoder issue 10's targets are stated against (the service now embeds with ONNX), no
    query cache, no batching thread: one forward pass per query, as a library call would do it."""
    if not _TORCH:
        from memos.config import Settings
        from memos.embedding import Embedder

        s = Settings()
        emb = Embedder(s.embedding_model, batch_size=s.embedding_batch_size, threads=s.embedding_threads,
                       backend="torch", query_cache_size=0, batch_queries=False)
        emb.embed(["warm-up"])
        _TORCH.append(emb)
    return _TORCH[0]


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
                                                     "service dense", "torch query embedding")}
    ref = torch_reference()
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
            ref.embed_one(q)
            times["torch query embedding"].append(time.perf_counter() - t)
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


def recall_probe(svc: Service, ws: Workspace, emb: Any, facts: list[Fact], args: argparse.Namespace,
                 res: Result) -> None:
    """recall@10 of the HNSW probe against exact search, per ``hnsw.ef_search``, on the first
    ``--recall-queries`` queries; the probe runs with the service's iterative scan (relaxed_order) and the
    cube filter, as superuser (no row-level security: the index is what is measured) and sequential scans
    disabled (else the planner scans small tables exactly at a wide beam). Exact = the same query with index
    and bitmap scans disabled (a sequential scan and a sort)."""
    import numpy as np
    import psycopg
    from pgvector.psycopg import register_vector

    queries = pick_queries(facts, args.recall_queries, seed=args.seed)
    vecs = [np.asarray(emb.embed_one(q)) for _, q in queries]
    efs = [int(x) for x in str(args.ef_values).split(",") if x.strip()]
    with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
        register_vector(conn)
        conn.execute(f"SET hnsw.iterative_scan = {args.iterative_scan}")
        # Small tables: at a wide beam the planner would rather scan exactly; the probe measures the index.
        conn.execute("SET enable_seqscan = off")
        for ef in efs:
            conn.execute(f"SET hnsw.ef_search = {ef}")
            plan = " ".join(r[0] for r in conn.execute("EXPLAIN " + PROBE_SQL,
                                                       (vecs[0], ws.cube_id, vecs[0])).fetchall())
            if "hnsw" not in plan:
                print(f"   warning: the probe at ef_search {ef} does not use the HNSW index: {plan[:200]}")
        exact: list[set[str]] = []
        kth: list[float] = []  # each query's 10th exact distance
        t_exact: list[float] = []
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            conn.execute("SET LOCAL enable_bitmapscan = off")
            conn.execute("SET LOCAL enable_seqscan = on")
            for v in vecs:
                t = time.perf_counter()
                found = conn.execute(EXACT_SQL, (v, ws.cube_id, v), prepare=False).fetchall()
                exact.append({str(r[0]) for r in found})
                kth.append(float(found[-1][1]))
                t_exact.append(time.perf_counter() - t)
        res.exact_ms = p50_p95(t_exact)

        def probe(index: str) -> None:
            for ef in efs:
                conn.execute(f"SET hnsw.ef_search = {ef}")
                got, within, times = 0, 0, []
                for v, want, limit in zip(vecs, exact, kth, strict=True):
                    t = time.perf_counter()
                    rows = conn.execute(PROBE_SQL, (v, ws.cube_id, v), prepare=True).fetchall()
                    times.append(time.perf_counter() - t)
                    got += len(want & {str(r[0]) for r in rows})
                    within += sum(1 for r in rows if float(r[1]) <= limit + TIE_EPSILON)
                p50, p95 = p50_p95(times)
                res.recall[(index, ef)] = (got / (10 * len(vecs)), within / (10 * len(vecs)), p50, p95)
                print(f"   {index}: recall@10 at ef_search {ef}: {got / (10 * len(vecs)):.3f}, within "
                      f"{TIE_EPSILON:g} of the 10th distance {within / (10 * len(vecs)):.3f} (probe p50 {p50:.1f} / "
                      f"p95 {p95:.1f} ms; exact p50 {res.exact_ms[0]:.0f} ms)", flush=True)

        probe(f"{args.hnsw_m}/{args.hnsw_ef_construction}" if res.load is not None else "16/64 (migration)")
        for variant in [v for v in str(args.hnsw_variants).split(",") if v.strip()]:
            m, efc = (int(x) for x in variant.split("/"))
            conn.execute(f"SET maintenance_work_mem = '{args.maintenance_work_mem}'")
            conn.execute("DROP INDEX ix_memories_embedding_hnsw")
            t = time.perf_counter()
            conn.execute(hnsw_def(m, efc))
            built = time.perf_counter() - t
            size_sql = "SELECT pg_relation_size('ix_memories_embedding_hnsw') / 1e6"
            mb = conn.execute(size_sql).fetchone()[0]  # type: ignore[index]
            print(f"   rebuilt HNSW with m={m}, ef_construction={efc}: {built:.0f}s, {mb:.0f} MB", flush=True)
            probe(f"{m}/{efc} ({built:.0f}s, {mb:.0f} MB)")


def ingest_api(svc: Service, ws: Workspace, facts: list[Fact], emb: Any, args: argparse.Namespace,
               res: Result) -> list[str]:
    """Ingest ``facts`` through the API, filling the ingest figures of ``res``; their memory ids, in order."""
    size = len(facts)
    print(f"   HNSW index present before ingest: {res.hnsw_before}; ingesting {size:,} in batches of "
          f"{args.batch_size} from {args.clients} client(s) ...", flush=True)
    ing = Ingest(svc, ws, facts, emb, batch=args.batch_size, clients=args.clients,
                 raw_sample=min(args.raw_sample or max(2048, size // 25), size))
    ing.run()
    res.ingest_s = ing.ingest_s
    res.ingest_rate = size / res.ingest_s
    res.raw_embed_rate = ing.raw_texts / ing.raw_s
    res.first_tenth_rate, res.last_tenth_rate = tenth_rates(ing.done_at, args.batch_size)
    print(f"   ingested in {res.ingest_s:.1f}s ({res.ingest_rate:.1f}/s); raw embedding "
          f"{res.raw_embed_rate:.1f}/s on {ing.raw_texts} texts between the rounds", flush=True)
    return ing.ids


def run_size(size: int, facts_all: list[Fact], emb: Any, args: argparse.Namespace) -> Result:
    facts = facts_all[:size]
    res = Result(size=size)
    res.loader = args.loader if args.loader != "auto" else ("copy" if size > COPY_ABOVE else "api")
    print(f"\n== {size:,} memories ({res.loader} loader): starting a fresh service ...", flush=True)
    # No query-embedding cache in the service: each mode searches the same query right after the other, and a
    # cached vector would spare the second its embedding (the targets compare whole searches with one).
    with run_service(workers=args.workers, extra_env={"MEMOS_QUERY_CACHE_SIZE": "0"}) as svc:
        ws = create_workspace(svc)
        res.hnsw_before, _, _ = db_facts(svc)
        if res.loader == "api":
            ids = ingest_api(svc, ws, facts, emb, args, res)
        else:
            targets = {i for i, _ in pick_queries(facts, max(args.searches, args.recall_queries), seed=args.seed)}
            real_idx = sorted(targets | set(range(min(args.real, size))))
            real_ids = ingest_api(svc, ws, [facts[i] for i in real_idx], emb, args, res)
            real_set = set(real_idx)
            filler_idx = [i for i in range(size) if i not in real_set]
            t = time.perf_counter()
            copied, res.load = copy_fillers(
                svc.database_uri(), cube_id=ws.cube_id, facts=facts, filler_idx=filler_idx, m=args.hnsw_m,
                ef_construction=args.hnsw_ef_construction, maintenance_work_mem=args.maintenance_work_mem,
                seed=args.seed, log=lambda msg: print(msg, flush=True))
            res.load.real, res.load.real_s = len(real_idx), res.ingest_s
            print(f"   COPY + index builds: {time.perf_counter() - t:.0f}s", flush=True)
            ids = [""] * size
            for i, mid in zip(real_idx, real_ids, strict=True):
                ids[i] = mid
            for i, mid in copied.items():
                ids[i] = mid
        t = time.perf_counter()
        vacuum_analyze(svc)
        print(f"   VACUUM ANALYZE: {time.perf_counter() - t:.0f}s", flush=True)
        _, res.hnsw_mb, res.table_mb = db_facts(svc)
        print(f"   {args.searches} searches x (embed, raw pgvector, default, dense) ...", flush=True)
        times, res.hits, res.raw_plan = run_searches(svc, ws, emb, facts, ids, args.searches, args.seed)
        res.search = {k: p50_p95(v) for k, v in times.items()}
        if args.recall_queries > 0:
            recall_probe(svc, ws, emb, facts, args, res)
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
        for name in ("service default", "service dense", "query embedding", "torch query embedding",
                     "raw pgvector"):
            if name not in r.search:
                continue
            p50, p95 = r.search[name]
            target = SEARCH_TARGETS.get(name)
            ratio = r.search_ratio(name) if target else float("nan")
            ref = r.search_ratio(name, "torch query embedding") if target and "torch query embedding" in r.search \
                else float("nan")
            met = ("yes" if ref <= target else "NO") if target else ""
            hit = r.hits.get(name, float("nan"))
            rows.append([f"{r.size:,} {name}", p50, p95, ratio, ref, f"<= {target}" if target else "", met, hit])
    print_table(f"Search ({args.searches} queries; ratio = p95 / (query embedding p95 + raw pgvector p95), with the "
                "service's encoder and with the torch reference the targets are stated against)",
                ["size / what", "p50 ms", "p95 ms", "ratio (service encoder)", "ratio (torch ref)", "target", "met",
                 "source in top 10"], rows)
    for r in results:
        print(f"raw pgvector plan at {r.size:,}: {r.raw_plan.split(' (')[0]}")
    small = next((r for r in results if r.size == 10_000), None)
    if small is not None:
        for r in results:
            if r.size > COPY_ABOVE:
                for name in SEARCH_TARGETS:
                    k = r.search[name][1] / small.search[name][1]
                    print(f"{name} p95 at {r.size:,} / at 10,000 (same run): {k:.2f} (target <= {SCALE_TARGET}: "
                          f"{'met' if k <= SCALE_TARGET else 'NOT met'})")
    loaded = [r for r in results if r.load is not None]
    if loaded:
        rows = []
        for r in loaded:
            assert r.load is not None
            ix = r.load.index_s
            rows.append([f"{r.size:,}", r.load.real, r.load.real_s, r.load.copied, r.load.copy_s,
                         r.load.copied / r.load.copy_s if r.load.copy_s else float("nan"),
                         ix.get("ix_memories_embedding_hnsw", float("nan")), ix.get("ix_memories_tsv", float("nan")),
                         r.hnsw_mb, r.table_mb])
        print_table(f"Bulk load (copy loader; HNSW m={args.hnsw_m}, ef_construction={args.hnsw_ef_construction}, "
                    f"maintenance_work_mem {loaded[0].load.maintenance_work_mem if loaded[0].load else '?'}, "  # noqa: E501
                    f"max_parallel_maintenance_workers {loaded[0].load.parallel_workers if loaded[0].load else '?'})",
                    ["size", "via API", "API s", "by COPY", "COPY s", "COPY rows/s", "HNSW build s", "GIN tsv s",
                     "HNSW MB", "table MB"], rows)
    rows = []
    for r in results:
        for (index, ef), (rec, tied, p50, p95) in r.recall.items():
            rows.append([f"{r.size:,}", index, ef, rec, "yes" if rec >= RECALL_TARGET else "NO", tied, p50, p95,
                         r.exact_ms[1]])
    if rows:
        print_table(f"HNSW probe vs exact search ({args.recall_queries} queries, top 10, iterative scan "
                    f"{args.iterative_scan})",
                    ["size", "index", "ef_search", "recall@10", f">= {RECALL_TARGET}",
                     f"within {TIE_EPSILON:g} (ann-benchmarks)", "probe p50 ms", "probe p95 ms", "exact p95 ms"], rows)


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
