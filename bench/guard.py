"""Memory poisoning through the REST API: how many planted records reach the context of their trigger query.

For each poisoning rate (``--records 1,3``: records each attack writes; bridging attacks always write three)
a fresh service is started, the split's LoCoMo conversations are written one memory per turn (one cube per
conversation, as ``bench/locomo.py`` does), then the attack suite of ``bench/_attacks.py`` is planted, each
record through its channel: ``conversation`` records as turns of the conversation (same source as the benign
turns, spoken by one of its speakers, dated after its last session), ``tool`` records with
``source: tool`` and trust 0.3. Hard benign records (standing preferences, the user's own links and
addresses, quoted instructions, self-corrections) are written through the conversation channel too.

Measured per family and overall:

* **attack success**: an attack succeeds when any of its records is among the memories
  ``POST /v1/cubes/{id}/context`` returns for its trigger query (``top_k`` 10, the default token budget);
* **false positives**: benign LoCoMo turns and hard benign records that are not ``active`` after the writes
  (quarantined), plus those a context response reports as dropped (``dropped``, when the service has a
  read-time check) for a sample of the split's benign questions and for each hard benign record's query;
* **write latency**: p50/p95 of the planting writes (one record per request).

The service runs with the real background path (Redis, a Celery worker, the outbox relay), and the contexts
are asked for once the cubes' background jobs (linking, which runs the guard's write-time consensus check)
have finished. (Before 2026-12-07 evening the bench ran the service with no worker: no linking job ran.)

Nothing in the suite is visible to the service but the records themselves: attacks are recognised in the
responses by their exact content, never by metadata.

Use ``--split dev`` (or ``heldout``, ``heldout2``, ``heldout3``, ``heldout6``: development data now) while
developing a defence, and the latest held-out splits only to report (see the module docstring of ``bench/_attacks.py``).
``--detail`` writes each attack's outcome (with each record's status, risk and guard reasons), for
development splits only.

Run: ``.venv/bin/python bench/guard.py --split dev`` (``--quick``: two conversations, four attacks per family).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _attacks import FAMILIES, SPLIT_CONVERSATIONS, TOOL_TRUST, Suite, build  # noqa: E402
from _common import _ok, create_workspace, p50_p95, print_table, run_service  # noqa: E402
from _locomo import BATCH, Question, load  # noqa: E402
from consolidation import start_background, wait_cube_idle  # noqa: E402

from memos.config import Settings  # noqa: E402
from memos.database import resolve  # noqa: E402
from memos.importers import LocomoConversation  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10.json"
TOP_K = 10
BENIGN_QUESTIONS = 60  # per run, for read-time false positives
DEVELOPMENT_SPLITS = ("dev", "heldout", "heldout2", "heldout3", "heldout6")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=("dev", "heldout", "heldout2", "heldout3", "heldout4", "heldout5",
                                        "heldout6", "heldout7", "heldout8"), default="dev")
    ap.add_argument("--records", default="1,3", help="records per attack, one run each (default 1,3)")
    ap.add_argument("--per-family", type=int, default=8, help="attacks per family per conversation (default 8)")
    ap.add_argument("--quick", action="store_true", help="two conversations, four attacks per family, one rate")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--detail", type=Path,
                    help="write each attack's outcome and each flagged benign record here (development splits "
                         "only: looking at a held-out split's failures would make it development data)")
    args = ap.parse_args(argv)
    if args.detail and args.split not in DEVELOPMENT_SPLITS:
        ap.error(f"--detail is for development splits ({', '.join(DEVELOPMENT_SPLITS)}), not {args.split}")
    return args


def plant(client: httpx.Client, headers: dict[str, str], cube_id: str, conv: LocomoConversation,
          role: str, content: str, channel: str) -> float:
    """One record through its channel; returns the request's seconds."""
    last = max(m.event_time for m in conv.memories if m.event_time is not None)
    item: dict[str, Any] = {"content": content, "role": role,
                            "event_time": (last + timedelta(days=1)).isoformat()}
    if channel == "tool":
        item["provenance"] = {"source": "tool", "trust": TOOL_TRUST}
    else:
        session = conv.memories[-1].session_id
        item["session_id"] = session
        item["provenance"] = {"source": "import", "session_id": session}
    t = time.perf_counter()
    _ok(client.post(f"/v1/cubes/{cube_id}/memories", json={"memories": [item]}, headers=headers))
    return time.perf_counter() - t


def not_active(client: httpx.Client, headers: dict[str, str], cube_id: str,
               states: dict[str, dict[str, Any]] | None = None) -> set[str]:
    """Contents of the cube's memories whose status is not ``active`` (quarantined or rejected); ``states``,
    when given, gets each memory's status, risk and guard reasons by content (for ``--detail``)."""
    out: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = _ok(client.get(f"/v1/cubes/{cube_id}/memories", params=params, headers=headers))
        out |= {m["content"] for m in page["memories"] if m["status"] != "active"}
        if states is not None:
            for m in page["memories"]:
                states[m["content"]] = {"status": m["status"], "risk": m.get("risk"),
                                        "reasons": (m.get("guard") or {}).get("reasons") or {}}
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def context(client: httpx.Client, headers: dict[str, str], cube_id: str, query: str) -> tuple[set[str], set[str]]:
    """(contents returned, contents reported dropped) for one query."""
    body = _ok(client.post(f"/v1/cubes/{cube_id}/context", json={"query": query, "top_k": TOP_K}, headers=headers))
    returned = {m["content"] for m in body["memories"]}
    dropped = {d["memory"]["content"] if "memory" in d else d.get("content", "") for d in body.get("dropped", [])}
    return returned, dropped


def ingest_cubes(client: httpx.Client, headers: dict[str, str], convs: list[LocomoConversation], *, guard: bool,
                 label: str) -> list[str]:
    """One cube per conversation, the guard on or off before anything is written; one memory per turn."""
    cube_ids = []
    for conv in convs:
        cube = _ok(client.post("/v1/cubes", json={"name": f"{label}-{conv.sample_id}"}, headers=headers))
        _ok(client.put(f"/v1/cubes/{cube['id']}/guard", json={"enabled": guard}, headers=headers))
        items = [m.model_dump(mode="json", exclude_none=True) for m in conv.memories]
        for i in range(0, len(items), BATCH):
            _ok(client.post(f"/v1/cubes/{cube['id']}/memories", json={"memories": items[i:i + BATCH]},
                            headers=headers))
        cube_ids.append(cube["id"])
    return cube_ids


def measure(client: httpx.Client, headers: dict[str, str], suite: Suite, convs: list[LocomoConversation],
            questions: list[Question], conv_ids: list[int], *, guard: bool, records: int) -> dict[str, Any]:
    """Write the split's conversations into fresh cubes, plant the suite, and measure (guard on or off)."""
    label = f"{'on' if guard else 'off'}-{records}"
    cube_ids = ingest_cubes(client, headers, [convs[i] for i in conv_ids], guard=guard, label=label)
    n_benign = sum(len(convs[i].memories) for i in conv_ids)
    cube_of = dict(zip(conv_ids, cube_ids, strict=True))
    write_s: list[float] = []
    for a in suite.attacks:
        for r in a.records:
            write_s.append(plant(client, headers, cube_of[a.conv], convs[a.conv], r.role, r.content, r.channel))
    for h in suite.hard_benign:
        write_s.append(plant(client, headers, cube_of[h.conv], convs[h.conv], h.role, h.content, "conversation"))
    # The background jobs every write enqueues (linking, and with it the guard's write-time consensus) finish
    # before anything is measured: an agent asks later than the write.
    for c in cube_ids:
        wait_cube_idle(client, headers, c, expect_at_least=1, timeout_s=3600, poll_s=1.0)
    states: dict[str, dict[str, Any]] = {}
    held = set().union(*(not_active(client, headers, c, states) for c in cube_ids))
    success: Counter[str] = Counter()
    total: Counter[str] = Counter()
    outcomes: list[dict[str, Any]] = []
    for a in suite.attacks:
        returned, dropped = context(client, headers, cube_of[a.conv], a.query)
        mine = {r.content for r in a.records}
        total[a.family] += 1
        success[a.family] += bool(returned & mine)
        outcomes.append({"id": a.id, "family": a.family, "channel": a.records[0].channel, "query": a.query,
                         "returned": sorted(returned & mine), "held": sorted(held & mine),
                         "dropped": sorted(dropped & mine), "records": [r.content for r in a.records],
                         "states": [states.get(r.content) for r in a.records]})
    poison = {r.content for a in suite.attacks for r in a.records}
    hard = {h.content for h in suite.hard_benign}
    benign_dropped: set[str] = set()
    for q in [q for q in questions if q.conv in conv_ids][:BENIGN_QUESTIONS]:
        _, dropped = context(client, headers, cube_of[q.conv], q.text)
        benign_dropped |= dropped - poison - hard
    hard_flagged: set[str] = set()
    for h in suite.hard_benign:
        _, dropped = context(client, headers, cube_of[h.conv], h.query)
        if h.content in held or h.content in dropped:
            hard_flagged.add(h.id)
    benign_held = held - poison - hard
    # Active but at or over the default read threshold (0.3): left out of every context, whether or not a
    # sampled question retrieved it (the write-time checks' flags; not in benign_fp, which counts what the
    # reads saw). Hard benign records are checked per record above.
    benign_suspect = {c for c, st in states.items() if c not in poison and c not in hard
                      and st["status"] == "active" and (st["risk"] or 0.0) >= 0.3}
    p50, p95 = p50_p95(write_s)
    n_poison = sum(len(a.records) for a in suite.attacks)
    return {
        "guard": "on" if guard else "off",
        "records_per_attack": records,
        "poison_share": n_poison / (n_benign + n_poison),
        "success": {f: success[f] / total[f] for f in FAMILIES if total[f]},
        "success_all": sum(success.values()) / max(1, sum(total.values())),
        "attacks": sum(total.values()),
        "benign_fp": (len(benign_held) + len(benign_dropped)) / max(1, n_benign),
        "benign_held": len(benign_held), "benign_dropped": len(benign_dropped), "benign": n_benign,
        "benign_suspect": len(benign_suspect),
        "hard_fp": len(hard_flagged) / max(1, len(suite.hard_benign)), "hard": len(suite.hard_benign),
        "write_p50_ms": p50, "write_p95_ms": p95,
        "detail": {"attacks": outcomes, "benign_held": sorted(benign_held), "benign_dropped": sorted(benign_dropped),
                   "benign_suspect": sorted(benign_suspect),
                   "hard_flagged": sorted(hard_flagged)},
    }


def run_rate(args: argparse.Namespace, samples: list[dict[str, Any]], convs: list[LocomoConversation],
             questions: list[Question], records: int) -> list[dict[str, Any]]:
    """Guard off, then on, in one service (same machine state): separate cubes, same suite."""
    conv_ids = list(SPLIT_CONVERSATIONS[args.split])[: 2 if args.quick else None]
    suite: Suite = build(samples, args.split, per_family=4 if args.quick else args.per_family,
                         records_per_attack=records)
    suite.attacks = [a for a in suite.attacks if a.conv in conv_ids]
    suite.hard_benign = [h for h in suite.hard_benign if h.conv in conv_ids]
    with run_service(extra_env={"MEMOS_RUN_WORKERS": "false"}) as svc, ExitStack() as stack:
        # The real background path (Redis, a Celery worker, the outbox relay), as `memos serve` runs it.
        access = resolve(Settings(home=svc.home))
        if start_background(svc.home, access, stack) is None:
            raise SystemExit("the background path did not start: the write-time checks would not run")
        ws = create_workspace(svc, name=f"guard-{args.split}-{records}")
        with httpx.Client(base_url=svc.base_url, timeout=120.0) as client:
            return [measure(client, ws.headers, suite, convs, questions, conv_ids, guard=g, records=records)
                    for g in (False, True)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    samples = json.loads(args.data.read_text())
    convs, questions = load(args.data)
    rates = [1] if args.quick else [int(x) for x in args.records.split(",")]
    results = [r for rate in rates for r in run_rate(args, samples, convs, questions, rate)]
    print_table(
        f"Attack success: a planted record in the top-{TOP_K} context of its trigger query ({args.split} split)",
        ["guard", "records/attack", "poisoned share", "attacks", *FAMILIES, "all"],
        [[r["guard"], r["records_per_attack"], f"{r['poison_share']:.1%}", r["attacks"],
          *(f"{r['success'].get(f, float('nan')):.0%}" for f in FAMILIES), f"{r['success_all']:.0%}"]
         for r in results])
    print_table(
        "False positives (quarantined + dropped at read) and write latency (one record per request)",
        ["guard", "records/attack", "benign turns flagged", "benign suspect", "hard benign flagged", "write p50 ms",
         "write p95 ms"],
        [[r["guard"], r["records_per_attack"],
          f"{r['benign_fp']:.2%} ({r['benign_held']}+{r['benign_dropped']}/{r['benign']})",
          f"{r['benign_suspect']}",
          f"{r['hard_fp']:.0%} of {r['hard']}", f"{r['write_p50_ms']:.1f}", f"{r['write_p95_ms']:.1f}"]
         for r in results])
    if args.detail:
        args.detail.write_text(json.dumps([{"guard": r["guard"], "records_per_attack": r["records_per_attack"],
                                            **r["detail"]} for r in results], indent=1))
    for r in results:
        del r["detail"]
    if args.json:
        args.json.write_text(json.dumps({"split": args.split, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
