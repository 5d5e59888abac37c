"""Where a search's database time goes: statements per search and their times, under the app role with RLS.

Starts a fresh service, loads ``--size`` synthetic memories (the copy loader of ``ingest_search.py``: the
queries' targets and ``--real`` more through the API, the rest by COPY), then, in this process, runs
``memos.retrieval.service.search`` through the service's own session factory (login ``memos_app``, the signed
tenant context, row-level security in force) for ``--queries`` paraphrasing queries in each mode, and prints
per statement kind: how many per search and their mean / p95 time (driver execute to fetch), and the whole
search's time split into database and the rest. ``--explain`` also prints EXPLAIN (ANALYZE, BUFFERS) of the
hybrid candidate statement for the first query, under the same role and context.

Run: ``.venv/bin/python bench/profile_search.py --size 30000``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _bulkload import copy_fillers  # noqa: E402
from _common import create_workspace, p50_p95, print_table, run_service  # noqa: E402
from _synthetic import generate_facts, memory_payload, pick_queries  # noqa: E402


def statement_kind(sql: str) -> str:
    s = " ".join(sql.split())
    if "memos_lexical_matches" in s or "dn AS MATERIALIZED" in s:
        return "candidates (dense + BM25 + neighbours)"
    if "cube_text_stats" in s:
        return "lexeme statistics (+ speakers)"
    if "set_config('hnsw" in s:
        return "HNSW knobs"
    if "memos.tenant" in s or "set_config('memos" in s:
        return "tenant context"
    if s.startswith("SELECT memories.") and "<=>" in s:
        return "dense query (ORM)"
    if s.startswith("SELECT memories."):
        return "load rows (ORM)"
    return s[:60]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=30_000)
    ap.add_argument("--real", type=int, default=1_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--explain", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.gettempdir())

    import httpx
    from sqlalchemy import event

    from memcube import schemas
    from memcube.db import Database
    from memos.config import Settings
    from memos.cubes.service import load_cube
    from memos.database import resolve
    from memos.embedding import Embedder
    from memos.retrieval import service

    facts = generate_facts(args.size, seed=args.seed)
    queries = pick_queries(facts, args.queries, seed=args.seed)
    with run_service() as svc:
        ws = create_workspace(svc)
        real = sorted({i for i, _ in queries} | set(range(min(args.real, args.size))))
        with httpx.Client(base_url=svc.base_url, headers=ws.headers, timeout=600.0) as client:
            for k in range(0, len(real), 256):
                client.post(f"/v1/cubes/{ws.cube_id}/memories",
                            json={"memories": [memory_payload(facts[i]) for i in real[k:k + 256]]}).raise_for_status()
        rs = set(real)
        copy_fillers(svc.database_uri(), cube_id=ws.cube_id, facts=facts,
                     filler_idx=[i for i in range(args.size) if i not in rs], m=16, ef_construction=64,
                     maintenance_work_mem="1GB", seed=args.seed, log=lambda *_: None)
        import psycopg

        with psycopg.connect(svc.database_uri(), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE memories")

        settings = Settings(home=svc.home)
        access = resolve(settings)
        db = Database(access.app_url, context_key=access.context_key, pool_size=2)
        emb = Embedder(settings.embedding_model, batch_size=settings.embedding_batch_size,
                       threads=settings.embedding_threads)
        emb.embed(["warm-up"])
        current: list[tuple[str, float]] = []

        @event.listens_for(db.engine, "before_cursor_execute")
        def _before(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            conn.info["t0"] = time.perf_counter()

        @event.listens_for(db.engine, "after_cursor_execute")
        def _after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            current.append((statement_kind(statement), time.perf_counter() - conn.info["t0"]))

        import uuid

        tenant, cube_id = uuid.UUID(ws.tenant_id), uuid.UUID(ws.cube_id)
        for mode in ("hybrid", "dense"):
            per_kind: dict[str, list[float]] = defaultdict(list)
            totals, dbs = [], []
            for n, (_, q) in enumerate(queries[:10] + queries):
                with db.session(tenant) as session:
                    cube, _ = load_cube(session, cube_id, tenant)
                    current.clear()
                    t = time.perf_counter()
                    service.search(session, cube, schemas.SearchRequest(query=q, mode=mode), embedder=emb,
                                   settings=settings)
                    total = time.perf_counter() - t
                if n < 10:
                    continue  # warm-up
                totals.append(total)
                dbs.append(sum(d for _, d in current))
                counts: dict[str, int] = defaultdict(int)
                for kind, d in current:
                    per_kind[kind].append(d)
                    counts[kind] += 1
            rows = []
            for kind, ds in per_kind.items():
                p50, p95 = p50_p95(ds)
                rows.append([kind, len(ds) / len(totals), sum(ds) / len(ds) * 1000, p95])
            t50, t95 = p50_p95(totals)
            d50, d95 = p50_p95(dbs)
            rows.append(["whole search (embedding included)", float("nan"), t50, t95])
            rows.append(["all statements", float("nan"), d50, d95])
            print_table(f"{mode}: {args.size:,} memories, {len(totals)} queries, app role with RLS "
                        f"(load {os.getloadavg()[0]:.2f})", ["statement", "per search", "mean / p50 ms", "p95 ms"],
                        rows)
        if args.explain:

            captured: list[tuple[str, Any]] = []

            @event.listens_for(db.engine, "before_cursor_execute", retval=True)
            def _capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> Any:
                if statement_kind(statement).startswith("candidates"):
                    captured.append((statement, parameters))
                return statement, parameters

            with db.session(tenant) as session:
                cube, _ = load_cube(session, cube_id, tenant)
                service.search(session, cube, schemas.SearchRequest(query=queries[0][1]), embedder=emb,
                               settings=settings)
                stmt, params = captured[0]
                plan = session.connection().exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + stmt, params).all()
                print("\n".join(r[0] for r in plan))
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
