"""Composition: candidate recompute-selection rules compared on teacher-forced greedy agreement only.

The protocol of ``activation.py``'s composition part (LoCoMo conversation cut into 4 chunks of ~512 tokens,
up to 4 questions x 32 greedy tokens of the full prefill as the reference) with the chunks, the reference and
the questions shared by every rule, and no timing or free-running generation, so several rules fit in one run.
Rules (budget = 15% of the composed tokens by default, the separators always recomputed):
``none``; ``heads`` (compose's default); ``headtail:F`` (a share F of the budget to the last tokens before
the prompt, the rest to heads); ``sinkdev:S/L`` (the first S tokens of each chunk, the rest by KV deviation at
layer L, CacheBlend); ``dev:0/1`` (deviation only); ``headdev:F`` (a share F to heads, the rest by deviation).

    .venv/bin/python bench/compose_rules.py FIRST N RULES [RATIO]
    .venv/bin/python bench/compose_rules.py 0 4 none,heads,headdev:0.5     # the tuning set
    .venv/bin/python bench/compose_rules.py 4 4 none,heads,headdev:0.5     # the held-out set
"""

import copy
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _smollm2
import activation as A
import torch

from memos.activation import compose as C
from memos.activation.kv import KVSnapshot, prefill
from memos.activation.models import ModelRegistry
from memos.activation.render import MEMORY_SEPARATOR
from memos.config import Settings

first, n_conv = int(sys.argv[1]), int(sys.argv[2])
rules = sys.argv[3].split(",")
RATIO = float(sys.argv[4]) if len(sys.argv) > 4 else 0.15
gguf, how = _smollm2.ensure_gguf()
if gguf is None:
    raise SystemExit(how)
reg = ModelRegistry(Settings(models={"smollm2": str(gguf)}, activation_device="cpu"))
lm = reg.load("smollm2")
torch.set_num_threads(1)
convs = A.load_conversations()[first : first + n_conv]


def base(snaps):
    sep = prefill(lm, lm.encode(MEMORY_SEPARATOR))
    chunks, always = [], []
    for i, s in enumerate(snaps):
        if i:
            always.append(len(chunks))
            chunks.append(C.Chunk(sep.token_ids, sep.keys, sep.values))
        chunks.append(C.Chunk(s.token_ids, s.keys, s.values))
    out = C.compose_chunks(lm.model, chunks, recompute_ratio=0.0)
    return chunks, always, out


@torch.no_grad()
def deviation_scores(out, layer=1):
    inner = C._inner(lm.model)
    kv = copy.deepcopy(out)
    ids = torch.tensor([kv.token_ids])
    n = ids.shape[1]
    hidden = inner.embed_tokens(ids)
    cos, sin = inner.rotary_emb(hidden, torch.arange(n).unsqueeze(0))
    every = torch.arange(n)
    for i in range(layer):
        hidden = C._layer_step(inner.layers[i], hidden, every, cos, sin, kv, i)
    k1, v1 = C._project_kv(inner.layers[layer], hidden, cos, sin)
    return (k1 - out.keys[layer]).pow(2).sum(dim=(0, 1, 3)) + (v1 - out.values[layer]).pow(2).sum(dim=(0, 1, 3))


def select(rule, chunks, always, out):
    offs = out.offsets
    total = len(out.token_ids)
    firstn = len(chunks[0].token_ids)
    budget = C.recompute_budget(total, firstn, RATIO)
    forced = [p for i in always for p in range(offs[i], offs[i] + len(chunks[i].token_ids))]
    later = [(offs[i], len(c.token_ids)) for i, c in enumerate(chunks) if i > 0 and i not in set(always)]
    left = budget - len(forced)
    name, _, arg = rule.partition(":")
    if name == "none":
        return []
    if name == "heads":
        return sorted(set(forced) | set(C.chunk_heads(later, left)))
    if name == "headtail":  # share f of the budget to the last tokens before the prompt
        f = float(arg)
        nt = int(left * f)
        tail = list(range(total - nt, total))
        return sorted(set(forced) | set(tail) | set(C.chunk_heads(later, left - nt)))
    if name in ("sinkdev", "dev"):  # first s tokens of each chunk + deviation picks (layer L)
        s, L = (int(x) for x in arg.split("/"))
        sinks = C.chunk_heads(later, min(left, s * len(later))) if name == "sinkdev" else []
        d = deviation_scores(out, L)
        d[:firstn] = -1
        d[forced + sinks] = -1
        picks = torch.topk(d, left - len(sinks)).indices.tolist()
        return sorted(set(forced) | set(sinks) | set(picks))
    if name == "headdev":  # half heads, half deviation
        f = float(arg)
        nh = int(left * f)
        heads = C.chunk_heads(later, nh)
        d = deviation_scores(out, 1)
        d[:firstn] = -1
        d[forced + heads] = -1
        picks = torch.topk(d, left - nh).indices.tolist()
        return sorted(set(forced) | set(heads) | set(picks))
    raise SystemExit(rule)


res = {r: [] for r in rules}
kls = {r: [] for r in rules}
t0 = time.time()
for ci, conv in enumerate(convs):
    texts, used = A.chunk_conversation(lm, conv, 4, 2048)
    snaps = [prefill(lm, lm.encode(t)) for t in texts]
    chunks, always, out = base(snaps)
    full = prefill(lm, out.token_ids)
    built = {}
    for r in rules:
        kv = copy.deepcopy(out)
        sel = select(r, chunks, always, kv)
        if sel:
            C._recompute(lm.model, kv, torch.tensor(sel))
        built[r] = KVSnapshot(kv.token_ids, kv.keys, kv.values, fingerprint=lm.fingerprint, model=lm.name)
    for q in A.questions(conv, used, 4):
        p = A.prompt_ids(lm, f"Question: {q}\nAnswer:")
        ref = A.greedy(lm, full, p, 32)
        ref_lp = A.teacher_forced(lm, full, p, ref)
        for r, snap in built.items():
            lp = A.teacher_forced(lm, snap, p, ref)
            res[r].append(float((lp.argmax(-1) == ref_lp.argmax(-1)).float().mean()))
            kls[r].append(float(A.kl(ref_lp, lp).mean()))
    print(
        f"conv {first + ci} done {time.time() - t0:.0f}s",
        {r: round(statistics.fmean(v), 3) for r, v in res.items()},
        flush=True,
    )
print(
    json.dumps(
        {
            r: {"agree_tf": round(statistics.fmean(v), 4), "kl_mean": round(statistics.fmean(kls[r]), 4), "n": len(v)}
            for r, v in res.items()
        }
    )
)
