"""Composition: candidate recompute-selection rules compared on teacher-forced agreement and KL only.

The protocol of ``activation.py``'s composition part (a LoCoMo conversation cut into 4 chunks of ~512 tokens,
N questions x 32 greedy tokens of the full prefill as the reference) with the chunks, the reference and the
questions shared by every rule, and no timing or free-running generation, so several rules fit in one run.
Rules (budget = 15% of the composed tokens by default, or ``rule@ratio``; the separators always recomputed):

- ``none``: re-rotation only; ``all``: every token after the first chunk (a full prefill up to rounding);
- ``heads``: the first tokens of each later chunk, the budget shared evenly (compose's default until
  2026-12-07); ``recency:A``: shared in proportion to ``(i + 1) ** A`` (compose's default now, A = 3);
- ``headtail:F``: a share F of the budget to the last tokens before the prompt, the rest to even heads;
- ``sinkdev:S/L``: the first S tokens of each chunk, the rest by KV deviation at layer L (CacheBlend);
  ``dev:0/L``: deviation only; ``headdev:F``: a share F to even heads, the rest by layer-1 deviation;
- ``qattn:F``: query-aware: a share F to even heads, the rest to the tokens the prompt attends to most
  (summed over layers and heads, over the cache with nothing recomputed);
- ``recq:A/F``: query-aware within each chunk's recency share (A): a share F of it to the chunk's heads,
  the rest to the chunk's tokens the prompt attends to most;
- ``recdev:A/F``: as ``recq`` with layer-1 deviation (CacheBlend) instead of the prompt's attention;
- ``taper:F1/F2/...``: CacheBlend's gradual filtering by position: a share F1 of the tokens (recency-3 heads)
  through the first band of layers, F2 <= F1 through the next, ...; prints the share of token-layers;
- ``gdev:F1/F2/...``: CacheBlend's gradual filtering by deviation (section 4.3 of
  https://arxiv.org/abs/2405.16444): layer 0 for every token, then a share F1 of the tokens (those whose
  layer-1 keys/values deviate most) through the first band of layers, at the next band's first layer the F2
  of them that deviate most there, ...; prints the share of token-layers (layer 0 for all counted);
- ``RULE*F``: RULE, then the keys of the later chunks' tokens that were not recomputed multiplied by F
  (an attention temperature 1/F on them for every query, APE's temperature without its scale factor);
- ``oracle``: the tokens whose keys/values (all layers, relative to each layer's scale) deviate most from
  the full prefill's, a selection that cannot be made without the full prefill: what choosing tokens better
  could give.

Printed per rule: agreement over the 32 positions, agreement on the first token, mean KL(full || composed)
over the positions and at the first; and how many of the disagreements sit where the full prefill's own top
two tokens are within 0.1 / 0.3 nats (near-ties, which any perturbation can flip).

Options: ``--prefix=SPEC`` prefills every chunk behind a shared prefix (APE's shared prefix, Yang et al.,
ICLR 2025, https://arxiv.org/abs/2502.05431): ``bos`` (the tokenizer's BOS), ``ids:1+2`` or ``text:...``;
the first chunk keeps it (the composed text starts with it, and so does the full prefill it is measured
against), the later chunks' copies are dropped and their keys rotated back to start at position 0.
``--chat=turns|one``: the chunks as the system turns the service snapshots under SmolLM2's chat template,
composed as turns (what ``compose`` does) or as one turn (the later chunks' turn headers dropped as a
shared prefix); the prompt is then the user turn and the assistant's opening. ``--ttft=N``: time to first
token on the first document, N interleaved runs: full prefill against ``compose`` at 0/10/15/20%.
``--free``: also the free-running greedy continuation of each rule's cache (32 tokens, compared with the
full prefill's position by position: the strict figure), and beside it three forgiving ones: the share of
positions before the first divergence, ROUGE-L F1 and bag-of-tokens F1 of the two continuations' token ids.
``--corpus=pydoc``: the held-out prose set of ``heldout_prose.py`` (documents FIRST..FIRST+N-1) instead of
LoCoMo conversations.

    .venv/bin/python bench/compose_rules.py FIRST N RULES [RATIO] [QUESTIONS] [--prefix=SPEC] [--corpus=pydoc] [--free]
    .venv/bin/python bench/compose_rules.py 0 4 none,heads,recency:3 0.15 8    # the tuning set
    .venv/bin/python bench/compose_rules.py 8 2 none,heads,recency:3 0.15 8    # LoCoMo held out (spent)
    .venv/bin/python bench/compose_rules.py 0 6 RULES 0.15 8 --corpus=pydoc    # the prose held-out set
"""

import copy
import json
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _smollm2
import activation as A
import heldout_prose
import torch

from memos.activation import compose as C
from memos.activation import render
from memos.activation.backend import TransformersBackend
from memos.activation.kv import KVSnapshot, prefill, to_cache
from memos.activation.models import ModelRegistry
from memos.activation.render import MEMORY_SEPARATOR
from memos.config import Settings

# --name=value, or --name alone (a flag: value "")
opts = {k: v for k, _, v in (a.removeprefix("--").partition("=") for a in sys.argv[1:] if a.startswith("--"))}
args = [a for a in sys.argv[1:] if not a.startswith("--")]
first, n_conv = int(args[0]), int(args[1])
rules = args[2].split(",")
RATIO = float(args[3]) if len(args) > 3 else 0.15
N_QUESTIONS = int(args[4]) if len(args) > 4 else 4
gguf, how = _smollm2.ensure_gguf()
if gguf is None:
    raise SystemExit(how)
reg = ModelRegistry(Settings(models={"smollm2": str(gguf)}, activation_device="cpu"))
lm = reg.load("smollm2")
torch.set_num_threads(1)


def prefix_ids(spec):
    """--prefix: the shared prefix every chunk is prefilled behind (APE's shared prefix); "" none."""
    if not spec:
        return []
    if spec == "bos":
        return [lm.tokenizer.bos_token_id]
    if spec.startswith("ids:"):
        return [int(x) for x in spec[4:].split("+")]
    if spec.startswith("text:"):
        return lm.encode(spec[5:].encode().decode("unicode_escape"))
    raise SystemExit(f"unknown prefix {spec}")


PREFIX = prefix_ids(opts.get("prefix", ""))
# --chat=turns: every chunk is the system turn the service snapshots under a chat template (render.chat_parts),
# composed as turns joined by MEMORY_SEPARATOR (what compose does with chat snapshots); --chat=one: the turns'
# opening is a shared prefix, left out of the later chunks, and the closing marker is kept from the last
# chunk only: the composed text is one system turn holding the texts joined by MEMORY_SEPARATOR (not what
# compose does).
CHAT = opts.get("chat", "")
HEAD, TAIL = render.chat_parts(lm, "\x00", "?")[0].split("\x00") if CHAT else ("", "")
if CHAT == "one":
    PREFIX = lm.encode(HEAD)


def behind_prefix(ids, keep_prefix):
    """A chunk prefilled behind PREFIX; unless keep_prefix, the prefix's keys/values dropped and the keys
    rotated back to start at position 0 (compose_chunks re-rotates them to their offsets)."""
    s = prefill(lm, PREFIX + ids)
    if keep_prefix or not PREFIX:
        return C.Chunk(s.token_ids, s.keys, s.values)
    n, inv = len(PREFIX), C._inv_freq(lm.model)
    keys = [C.rerotate(k[..., n:, :], -n, inv) for k in s.keys]
    return C.Chunk(s.token_ids[n:], keys, [v[..., n:, :] for v in s.values])


def base(texts):
    sep = behind_prefix(lm.encode(MEMORY_SEPARATOR), False)
    chunks: list[C.Chunk] = []
    always: list[int] = []
    for i, t in enumerate(texts):
        if i:
            always.append(len(chunks))
            chunks.append(sep)
        if CHAT == "turns":
            ids = lm.encode(HEAD + t + TAIL)
        elif CHAT == "one":  # the closing marker of the last chunk only (the others' would follow their text)
            ids = lm.encode(t) + (lm.encode(TAIL) if i == len(texts) - 1 else [])
        else:
            ids = lm.encode(t)
        chunks.append(behind_prefix(ids, i == 0))
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


def oracle_scores(out, full):
    dev = torch.zeros(len(out.token_ids))
    for layer in range(len(out.keys)):
        for got, ref in ((out.keys[layer], full.keys[layer]), (out.values[layer], full.values[layer])):
            dev += (got - ref).pow(2).sum(dim=(0, 1, 3)) / ref.pow(2).sum(dim=(0, 1, 3)).mean()
    return dev


@torch.no_grad()
def prompt_attention(out, p_ids):
    """Attention of the prompt's tokens to every cached token, summed over layers, heads and prompt tokens."""
    snap = KVSnapshot(out.token_ids, out.keys, out.values, fingerprint=lm.fingerprint, model=lm.name)
    before = lm.model.config._attn_implementation
    lm.model.set_attn_implementation("eager")  # sdpa returns no attention weights
    try:
        res = lm.model(input_ids=torch.tensor([p_ids]), past_key_values=to_cache(snap, lm), use_cache=True,
                       output_attentions=True, logits_to_keep=1)
    finally:
        lm.model.set_attn_implementation(before)
    n = len(out.token_ids)
    return sum(a[0, :, :, :n].sum(dim=(0, 1)) for a in res.attentions)


def select(rule, chunks, always, out, full, p_ids):
    rule, _, ratio = rule.partition("@")  # "recency:3@0.1": this rule at another ratio than RATIO
    offs = out.offsets
    total = len(out.token_ids)
    firstn = len(chunks[0].token_ids)
    budget = C.recompute_budget(total, firstn, float(ratio) if ratio else RATIO)
    forced = [p for i in always for p in range(offs[i], offs[i] + len(chunks[i].token_ids))]
    later = [(offs[i], len(c.token_ids)) for i, c in enumerate(chunks) if i > 0 and i not in set(always)]
    left = budget - len(forced)
    name, _, arg = rule.partition(":")

    def top(scores, exclude, k):
        scores = scores.clone()
        scores[:firstn] = -1
        scores[list(exclude)] = -1
        return torch.topk(scores, k).indices.tolist()

    if name == "none":
        return []
    if name == "all":
        return list(range(firstn, total))
    if name == "heads":
        return sorted(set(forced) | set(C.chunk_heads(later, left)))
    if name == "recency":
        return sorted(set(forced) | set(C.chunk_heads(later, left, recency=float(arg))))
    if name == "headtail":  # share f of the budget to the last tokens before the prompt
        nt = int(left * float(arg))
        tail = list(range(total - nt, total))
        return sorted(set(forced) | set(tail) | set(C.chunk_heads(later, left - nt)))
    if name in ("sinkdev", "dev"):  # first s tokens of each chunk + deviation picks (layer L)
        s, layer = (int(x) for x in arg.split("/"))
        sinks = C.chunk_heads(later, min(left, s * len(later))) if name == "sinkdev" else []
        picks = top(deviation_scores(out, layer), forced + sinks, left - len(sinks))
        return sorted(set(forced) | set(sinks) | set(picks))
    if name == "headdev":  # a share f to heads, the rest by layer-1 deviation
        nh = int(left * float(arg))
        heads = C.chunk_heads(later, nh)
        return sorted(set(forced) | set(heads) | set(top(deviation_scores(out, 1), forced + heads, left - nh)))
    if name == "qattn":  # a share f to heads, the rest by the prompt's attention
        nh = int(left * float(arg))
        heads = C.chunk_heads(later, nh)
        return sorted(set(forced) | set(heads) | set(top(prompt_attention(out, p_ids), forced + heads, left - nh)))
    if name == "recq":  # recency shares per chunk; a share f of each to its heads, the rest by prompt attention
        a, f = (float(x) for x in arg.split("/"))
        shares = C.chunk_heads(later, left, recency=a)
        att = prompt_attention(out, p_ids)
        picks = []
        for off, n in later:
            take = sum(1 for q in shares if off <= q < off + n)
            nh = int(take * f)
            scores = att[off : off + n].clone()
            scores[:nh] = -1
            picks += list(range(off, off + nh)) + [off + int(j) for j in torch.topk(scores, take - nh).indices]
        return sorted(set(forced) | set(picks))
    if name == "recdev":  # recency shares per chunk; a share f of each to its heads, the rest by deviation
        a, f = (float(x) for x in arg.split("/"))
        shares = C.chunk_heads(later, left, recency=a)
        dev = deviation_scores(out, 1)
        picks = []
        for off, n in later:
            take = sum(1 for q in shares if off <= q < off + n)
            nh = int(take * f)
            scores = dev[off : off + n].clone()
            scores[:nh] = -1
            picks += list(range(off, off + nh)) + [off + int(j) for j in torch.topk(scores, take - nh).indices]
        return sorted(set(forced) | set(picks))
    if name == "oracle":
        return sorted(set(forced) | set(top(oracle_scores(out, full), forced, left)))
    raise SystemExit(f"unknown rule {rule}")


@torch.no_grad()
def recompute_tapered(kv, fractions, chunks, always):
    """CacheBlend's gradual filtering, by position: ``fractions`` (one per equal band of layers, not
    increasing) of the composed tokens go through the layers of their band, the chunks' heads in recency-3
    shares; a token in a smaller band's set is in every set below it, so its hidden state is always right.
    Returns the share of token-layers recomputed."""
    inner = C._inner(lm.model)
    n_layers = len(inner.layers)
    offs, total = kv.offsets, len(kv.token_ids)
    firstn = len(chunks[0].token_ids)
    forced = [p for i in always for p in range(offs[i], offs[i] + len(chunks[i].token_ids))]
    later = [(offs[i], len(c.token_ids)) for i, c in enumerate(chunks) if i > 0 and i not in set(always)]
    sets: list[list[int]] = []
    for f in fractions:
        b = C.recompute_budget(total, firstn, f) - len(forced)
        cur = set(forced) | set(C.chunk_heads(later, b, recency=3.0))
        sets.append(sorted(cur & set(sets[-1])) if sets else sorted(cur))
    band = -(-n_layers // len(fractions))
    pos = torch.tensor(sets[0])
    ids = torch.tensor([kv.token_ids])[:, pos]
    hidden = inner.embed_tokens(ids)
    cos, sin = inner.rotary_emb(hidden, pos.unsqueeze(0))
    done = 0
    for i, layer in enumerate(inner.layers):
        want = torch.tensor(sets[i // band])
        if len(want) < len(pos):
            keep = torch.isin(pos, want)
            hidden, cos, sin, pos = hidden[:, keep], cos[:, keep], sin[:, keep], pos[keep]
        hidden = C._layer_step(layer, hidden, pos, cos, sin, kv, i)
        done += len(pos)
    return done / (n_layers * total)


@torch.no_grad()
def recompute_gradual(kv: C.ComposedKV, fractions: list[float], chunks: list[C.Chunk], always: list[int]) -> float:
    """CacheBlend's gradual filtering by deviation: layer 0 for every token (its cache is exact, this gives
    layer 1's true input), then per equal band of layers the ``fractions[b]`` of the composed tokens (not
    increasing) whose keys/values at the band's first layer deviate most from the cached ones, chosen among
    the previous band's (the separators always kept). Returns the share of token-layers recomputed."""
    inner = C._inner(lm.model)
    layers = inner.layers
    n_layers, total = len(layers), len(kv.token_ids)
    firstn = len(chunks[0].token_ids)
    forced = [p for i in always for p in range(kv.offsets[i], kv.offsets[i] + len(chunks[i].token_ids))]
    pos = torch.arange(total)
    hidden = inner.embed_tokens(torch.tensor([kv.token_ids]))
    cos, sin = inner.rotary_emb(hidden, pos.unsqueeze(0))
    hidden = C._layer_step(layers[0], hidden, pos, cos, sin, kv, 0)
    done = total
    band = -(-(n_layers - 1) // len(fractions))
    for i in range(1, n_layers):
        b = (i - 1) // band
        if (i - 1) % band == 0:  # a band's first layer: keep the tokens that deviate most here
            k, v = C._project_kv(layers[i], hidden, cos, sin)
            dev = (k - kv.keys[i][:, :, pos]).pow(2).sum(dim=(0, 1, 3)) + (v - kv.values[i][:, :, pos]).pow(2).sum(
                dim=(0, 1, 3)
            )
            dev[pos < firstn] = -1.0  # the first chunk is exact
            dev[torch.isin(pos, torch.tensor(forced, dtype=pos.dtype))] = float("inf")
            keep = C.recompute_budget(total, firstn, fractions[b])
            idx = torch.sort(torch.topk(dev, min(keep, len(pos))).indices).values
            hidden, cos, sin, pos = hidden[:, idx], cos[:, idx], sin[:, idx], pos[idx]
        hidden = C._layer_step(layers[i], hidden, pos, cos, sin, kv, i)
        done += len(pos)
    return done / (n_layers * total)


def first_divergence(ref: Sequence[int], hyp: Sequence[int]) -> int:
    """How many leading tokens the two continuations share."""
    return next((i for i, (a, b) in enumerate(zip(ref, hyp, strict=True)) if a != b), len(ref))


def rouge_l(ref: Sequence[int], hyp: Sequence[int]) -> float:
    """ROUGE-L F1 (Lin, 2004) over token ids: the longest common subsequence against both lengths."""
    prev = [0] * (len(hyp) + 1)
    for a in ref:
        cur = [0]
        for j, b in enumerate(hyp):
            cur.append(prev[j] + 1 if a == b else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    return 0.0 if lcs == 0 else 2 * lcs / (len(ref) + len(hyp))


def token_f1(ref: Sequence[int], hyp: Sequence[int]) -> float:
    """SQuAD-style F1 of the two bags of token ids."""
    common = sum((Counter(ref) & Counter(hyp)).values())
    return 0.0 if common == 0 else 2 * common / (len(ref) + len(hyp))


QUERY_AWARE = ("qattn", "recq")
FREE = "free" in opts
stats: dict[str, dict[str, list[float]]] = {
    r: {"ties": [0.0, 0.0, 0.0]} | {k: [] for k in ("agree", "first", "kl", "kl1", "free", "prefix", "rouge", "f1")}
    for r in rules
}
t0 = time.time()


def documents():
    """(label, chunk texts, prompts): LoCoMo conversations, or --corpus=pydoc (bench/heldout_prose.py)."""
    if opts.get("corpus", "locomo") == "pydoc":
        print("corpus:", heldout_prose.describe(), flush=True)
        for d, (texts, prompts) in enumerate(heldout_prose.documents(lm.encode, n_conv, first=first)):
            yield f"pydoc document {first + d}", texts, prompts[:N_QUESTIONS]
        return
    for ci, conv in enumerate(A.load_conversations()[first : first + n_conv]):
        texts, used = A.chunk_conversation(lm, conv, 4, 2048)
        yield f"conv {first + ci}", texts, [f"Question: {q}\nAnswer:" for q in A.questions(conv, used, N_QUESTIONS)]


TTFT = int(opts.get("ttft", 0))


def time_first_token(texts, repeats, ratios=(0.0, 0.1, 0.15, 0.2)):
    """--ttft=N: time to first token on the first document, N interleaved runs (medians): a full prefill of
    the composed ids against compose (the service's path, default rule) + the prompt's prefill."""
    if PREFIX:
        raise SystemExit("--ttft times compose itself, which knows no shared prefix: not with --prefix, --chat=one")
    backend = TransformersBackend()
    # compose's own path; chat turns composed as plain snapshots are: joined by MEMORY_SEPARATOR
    snaps = [prefill(lm, lm.encode(HEAD + t + TAIL)) for t in texts]
    ids = C.compose(lm, snaps, recompute_ratio=0.0).token_ids
    question = "Question: What did they talk about?\nAnswer:"
    p = lm.encode(render.chat_parts(lm, texts[-1], question)[1]) if CHAT else A.prompt_ids(lm, question)
    modes = ["full", *ratios]
    ms: dict[str | float, list[float]] = {m: [] for m in modes}
    for rep in range(repeats + 1):  # the first round untimed
        for m in modes[rep % len(modes) :] + modes[: rep % len(modes)]:
            if m == "full":
                took = backend.generate(lm, ids + p, max_new_tokens=1).ttft_ms
            else:
                t0 = time.perf_counter()
                snap = C.compose(lm, snaps, recompute_ratio=m)
                build = (time.perf_counter() - t0) * 1000
                took = build + backend.generate(lm, p, prefix=snap, max_new_tokens=1).ttft_ms
            if rep:
                ms[m].append(took)
    med = {m: statistics.median(v) for m, v in ms.items()}
    row = {f"composed_{m}": {"ms": round(med[m]), "speedup": round(med["full"] / med[m], 2)} for m in ratios}
    print(json.dumps({"ttft_tokens": len(ids), "full_ms": round(med["full"])} | row), flush=True)


for n_doc, (label, texts, prompts) in enumerate(documents()):
    if TTFT and n_doc == 0:
        time_first_token(texts, TTFT)
    chunks, always, out = base(texts)
    full = prefill(lm, out.token_ids)
    qs = []
    for prompt in prompts:
        p = lm.encode(render.chat_parts(lm, texts[-1], prompt)[1]) if CHAT else A.prompt_ids(lm, prompt)
        ref = A.greedy(lm, full, p, 32)
        qs.append((p, ref, A.teacher_forced(lm, full, p, ref)))
    for r in rules:
        built = None
        for p, ref, ref_lp in qs:
            # a query-aware selection is made per prompt
            rule, _, temp = r.partition("*")
            if built is None or rule.partition("@")[0].partition(":")[0] in QUERY_AWARE:
                kv = copy.deepcopy(out)
                sel: list[int]
                if rule.startswith("taper:"):
                    share = recompute_tapered(kv, [float(x) for x in rule[6:].split("/")], chunks, always)
                    print(f"  {rule}: {share:.3f} of the token-layers recomputed", flush=True)
                    sel = []
                elif rule.startswith("gdev:"):
                    share = recompute_gradual(kv, [float(x) for x in rule[5:].split("/")], chunks, always)
                    print(f"  {rule}: {share:.3f} of the token-layers recomputed", flush=True)
                    sel = []
                else:
                    sel = select(rule, chunks, always, kv, full, p)
                if sel:
                    C._recompute(lm.model, kv, torch.tensor(sel))
                if temp:  # APE's attention temperature on the later chunks' tokens that were not recomputed
                    stale = torch.ones(len(kv.token_ids), dtype=torch.bool)
                    stale[: len(chunks[0].token_ids)] = False
                    stale[sel] = False
                    for k in kv.keys:
                        k[:, :, stale] *= float(temp)
                built = KVSnapshot(kv.token_ids, kv.keys, kv.values, fingerprint=lm.fingerprint, model=lm.name)
            lp = A.teacher_forced(lm, built, p, ref)
            same = lp.argmax(-1) == ref_lp.argmax(-1)
            div = A.kl(ref_lp, lp)
            st = stats[r]
            st["agree"].append(float(same.float().mean()))
            st["first"].append(float(same[0]))
            st["kl"].append(float(div.mean()))
            st["kl1"].append(float(div[0]))
            top2 = ref_lp.topk(2, dim=-1).values
            margin = top2[:, 0] - top2[:, 1]
            st["ties"][0] += int((~same).sum())
            st["ties"][1] += int((~same & (margin < 0.1)).sum())
            st["ties"][2] += int((~same & (margin < 0.3)).sum())
            if FREE:
                free = A.greedy(lm, built, p, len(ref))
                st["free"].append(sum(a == b for a, b in zip(free, ref, strict=True)) / len(ref))
                st["prefix"].append(first_divergence(ref, free) / len(ref))
                st["rouge"].append(rouge_l(ref, free))
                st["f1"].append(token_f1(ref, free))
    print(
        f"{label} done {time.time() - t0:.0f}s",
        {r: round(statistics.fmean(v["agree"]), 3) for r, v in stats.items()},
        {r: round(statistics.fmean(v["free"]), 3) for r, v in stats.items()} if FREE else "",
        flush=True,
    )
print(
    json.dumps(
        {"prefix": PREFIX} | {
            r: {
                "agree_tf": round(statistics.fmean(v["agree"]), 4),
                "agree_first": round(statistics.fmean(v["first"]), 4),
                "kl_mean": round(statistics.fmean(v["kl"]), 4),
                "kl_first": round(statistics.fmean(v["kl1"]), 4),
                "disagreements": int(v["ties"][0]),
                "of_which_margin_lt_0.1": int(v["ties"][1]),
                "of_which_margin_lt_0.3": int(v["ties"][2]),
                "questions": len(v["agree"]),
            }
            | (
                {
                    "agree_free": round(statistics.fmean(v["free"]), 4),
                    "free_before_divergence": round(statistics.fmean(v["prefix"]), 4),
                    "free_rouge_l": round(statistics.fmean(v["rouge"]), 4),
                    "free_token_f1": round(statistics.fmean(v["f1"]), 4),
                }
                if FREE
                else {}
            )
            for r, v in stats.items()
        }
    )
)
