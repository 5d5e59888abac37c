"""Do links earn their keep? LoCoMo recall@10 with expansion against plain search at equal result counts.

The ten LoCoMo conversations go into one cube each, one memory per turn, through the REST API, on a service
with its real background path (Redis, a Celery worker, the outbox relay), so every turn gets its
``linking.link`` job (keywords, tags, typed links to its 6 nearest memories). Once every job has finished,
each question with evidence is searched in its conversation's cube, all variants interleaved per question:

* ``plain 10``: the top 10 hits (the reference);
* ``plain 5``: the top 5 (what the expansions start from);
* ``5 + neighbours``: the top 5 with ``expand`` (each hit's session turn before and after, no links);
* ``5 + links``: the top 5 with ``expand`` following each hit's strongest links (no neighbours);
* ``5 + both``: the top 5 with ``expand`` at the API's defaults (1 neighbour each side, 2 links);

every variant cut to its first 10 results, so each is scored on at most as many results as ``plain 10``.
recall@10 (share of a question's evidence turns among the results) per category; category 5 apart.
The issue's target: expansion ahead of ``plain 10`` on multi-hop and not behind overall.

Run: ``.venv/bin/python bench/links.py`` (``--convs 0,1`` for a shorter run).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import ROOT, _ok, create_workspace, print_table, run_service  # noqa: E402
from _locomo import CATEGORIES, HEADLINE_CATS, Question, Scores, ingest, load  # noqa: E402
from consolidation import start_background, wait_cube_idle  # noqa: E402

from memos.config import Settings  # noqa: E402
from memos.database import resolve  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "locomo10.json"
RESULTS = 10
VARIANTS: dict[str, dict[str, Any]] = {
    "plain 10": {"top_k": 10},
    "plain 5": {"top_k": 5},
    "5 + neighbours": {"top_k": 5, "expand": True, "neighbors": 1, "links": 0},
    "5 + links": {"top_k": 5, "expand": True, "neighbors": 0, "links": 2},
    "5 + both": {"top_k": 5, "expand": True, "neighbors": 1, "links": 2},
}


def search_all(client: httpx.Client, headers: dict[str, str], cube_ids: list[str],
               questions: list[Question]) -> tuple[dict[str, Scores], dict[str, list[int]]]:
    scores = {name: Scores() for name in VARIANTS}
    sizes: dict[str, list[int]] = {name: [] for name in VARIANTS}
    for q in tqdm(questions, desc="search", unit="q", leave=False):
        for name, body in VARIANTS.items():
            out = _ok(client.post(f"/v1/cubes/{cube_ids[q.conv]}/search", json={"query": q.text, **body},
                                  headers=headers))
            ranked = [str(r["memory"]["metadata"].get("dia_id")) for r in out["results"]][:RESULTS]
            sizes[name].append(len(ranked))
            scores[name].add(q, ranked)
    return scores, sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--convs", default="0-9", help="conversations, e.g. 0-9 or 0,1 (default all ten)")
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    if "-" in args.convs:
        lo, hi = (int(x) for x in args.convs.split("-"))
        conv_ids = list(range(lo, hi + 1))
    else:
        conv_ids = [int(x) for x in args.convs.split(",")]
    convs, questions = load(args.data)
    questions = [q for q in questions if q.conv in conv_ids]
    with run_service(extra_env={"MEMOS_RUN_WORKERS": "false"}) as svc, ExitStack() as stack:
        if start_background(svc.home, resolve(Settings(home=svc.home)), stack) is None:
            raise SystemExit("the background path did not start: no linking job would run")
        ws = create_workspace(svc, name="links")
        with httpx.Client(base_url=svc.base_url, timeout=120.0) as client:
            cube_ids, _, n = ingest(client, ws.headers, [convs[i] for i in conv_ids])
            by_conv = dict(zip(conv_ids, cube_ids, strict=True))
            for cid in cube_ids:
                wait_cube_idle(client, ws.headers, cid, expect_at_least=1, timeout_s=7200, poll_s=1.0)
            links = sum(len(_ok(client.get(f"/v1/cubes/{cid}/graph", params={"limit": 500},
                                           headers=ws.headers))["edges"]) for cid in cube_ids)
            full = [by_conv.get(i, "") for i in range(max(conv_ids) + 1)]
            scores, sizes = search_all(client, ws.headers, full, questions)
    cats = [*HEADLINE_CATS]
    rows = []
    for name, sc in scores.items():
        per_cat = [sc.mean((c,))[0][2] for c in cats]
        overall = sc.mean(HEADLINE_CATS)[0][2]
        cat5 = sc.mean((5,))[0][2]
        rows.append([name, *(f"{x:.3f}" for x in per_cat), f"{overall:.3f}", f"{cat5:.3f}",
                     f"{sum(sizes[name]) / max(1, len(sizes[name])):.1f}"])
    print(f"{n} turns in {len(cube_ids)} cubes, {links} links among each cube's 500 most-linked memories; "
          f"{len(questions)} questions")
    print_table(f"recall@{RESULTS} (results cut to {RESULTS})",
                ["variant", *(f"{c} {CATEGORIES[c]}" for c in cats), "overall 1-4", "cat. 5 (apart)",
                 "results / query"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
