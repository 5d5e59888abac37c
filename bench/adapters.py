"""Parametric memory: LoRA adapters registered, switched and batched on the built-in tiny model.

Against the real service (``uvicorn api.app:create_app`` in its own process, embedded PostgreSQL, HTTP):

1. **Registration**: 1,000 PEFT adapters (rank 4 on q_proj/v_proj, random weights in the exact files
   ``save_pretrained`` writes) uploaded through ``POST /v1/cubes/{id}/adapters``: latency p50/p95.
2. **Switching** with 10, 100 and 1,000 registered adapters, a **random** (uniform) and a **Zipf** (s=1.1)
   request mix, one client: every request is a batched ``generate`` with ``adapter_id`` (4 new tokens); the
   server reports per request whether the adapter was in the serving model (``used.adapter_loaded``) and how
   long making it ready took (``timings.adapter_ms``); the tier scheduler's move log
   (``GET /v1/scheduler/events``) says where a switch brought it from. The tiers have room for
   ``IN_MODEL`` (32) adapters in the serving model (``MEMOS_TIER_GPU_BYTES``, and
   ``MEMOS_ADAPTER_POOL_MAX_COUNT``) and ``IN_HOST`` (128) more in host memory (``MEMOS_TIER_CPU_BYTES``).
   Switch latency p50/p95 for adapters in the serving model, in host memory and on disk (the blob store), the
   hit rate, the request latency, and the adapters in the model and in host memory at the end: never the
   1,000.
3. **Mixed batches vs one at a time**, the same run, the same 8 adapters, 8 concurrent clients each asking
   for its own adapter: requests/s with ``MEMOS_ADAPTER_BATCH_SIZE=8`` (mixed-adapter batches) against a
   second service running beside it with ``MEMOS_ADAPTER_BATCH_SIZE=1`` (one request at a time), same
   everything else, in alternating rounds; the mean batch size the requests ran in. Plus the same comparison
   in-process, without HTTP (``generate_batch`` of 8 rows against 8 single rows, interleaved).
4. **Memory per adapter**, in-process: LoRA bytes of one adapter, and the process's resident memory growth
   per adapter over 200 loaded into a serving copy, and over 200 more held in host memory (the cpu tier).

    .venv/bin/python bench/adapters.py            # ~3-6 min on 2 busy cores
    .venv/bin/python bench/adapters.py --quick    # fewer requests and adapters (smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import torch  # noqa: E402
from _common import Workspace, create_workspace, p50_p95, print_table, run_service  # noqa: E402
from safetensors.torch import load, save  # noqa: E402

from memos.activation.models import LoadedModel, build_tiny  # noqa: E402

RANK = 4
TARGETS = ("q_proj", "v_proj")
IN_MODEL = 32  # adapters the gpu tier (the serving model) has room for
IN_HOST = 128  # and the cpu tier (host memory)
PROMPTS = ["Alice moved to", "Where does Bob live?", "The capital of Peru is", "Carol collects"]


# ---------------------------------------------------------------- adapters in PEFT's format
def template(lm: LoadedModel, directory: Path) -> tuple[bytes, dict[str, torch.Tensor]]:
    """One adapter written by PEFT's save_pretrained: its config file and its tensors' names and shapes."""
    from peft import LoraConfig, get_peft_model

    from memos.parametric.pool import shared_copy

    config = LoraConfig(r=RANK, lora_alpha=2 * RANK, target_modules=list(TARGETS), init_lora_weights=False,
                        task_type="CAUSAL_LM")
    model = get_peft_model(shared_copy(lm.model), config)  # type: ignore[arg-type]
    model.save_pretrained(str(directory))
    weights = (directory / "adapter_model.safetensors").read_bytes()
    return (directory / "adapter_config.json").read_bytes(), load(weights)


def adapter_weights(shapes: dict[str, torch.Tensor], seed: int) -> bytes:
    """A distinct adapter in the template's layout (PEFT's own init would take longer than the upload)."""
    g = torch.Generator().manual_seed(seed)
    return save({k: torch.randn(v.shape, generator=g) * 0.05 for k, v in shapes.items()})


# ---------------------------------------------------------------- through the service
def register_all(svc_url: str, ws: Workspace, config: bytes, shapes: dict[str, torch.Tensor], n: int,
                 first_seed: int = 0, shas: dict[str, str] | None = None) -> tuple[list[str], list[float]]:
    """Upload ``n`` adapters: their ids (and into ``shas``, id -> blob sha256) and the upload latencies."""
    ids, took = [], []
    with httpx.Client(base_url=svc_url, headers=ws.headers, timeout=120.0) as client:
        for i in range(n):
            files = {"config": ("adapter_config.json", config, "application/json"),
                     "weights": ("adapter_model.safetensors", adapter_weights(shapes, first_seed + i),
                                 "application/octet-stream")}
            began = time.perf_counter()
            r = client.post(f"/v1/cubes/{ws.cube_id}/adapters", data={"model": "tiny", "name": f"a{i}"}, files=files)
            took.append(time.perf_counter() - began)
            if r.status_code != 201:
                raise RuntimeError(f"register -> {r.status_code}: {r.text[:300]}")
            ids.append(r.json()["id"])
            if shas is not None:
                shas[ids[-1]] = r.json()["blob_sha256"]
    return ids, took


def zipf_choice(rng: random.Random, n: int, s: float = 1.1) -> int:
    weights = [1.0 / (k + 1) ** s for k in range(n)]
    return rng.choices(range(n), weights=weights)[0]


def switching(svc_url: str, ws: Workspace, ids: Sequence[str], shas: dict[str, str], *, mix: str, requests: int,
              seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    order = list(ids)
    rng.shuffle(order)  # Zipf ranks are not registration order
    by_source: dict[str, list[float]] = {"gpu": [], "cpu": [], "disk": []}
    total_s = []
    with httpx.Client(base_url=svc_url, headers=ws.headers, timeout=120.0) as client:
        for i in range(requests):
            k = rng.randrange(len(order)) if mix == "random" else zipf_choice(rng, len(order))
            body = {"model": "tiny", "prompt": PROMPTS[i % len(PROMPTS)], "max_new_tokens": 4,
                    "adapter_id": order[k]}
            sent = datetime.now(UTC)
            began = time.perf_counter()
            r = client.post(f"/v1/cubes/{ws.cube_id}/generate", json=body)
            total_s.append(time.perf_counter() - began)
            if r.status_code != 200:
                raise RuntimeError(f"generate -> {r.status_code}: {r.text[:300]}")
            out = r.json()
            source = "gpu" if out["used"]["adapter_loaded"] else moved_from(client, shas[order[k]], sent)
            by_source[source].append(out["timings"]["adapter_ms"] / 1000)
        models = client.get("/v1/models").json()["models"]
        tiers = {t["name"]: t["adapters"] for t in client.get("/v1/scheduler/status").json()["tiers"]}
    loaded = next(m["adapters_loaded"] for m in models if m["name"] == "tiny")
    return {"sources": by_source, "total": total_s, "loaded": loaded, "in_host": tiers.get("cpu", 0)}


def moved_from(client: httpx.Client, sha: str, since: datetime) -> str:
    """Where the request sent at ``since`` brought its adapter from: the tier scheduler's latest move of it
    into the serving model (the gpu tier)."""
    for move in client.get("/v1/scheduler/events", params={"limit": 20}).json():  # newest first
        if move["payload"] == sha and move["target"] == "gpu" and datetime.fromisoformat(move["at"]) >= since:
            return str(move["source"])
    raise RuntimeError(f"no move of {sha} into the serving model since {since}")


def concurrent_rps(svc_url: str, ws: Workspace, ids: Sequence[str], *, per_client: int,
                   new_tokens: int) -> tuple[float, list[float], float]:
    """Each of len(ids) clients asks for its own adapter ``per_client`` times, all at once: requests/s, the
    latencies, and the mean size of the batches the requests ran in (``used.batched``)."""
    latencies: list[float] = []
    sizes: list[int] = []
    lock = threading.Lock()
    gate = threading.Barrier(len(ids) + 1)
    errors: list[str] = []

    def client_loop(adapter_id: str, i: int) -> None:
        with httpx.Client(base_url=svc_url, headers=ws.headers, timeout=300.0) as client:
            gate.wait()
            for j in range(per_client):
                body = {"model": "tiny", "prompt": PROMPTS[(i + j) % len(PROMPTS)], "max_new_tokens": new_tokens,
                        "adapter_id": adapter_id}
                began = time.perf_counter()
                r = client.post(f"/v1/cubes/{ws.cube_id}/generate", json=body)
                with lock:
                    latencies.append(time.perf_counter() - began)
                    if r.status_code != 200:
                        errors.append(f"{r.status_code}: {r.text[:200]}")
                    else:
                        sizes.append(r.json()["used"]["batched"])

    threads = [threading.Thread(target=client_loop, args=(a, i)) for i, a in enumerate(ids)]
    for t in threads:
        t.start()
    gate.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[0]}")
    return len(latencies) / elapsed, latencies, sum(sizes) / max(1, len(sizes))


def warm(svc_url: str, ws: Workspace, ids: Sequence[str]) -> None:
    with httpx.Client(base_url=svc_url, headers=ws.headers, timeout=120.0) as client:
        for a in ids:
            r = client.post(f"/v1/cubes/{ws.cube_id}/generate",
                            json={"model": "tiny", "prompt": "hello", "max_new_tokens": 2, "adapter_id": a})
            r.raise_for_status()


# ---------------------------------------------------------------- in-process
def in_process(lm: LoadedModel, config: bytes, shapes: dict[str, torch.Tensor], *, n_memory: int,
               rounds: int, new_tokens: int) -> dict[str, Any]:
    from memcube.blobs import BlobStore
    from memos.parametric.batcher import generate_batch
    from memos.parametric.pool import AdapterPool
    from memos.scheduler.movers import PayloadMovers, SnapshotMover
    from memos.scheduler.policy import LRU
    from memos.scheduler.tiers import TierManager, TierSpec

    cfg = json.loads(config)
    with tempfile.TemporaryDirectory() as tmp:
        blobs = BlobStore(Path(tmp))
        shas = [blobs.put(adapter_weights(shapes, 10_000 + i))[0] for i in range(n_memory)]
        tiers = TierManager([TierSpec("gpu", 1 << 40, "cpu", emulated=True), TierSpec("cpu", 1 << 40, "cpu")], LRU(),
                            PayloadMovers(SnapshotMover(blobs)))
        pool = AdapterPool(blobs, max_count=n_memory + 1, max_bytes=1 << 40, manager=tiers)
        pool.load(lm, shas[0], cfg)  # builds the serving copy (not an adapter's cost)
        rss0 = _rss()
        for sha in shas[1:]:
            pool.load(lm, sha, cfg)
        per_adapter_rss = (_rss() - rss0) / (n_memory - 1)
        lora_bytes = pool.resident()[0].bytes
        serving = pool.serving(lm)
        assert serving is not None
        names = [r.name for r in pool.resident()[:8]]
        rows = [lm.encode(PROMPTS[i % len(PROMPTS)]) for i in range(8)]
        generate_batch(serving, names, rows, [new_tokens] * 8)  # warm-up
        batched, single = [], []
        for _ in range(rounds):  # interleaved, so load on the machine hits both alike
            began = time.perf_counter()
            generate_batch(serving, names, rows, [new_tokens] * 8)
            batched.append(time.perf_counter() - began)
            began = time.perf_counter()
            for name, row in zip(names, rows, strict=True):
                generate_batch(serving, [name], [row], [new_tokens])
            single.append(time.perf_counter() - began)
        # Others that go on to host memory (the cpu tier): room for one in the serving model, each load pushes
        # the previous one out of it (its tensors kept, its layers freed).
        pool.max_count = 1
        pool.load(lm, shas[0], cfg)
        more = [blobs.put(adapter_weights(shapes, 20_000 + i))[0] for i in range(n_memory)]
        pool.load(lm, more[0], cfg)
        rss1 = _rss()
        for sha in more[1:]:
            pool.load(lm, sha, cfg)
        host_delta = (_rss() - rss1) / (n_memory - 1)
    return {"rss_per_adapter": per_adapter_rss, "lora_bytes": lora_bytes, "host_delta": host_delta,
            "batched_rps": 8 * rounds / sum(batched), "single_rps": 8 * rounds / sum(single)}


def _rss() -> int:
    import gc

    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# ---------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch-wait-ms", type=float, default=2.0,
                        help="MEMOS_ADAPTER_BATCH_WAIT_MS of the batching service (its default: 2)")
    parser.add_argument("--only-batching", action="store_true", help="part 3 alone (mixed vs one at a time)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    sizes = [10, 100] if args.quick else [10, 100, 1000]
    requests = 60 if args.quick else 300
    per_client = 4
    rounds = 2 if args.quick else 6
    new_tokens = 16
    print(f"load before: {os.getloadavg()}")

    lm = build_tiny()
    with tempfile.TemporaryDirectory() as tmp:
        config, shapes = template(lm, Path(tmp))
    print(f"adapter: rank {RANK} on {', '.join(TARGETS)}, {len(save(shapes)):,} bytes of safetensors")

    lora_bytes = sum(t.numel() * t.element_size() for t in shapes.values())
    pool_env = {"MEMOS_ADAPTER_POOL_MAX_COUNT": str(IN_MODEL), "MEMOS_EMBEDDING_THREADS": "1",
                "MEMOS_TIER_GPU_BYTES": str(IN_MODEL * lora_bytes), "MEMOS_TIER_CPU_BYTES": str(IN_HOST * lora_bytes)}
    switch_rows, register_row = [], None
    batch_env = {**pool_env, "MEMOS_ADAPTER_BATCH_SIZE": "8", "MEMOS_ADAPTER_BATCH_WAIT_MS": str(args.batch_wait_ms)}
    with run_service(extra_env=batch_env) as svc:
        ws = create_workspace(svc, name="adapters")
        shas: dict[str, str] = {}
        ids, took = register_all(svc.base_url, ws, config, shapes, 8 if args.only_batching else max(sizes),
                                 shas=shas)
        p50, p95 = p50_p95(took)
        register_row = [len(ids), p50, p95]
        for n in [] if args.only_batching else sizes:
            for mix in ("random", "zipf"):
                out = switching(svc.base_url, ws, ids[:n], shas, mix=mix, requests=requests, seed=n)
                row: list[Any] = [f"{n} {mix}", len(out["sources"]["gpu"]) / requests]
                for source in ("gpu", "cpu", "disk"):
                    row += [len(out["sources"][source]), *p50_p95(out["sources"][source])]
                switch_rows.append([*row, *p50_p95(out["total"]), out["loaded"], out["in_host"]])
        eight = ids[:8]
        warm(svc.base_url, ws, eight)
        # The one-at-a-time service runs beside it, and the two are measured in alternating rounds, so that
        # the load of a shared machine falls on both alike.
        with run_service(extra_env={**pool_env, "MEMOS_ADAPTER_BATCH_SIZE": "1"}) as one:
            ws1 = create_workspace(one, name="one-at-a-time")
            one_ids, _ = register_all(one.base_url, ws1, config, shapes, 8)
            warm(one.base_url, ws1, one_ids)
            mixed_s = single_s = 0.0
            mixed_lat, single_lat, sizes = [], [], []
            for _ in range(rounds):
                rps, lat, size = concurrent_rps(svc.base_url, ws, eight, per_client=per_client, new_tokens=new_tokens)
                mixed_s += len(lat) / rps
                mixed_lat += lat
                sizes.append(size)
                rps, lat, _ = concurrent_rps(one.base_url, ws1, one_ids, per_client=per_client,
                                             new_tokens=new_tokens)
                single_s += len(lat) / rps
                single_lat += lat
            mixed_rps, single_rps = len(mixed_lat) / mixed_s, len(single_lat) / single_s
            mixed_size = sum(sizes) / len(sizes)

    local = in_process(lm, config, shapes, n_memory=201, rounds=5 if args.quick else 15, new_tokens=new_tokens)
    print(f"load after: {os.getloadavg()}")

    print_table("Registration (POST /v1/cubes/{id}/adapters, multipart)", ["adapters", "p50 ms", "p95 ms"],
                [register_row])
    print_table(f"Adapter switch (room for {IN_MODEL} adapters in the serving model, {IN_HOST} in host memory;"
                " adapter_ms from the server, 1 client, 4 new tokens)",
                ["registered / mix", "hit rate", "in model", "p50 ms", "p95 ms", "from host", "p50 ms", "p95 ms",
                 "from disk", "p50 ms", "p95 ms", "request p50 ms", "request p95 ms", "in model at end",
                 "in host at end"], switch_rows)
    m50, m95 = p50_p95(mixed_lat)
    s50, s95 = p50_p95(single_lat)
    print_table(f"8 adapters, 8 concurrent clients, {new_tokens} new tokens, {8 * per_client * rounds} requests each"
                f" way "
                f"(batch wait {args.batch_wait_ms} ms; mean batch {mixed_size:.2f} rows)",
                ["serving", "req/s", "p50 ms", "p95 ms"],
                [["mixed-adapter batches (batch size 8)", mixed_rps, m50, m95],
                 ["one at a time (batch size 1)", single_rps, s50, s95],
                 ["speed-up", mixed_rps / single_rps, float("nan"), float("nan")],
                 ["in-process: generate_batch 8 rows", local["batched_rps"], float("nan"), float("nan")],
                 ["in-process: 8 single rows", local["single_rps"], float("nan"), float("nan")],
                 ["in-process speed-up", local["batched_rps"] / local["single_rps"], float("nan"), float("nan")]])
    print_table("Memory per adapter (200, in-process)", ["LoRA bytes", "RSS growth per adapter in the model",
                                                         "RSS growth per adapter in host memory"],
                [[local["lora_bytes"], local["rss_per_adapter"], local["host_delta"]]])


if __name__ == "__main__":
    main()
