"""LoCoMo retrieval benchmark: two-fold cross-validated hybrid search through the REST API, with baselines.

Data: ``../shared/data/locomo10.json`` (10 conversations, 5,882 turns). Each conversation goes into its own
cube through ``POST /v1/cubes/{id}/memories`` (one memory per turn: ``event_time`` = the session date,
``role`` = the speaker, ``session_id``, the turn's ``dia_id`` in metadata; parsed by :mod:`memos.importers`).
Every question with evidence is searched in its conversation's cube (top 10); the evidence turns' ranks give
recall@1/5/10 (share of a question's evidence turns in the top k), hit@10 (any of them) and MRR (first one),
per category and over categories 1-4 (category 5, adversarial, apart).

Protocol (the headline):

1. The settings that were set while looking at LoCoMo (``context_weight`` and the hybrid fusion weight and
   boosts) are searched over a fixed grid (``bench/_tuning.py``: 972 configurations, one ingest per
   ``context_weight``). Fold A picks the configuration with the best recall@10 (1-4) on conversations 0-4
   and is scored on 5-9; fold B the reverse. The picked configurations are scored through the REST API on
   a service restarted with them; the two held-out halves together score every conversation with settings
   chosen without it.
2. The shipped defaults are scored through the API on all 10 conversations. They were chosen while looking
   at all 10, so that figure is in-sample.
3. Baselines in the same run (``bench/_baselines.py``): BM25 (bm25s, English stopwords, Snowball stemmer),
   plain dense (MiniLM over each turn's content, exact cosine), and the service's ``mode=dense`` (pgvector
   top 10 of the service's own vectors: ``"speaker: content"`` blended with the previous turn).

Run: ``.venv/bin/python bench/locomo.py`` (about 20 minutes on 2 busy cores; ``--quick`` for a smoke run, ~6).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _baselines  # noqa: E402
import _tuning  # noqa: E402
from _common import ROOT, Workspace, create_workspace, p50_p95, print_table, run_service  # noqa: E402
from _locomo import CATEGORIES, HEADLINE_CATS, Row, Scores, api_search, ingest, load  # noqa: E402

from memos.config import Settings  # noqa: E402
from memos.embedding import Embedder  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "locomo10.json"
FOLDS = {"A": (range(0, 5), range(5, 10)), "B": (range(5, 10), range(0, 5))}  # name: (choose on, score on)


def table(title: str, systems: dict[str, Scores]) -> None:
    groups: list[tuple[tuple[int, ...], str]] = [((c,), f"{c} {CATEGORIES[c]}") for c in HEADLINE_CATS]
    groups += [(HEADLINE_CATS, "overall 1-4"), ((5,), "5 adversarial (apart)")]
    rows = []
    for label, sc in systems.items():
        for cats, name in groups:
            m, n = sc.mean(cats)
            rows.append([label, name, *(f"{x:.3f}" if x == x else "n/a" for x in m), n])
    print_table(title, ["system", "category", "R@1", "R@5", "R@10", "hit@10", "MRR", "n"], rows)


def summary(title: str, systems: dict[str, Scores]) -> None:
    """recall@10 per category in one line per system (the README's table)."""
    rows = [[label, *(f"{sc.recall10((c,)):.3f}" for c in (1, 2, 3, 4)), f"{sc.recall10():.3f}",
             f"{sc.recall10((5,)):.3f}"] for label, sc in systems.items()]
    print_table(title, ["system", "multi-hop", "temporal", "open-domain", "single-hop", "overall 1-4", "cat. 5"],
                rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DATA)  # run from a `git worktree`: pass the path
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: every 8th question, one ingest, two values per query-time knob")
    args = ap.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    convs, questions = load(args.data)
    if args.quick:
        questions = questions[::8]
        for k in _tuning.GRID:  # one ingest (the default context weight), two values of each query knob
            low = () if k == _tuning.INGEST_KNOB else (min(_tuning.GRID[k]),)
            _tuning.GRID[k] = tuple(sorted({*low, dict(_tuning.defaults())[k]}))
    default = _tuning.defaults()
    configs = _tuning.configurations()
    assert default in configs, "the grid must hold the shipped defaults"
    print(f"{len(convs)} conversations, {sum(len(c.memories) for c in convs)} turns, {len(questions)} questions"
          f" with evidence ({sum(q.category in HEADLINE_CATS for q in questions)} in categories 1-4);"
          f" grid of {len(configs)} configurations; commit {commit}; {started:%Y-%m-%d %H:%M} UTC", flush=True)

    embedder = Embedder(threads=1)
    systems: dict[str, Scores] = {
        _baselines.BM25_LABEL: _baselines.bm25(convs, questions),
        _baselines.DENSE_LABEL: _baselines.plain_dense(convs, questions, embedder),
    }
    settings = Settings()
    default_ctx = dict(default)[_tuning.INGEST_KNOB]
    homes: dict[float, tuple[Path, Workspace, list[str]]] = {}
    captured: dict[float, list[_tuning.Captured]] = {}
    api_default: dict[str, Scores] = {}
    try:
        # One ingest per context weight; the service's database is kept for the held-out runs below.
        for ctx in _tuning.GRID[_tuning.INGEST_KNOB]:
            with run_service(extra_env={"MEMOS_CONTEXT_WEIGHT": repr(ctx)}, keep_home=True) as svc:
                ws = create_workspace(svc, name="locomo")
                with httpx.Client(base_url=svc.base_url, timeout=120.0) as client:
                    cube_ids, secs, n = ingest(client, ws.headers, convs)
                    homes[ctx] = (svc.home, ws, cube_ids)
                    print(f"context_weight {ctx:g}: ingest {n} memories in {secs:.1f} s = {n / secs:.1f}/s",
                          flush=True)
                    if ctx == default_ctx:
                        api_default = api_search(client, ws.headers, cube_ids, questions, ["hybrid", "dense"],
                                                 desc="API, shipped defaults")
                with _tuning.service_state(svc) as state:
                    captured[ctx] = _tuning.capture(state.sessions, ws.tenant_id, cube_ids, questions,
                                                    state.embedder, settings)

        results: dict[_tuning.Config, list[Row]] = {}
        for ctx, cap in captured.items():
            results.update(_tuning.evaluate(cap, [c for c in configs if dict(c)[_tuning.INGEST_KNOB] == ctx]))

        # The capture must re-rank as the service does: compare with the API at the shipped defaults.
        same = sum(a == b for a, b in zip(
            [_tuning.rerank_top10(c, _tuning.weights_of(default)) for c in captured[default_ctx]],
            api_default["hybrid"].ranked, strict=True))
        print(f"check: captured re-ranking at the defaults gives the API's top 10 for {same}/{len(questions)}"
              f" questions (recall@10 1-4: captured {_tuning.mean_r10_mrr(results[default], range(10))[0]:.3f},"
              f" API {api_default['hybrid'].recall10():.3f})", flush=True)

        held_out: dict[str, Scores] = {}
        fold_rows = []
        for name, (train, test) in FOLDS.items():
            best, train_r10 = _tuning.choose(results, train)
            ctx = dict(best)[_tuning.INGEST_KNOB]
            home, ws, cube_ids = homes[ctx]
            test_qs = [q for q in questions if q.conv in test]
            with run_service(home=home, extra_env=_tuning.env_of(best)) as svc, \
                    httpx.Client(base_url=svc.base_url, timeout=120.0) as client:
                held_out[name] = api_search(client, ws.headers, cube_ids, test_qs, ["hybrid"],
                                            desc=f"API, fold {name} held out")["hybrid"]
            predicted = _tuning.mean_r10_mrr(results[best], test)[0]
            defaults_test = api_default["hybrid"].select(test).recall10()
            fold_rows.append([name, f"{train.start}-{train.stop - 1}", f"{test.start}-{test.stop - 1}",
                              _tuning.describe(best), f"{train_r10:.3f}", f"{held_out[name].recall10():.3f}",
                              f"{predicted:.3f}", f"{defaults_test:.3f}"])
        best_all, best_all_r10 = _tuning.choose(results, range(10))
        knobs = _tuning.sensitivity(results, default)
    finally:
        for home, _, _ in homes.values():
            shutil.rmtree(home, ignore_errors=True)

    print_table("Folds (recall@10, categories 1-4)",
                ["fold", "chosen on", "scored on", "chosen settings", "on chosen", "held out (API)",
                 "held out (captured)", "defaults there (API)"], fold_rows)
    print_table("One setting at a time, the others at the defaults (recall@10 1-4, captured re-ranking)",
                ["setting", "value", "conv. 0-4", "conv. 5-9", "all 10"], knobs)
    print(f"shipped defaults: {_tuning.describe(default)}")
    print(f"best on all 10 (in-sample, for scale): {_tuning.describe(best_all)} -> {best_all_r10:.3f}")
    cv = held_out["A"] + held_out["B"]
    full = {
        "hybrid, cross-validated": cv,
        "hybrid, defaults (in-sample)": api_default["hybrid"],
        "mode=dense (service vectors)": api_default["dense"],
        **systems,
    }
    table("LoCoMo retrieval (recall@k = share of evidence turns in the top k)", full)
    summary("LoCoMo recall@10 per category", full)
    h50, h95 = p50_p95(api_default["hybrid"].latencies)
    d50, d95 = p50_p95(api_default["dense"].latencies)
    c50, c95 = p50_p95(cv.latencies)
    print(f"search latency through the API (ms), p50 / p95: defaults hybrid {h50:.1f} / {h95:.1f}, dense"
          f" {d50:.1f} / {d95:.1f} (p95 ratio {h95 / d95:.2f}); cross-validated hybrid {c50:.1f} / {c95:.1f}")
    print(f"finished {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
