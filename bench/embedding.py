"""Query-embedding latency: torch vs ONNX Runtime, where the call runs from, concurrent callers, agreement.

For each backend (``memos.embedding.Embedder``, the packaged all-MiniLM-L6-v2, the service's thread setting):

1. serial single queries called **from the main thread**, **from a worker thread**, and from a worker thread
   while the same busy Python loop runs **in another process** (it takes a core) or **in another thread** (it
   takes a core and competes for the GIL, as a server's event loop and request threads do);
2. N concurrent callers (1/4/16) of ``embed_one`` with the query cache off, with the inference thread batching
   the queries that wait together, and without it (one forward pass per query under the lock): per-query
   p50/p95 and queries/s;
3. cosine agreement of ONNX with torch on every query used (the test suite asserts >= 0.999).

``--int8`` adds a dynamically quantized int8 graph: its agreement, latency, and plain dense LoCoMo recall@10
(MiniLM over each turn, exact cosine; ``bench/_baselines.py``) against fp32 in the same run.

Queries are LoCoMo questions (``../shared/data/locomo10.json``), all distinct. Run:
``.venv/bin/python bench/embedding.py`` (~2-3 min on 2 busy cores; ``--quick`` for ~1 min).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import ROOT, p50_p95, print_table  # noqa: E402
from _locomo import load  # noqa: E402

from memos.config import Settings  # noqa: E402
from memos.embedding import Embedder, onnx_export  # noqa: E402
from memos.embedding.backends import OnnxBackend  # noqa: E402
from memos.embedding.embedder import default_cache_dir  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "locomo10.json"


def load_avg() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[-1]


def make(backend: str, *, batching: bool, cache_dir: Path) -> Embedder:
    s = Settings()
    return Embedder(s.embedding_model, batch_size=s.embedding_batch_size, threads=s.embedding_threads,
                    backend=backend, cache_dir=cache_dir, query_cache_size=0, batch_queries=batching)


def timed_serial(encode: Callable[[str], object], texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        start = time.perf_counter()
        encode(t)
        out.append(time.perf_counter() - start)
    return out


def in_thread(fn: Callable[[], list[float]]) -> list[float]:
    box: list[list[float]] = []
    th = threading.Thread(target=lambda: box.append(fn()))
    th.start()
    th.join()
    return box[0]


class GilHog:
    """A thread that keeps the GIL busy with pure Python, as a loaded event loop does."""

    def __enter__(self) -> GilHog:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()
        return self

    def _spin(self) -> None:
        x = 0
        while not self._stop.is_set():
            for i in range(2000):
                x += i * i

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class CpuHog:
    """The same loop in another process: it takes a core too, but not this process's GIL."""

    def __enter__(self) -> CpuHog:
        self._proc = subprocess.Popen([sys.executable, "-c", "while True:\n    sum(i * i for i in range(2000))"])
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.kill()
        self._proc.wait()


def concurrent(emb: Embedder, texts: list[str], callers: int) -> tuple[list[float], float]:
    """Each of ``callers`` threads embeds its share of ``texts`` one by one; (latencies, queries/s)."""
    shares = [texts[i::callers] for i in range(callers)]
    barrier = threading.Barrier(callers)

    def run(share: list[str]) -> list[float]:
        barrier.wait()
        return timed_serial(emb.embed_one, share)

    start = time.perf_counter()
    with ThreadPoolExecutor(callers) as pool:
        lat = [x for part in pool.map(run, shares) for x in part]
    return lat, len(texts) / (time.perf_counter() - start)


def int8_backend(fp32: OnnxBackend, export_dir: Path, work: Path, threads: int) -> OnnxBackend:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = work / "int8"
    shutil.copytree(export_dir, out)
    quantize_dynamic(str(export_dir / "model.onnx"), str(out / "model.onnx"), weight_type=QuantType.QInt8)
    return OnnxBackend(out, threads=threads)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=300, help="queries per serial measurement")
    ap.add_argument("--quick", action="store_true", help="100 queries per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per concurrency level")
    ap.add_argument("--int8", action="store_true", help="also a dynamically quantized int8 graph (+ LoCoMo recall)")
    args = ap.parse_args()
    n = 100 if args.quick else args.queries

    convs, questions = load(DATA)
    texts = list(dict.fromkeys(q.text for q in questions))
    serial_texts, conc_texts = texts[:n], texts[n:2 * n]
    work = Path(tempfile.mkdtemp(prefix="memos-bench-embedding-"))
    cache = Settings().embedding_cache_dir or default_cache_dir()
    print(f"cores {os.cpu_count()}, encoder threads {Settings().embedding_threads or 'auto'}, "
          f"{len(serial_texts)} serial / {len(conc_texts)} concurrent queries; load at start:{load_avg()}")
    try:
        backends = {b: make(b, batching=False, cache_dir=cache) for b in ("torch", "onnx")}
        for b, e in backends.items():
            e.embed(texts[:16])  # load and warm up
            assert e.backend_name == b, f"{b} fell back to {e.backend_name}"

        rows = []
        for b, e in backends.items():
            def bare(e: Embedder = e) -> list[float]:  # the forward pass alone: no cache, no inference thread
                return timed_serial(lambda t: e._encode([t]), serial_texts)

            rows.append([b, "main thread", *p50_p95(bare())])
            rows.append([b, "worker thread", *p50_p95(in_thread(bare))])
            with CpuHog():
                rows.append([b, "worker thread + a busy process (a core, no GIL)", *p50_p95(in_thread(bare))])
            with GilHog():
                rows.append([b, "worker thread + a busy thread (a core and the GIL)", *p50_p95(in_thread(bare))])
        print_table(f"Single queries, serial (load:{load_avg()})", ["backend", "called from", "p50 ms", "p95 ms"],
                    rows)

        # Lock and inference thread alternate round by round on the same queries, so a burst of load on the
        # shared machine hits both; per-query latencies are pooled over the rounds, queries/s is the median.
        rows = []
        for b in ("torch", "onnx"):
            modes = {False: make(b, batching=False, cache_dir=cache), True: make(b, batching=True, cache_dir=cache)}
            for e in modes.values():
                e.embed(["warm-up"])
            try:
                for callers in (1, 4, 16):
                    lat: dict[bool, list[float]] = {False: [], True: []}
                    qps: dict[bool, list[float]] = {False: [], True: []}
                    for _ in range(args.rounds):
                        for batching, e in modes.items():
                            got, rate = concurrent(e, conc_texts, callers)
                            lat[batching] += got
                            qps[batching].append(rate)
                    for batching in modes:
                        rows.append([b, "inference thread, batched" if batching else "lock, one pass each",
                                     callers, *p50_p95(lat[batching]), float(np.median(qps[batching]))])
            finally:
                for e in modes.values():
                    e.close()
        print_table(f"Concurrent callers of embed_one, query cache off, {args.rounds} alternating rounds "
                    f"(load:{load_avg()})", ["backend", "how", "callers", "p50 ms", "p95 ms", "queries/s"], rows)

        a = backends["torch"].embed(texts[:600])
        b_ = backends["onnx"].embed(texts[:600])
        cos = np.sum(a * b_, axis=1)
        print(f"\ncosine ONNX vs torch over {len(cos)} queries: min {cos.min():.6f}, mean {cos.mean():.6f}")

        if args.int8:
            onnx = backends["onnx"]
            fp32 = onnx.backend
            assert isinstance(fp32, OnnxBackend)
            export = onnx_export.exported_dir(onnx.model_name, cache)
            q8 = int8_backend(fp32, export, work, onnx.threads)
            c8 = np.sum(a * q8.encode(texts[:600]), axis=1)
            lat8 = timed_serial(lambda t: q8.encode([t]), serial_texts)
            lat32 = timed_serial(lambda t: fp32.encode([t]), serial_texts)
            print(f"int8 vs torch: min cosine {c8.min():.6f}, mean {c8.mean():.6f}; serial p50/p95 int8 "
                  "%.2f/%.2f ms vs fp32 %.2f/%.2f ms" % (*p50_p95(lat8), *p50_p95(lat32)))
            import _baselines

            r32 = _baselines.plain_dense(convs, questions, onnx)
            onnx._backend = q8  # same Embedder, int8 graph
            r8 = _baselines.plain_dense(convs, questions, onnx)
            onnx._backend = fp32
            m32, n32 = r32.mean((1, 2, 3, 4))
            m8, _ = r8.mean((1, 2, 3, 4))
            print(f"\nplain dense LoCoMo recall@1/5/10 (categories 1-4, {n32} questions): fp32 "
                  f"{m32[0]:.4f}/{m32[1]:.4f}/{m32[2]:.4f}, int8 {m8[0]:.4f}/{m8[1]:.4f}/{m8[2]:.4f} "
                  f"(difference at 10: {m8[2] - m32[2]:+.4f})")
        for e in backends.values():
            e.close()
        print(f"load at end:{load_avg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
