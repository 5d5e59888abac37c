"""Operations benchmark: what the MCP layer and the operator endpoints cost, against the real service.

    .venv/bin/python bench/ops.py [--memories 1000] [--requests 100]

Starts the service (``_common.run_service``: uvicorn on a fresh embedded PostgreSQL, no workers), writes
``--memories`` synthetic facts into one cube, then, one request at a time from one client:

1. ``search`` through the MCP endpoint (``POST /mcp``, the ``mcp`` package's streamable HTTP client, one
   session) against the same queries through ``POST /v1/cubes/{id}/search`` (httpx) in the same run: the
   baseline. The MCP call is one REST call made in process plus the JSON-RPC envelope and the key check.
   The two alternate query by query (which goes first alternates too), with the query-vector cache off so
   both embed every query.
2. ``add_memories`` of one fact through MCP against the REST write of one fact.
3. ``GET /readyz`` (a bounded ``SELECT 1`` and the outbox backlog; no broker here, so it answers 503 at once
   for that check) and ``GET /metrics`` (the process's collectors plus the database reads done at scrape
   time), against ``GET /healthz`` (one ``SELECT 1``) as the baseline.

Prints p50 / p95 in milliseconds per operation. Every loop is bounded; the service stops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import httpx2  # noqa: E402
from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from bench._common import Service, Workspace, create_workspace, p50_p95, print_table, run_service  # noqa: E402
from bench._synthetic import generate_facts, memory_payload, pick_queries  # noqa: E402


def load(svc: Service, ws: Workspace, n: int) -> None:
    facts = generate_facts(n)
    with httpx.Client(base_url=svc.base_url, headers=ws.headers, timeout=300) as client:
        for i in range(0, n, 200):
            batch = [memory_payload(f) for f in facts[i:i + 200]]
            r = client.post(f"/v1/cubes/{ws.cube_id}/memories", json={"memories": batch})
            r.raise_for_status()


async def timed(call, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        start = time.perf_counter()
        await call(i)
        out.append(time.perf_counter() - start)
    return out


async def paired(a, b, n: int) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """``a(i)`` and ``b(i)`` timed in turn, the one going first alternating, so drift in the machine's load
    falls on both."""
    ta, tb = [], []
    for i in range(n):
        for call, out in ((a, ta), (b, tb)) if i % 2 == 0 else ((b, tb), (a, ta)):
            start = time.perf_counter()
            await call(i)
            out.append(time.perf_counter() - start)
    return ta, tb


async def measure(svc: Service, ws: Workspace, requests: int) -> list[tuple[str, float, float, str]]:
    queries = [q for _, q in pick_queries(generate_facts(2000), requests, seed=5)]
    extra = generate_facts(2 * requests, seed=99)
    rows: list[tuple[str, float, float, str]] = []
    async with httpx.AsyncClient(base_url=svc.base_url, headers=ws.headers, timeout=60) as rest, \
            httpx2.AsyncClient(headers=ws.headers, timeout=60) as http, \
            streamable_http_client(f"{svc.base_url}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as mcp:
        await mcp.initialize()

        async def rest_search(i: int) -> None:
            r = await rest.post(f"/v1/cubes/{ws.cube_id}/search", json={"query": queries[i], "top_k": 10})
            r.raise_for_status()

        async def mcp_search(i: int) -> None:
            result = await mcp.call_tool("search", {"cube": ws.cube_id, "query": queries[i], "top_k": 10})
            assert not result.is_error, result.content

        async def rest_add(i: int) -> None:
            r = await rest.post(f"/v1/cubes/{ws.cube_id}/memories", json={"memories": [memory_payload(extra[i])]})
            r.raise_for_status()

        async def mcp_add(i: int) -> None:
            fact = extra[requests + i]
            result = await mcp.call_tool("add_memories", {"cube": ws.cube_id, "memories": [fact.content]})
            assert not result.is_error, result.content

        async def get(path: str) -> list[float]:
            async def one(_i: int) -> None:
                await rest.get(path)
            return await timed(one, requests)

        await rest_search(0)  # warm both paths
        await mcp_search(0)
        rest_searches, mcp_searches = await paired(rest_search, mcp_search, requests)
        rest_adds, mcp_adds = await paired(rest_add, mcp_add, requests)
        for name, samples, note in (
            ("search, REST (baseline)", rest_searches, ""),
            ("search, MCP", mcp_searches, "same queries"),
            ("add 1 memory, REST (baseline)", rest_adds, ""),
            ("add 1 memory, MCP", mcp_adds, "other facts"),
            ("GET /healthz (baseline)", await get("/healthz"), ""),
            ("GET /readyz", await get("/readyz"), "no broker: 503"),
            ("GET /metrics", await get("/metrics"), ""),
        ):
            p50, p95 = p50_p95(samples)
            rows.append((name, p50, p95, note))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    # No query-vector cache: the MCP search of a query must not be served the vector its REST twin computed.
    with run_service(extra_env={"MEMOS_QUERY_CACHE_SIZE": "0"}) as svc:
        ws = create_workspace(svc, name="ops")
        load(svc, ws, args.memories)
        rows = asyncio.run(measure(svc, ws, args.requests))
    print_table(f"bench/ops.py: {args.memories} memories, {args.requests} sequential requests each (ms)",
                ["operation", "p50", "p95", "note"], rows)


if __name__ == "__main__":
    main()
