"""Composition: one KV cache for the concatenation of several independently prefilled snapshots.

Each stored snapshot was prefilled on its own, from position 0. Concatenating their caches as they are (what
MemOS's original activation memory did) is wrong twice over:

1. **Positions.** A chunk that lands at offset ``o`` has keys rotated for positions ``0..n-1`` instead of
   ``o..o+n-1``. Rotary embeddings compose (RoFormer, https://arxiv.org/abs/2104.09864): a key rotated by the
   angle of position ``p`` and then by the angle of ``o`` is the key rotated by the angle of ``p + o``. So each
   later chunk's keys are re-rotated by its offset, with the model's own inverse frequencies. Values carry no
   position and are kept. Layer 0's keys and values depend on nothing but the token, so after re-rotation
   they equal a full prefill's; deeper layers do not, because...
2. **Cross-attention.** A later chunk's tokens never attended to the chunks before it. CacheBlend
   (Yao et al., EuroSys 2025, https://arxiv.org/abs/2405.16444) recomputes a small fraction of tokens with
   full attention over the composed prefix and patches their keys and values in, layer by layer, each
   selected token attending to the whole composed cache of its layer. Which tokens:
   - ``"heads"`` (default): the first tokens of every later chunk. They lack the most context (a chunk's
     first token was also its own attention sink); EPIC (Hu et al., 2024, https://arxiv.org/abs/2410.15332)
     found recomputing a chunk's first tokens enough. The budget is shared in proportion to
     ``(i + 1) ** recency`` over the later chunks (``HEADS_RECENCY``; 0 shares it evenly): the chunks nearest
     the prompt get the most, since the prompt's and the answer's attention favour them and their errors
     move the next-token distribution most. The layer-0 cache is exact, so the selected tokens go through
     all layers and nothing else is computed.
   - ``"deviation"``: CacheBlend's rule. Layer 0 for every token (one layer of ``L``), then the tokens whose
     layer-1 keys/values deviate most from the cached ones go through layers ``1..L-1``.
   How the rules compare on SmolLM2-135M, and what else was tried, is in docs/activation.md (Composition).

``recompute_ratio`` is the share of the composed tokens that get recomputed (0 = re-rotation only; 1 =
every token of the later chunks, which is a full prefill up to float rounding). The first chunk is never
recomputed: it sits at position 0 and saw exactly the context a full prefill gives it.

**Joining.** ``compose`` joins the snapshots' texts the way ``render`` joins memories: by
``MEMORY_SEPARATOR`` (``"\\n"``). Its token ids are ``ids_1 + encode(sep) + ids_2 + encode(sep) + ...``; the
separator's tokens are one more tiny chunk (prefilled on its own, re-rotated) and, when anything is
recomputed, always recomputed. Those ids equal ``encode(sep.join(texts))`` when the tokenizer does not merge
across the separator (WordPiece: ``encode("\\n")`` is empty; byte-level BPE such as SmolLM2's: the newline is
its own token). The exact reference a composed cache is measured against is a full prefill of its
``token_ids``.

Supported: Llama-family decoders (``model_type`` ``llama``: Llama 2/3, SmolLM, TinyLlama) with RoPE types
whose angle is linear in the position (``default``, ``linear``, ``llama3``, ``yarn``). Anything else is
refused with :class:`CompositionUnsupported`: a silently wrong cache is worse than none.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import torch
import torch.nn.functional as F  # noqa: N812

from memos.activation.kv import KVSnapshot, check_compatible, prefill
from memos.activation.render import MEMORY_SEPARATOR
from memos.errors import InvalidInput

if TYPE_CHECKING:
    from memos.activation.models import LoadedModel

# Architectures whose decoder layer this module re-implements for the selected tokens (see _layer_step).
SUPPORTED_MODEL_TYPES = frozenset({"llama"})
# RoPE variants whose angle is position * inv_freq with inv_freq independent of the sequence length, so that
# rotations compose. ("dynamic" and "longrope" change inv_freq with the length: refused.)
COMPOSABLE_ROPE_TYPES = frozenset({"default", "linear", "llama3", "yarn"})
MAX_RECOMPUTE_RATIO = 1.0
# "heads" shares its budget among the later chunks in proportion to (i + 1) ** HEADS_RECENCY: the chunks nearer
# the prompt, which its attention and the answer's favour, get more (see the module docstring).
HEADS_RECENCY = 3.0
Selection = Literal["heads", "deviation"]
SELECTIONS: tuple[Selection, ...] = ("heads", "deviation")


class CompositionUnsupported(InvalidInput):
    """The model (architecture or RoPE variant) cannot be composed correctly by this module."""

    error = "composition_unsupported"


@dataclass
class ComposedKV:
    """The composed cache: token ids, per-layer keys/values ``[1, kv_heads, T, head_dim]``, what was recomputed."""

    token_ids: list[int]
    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    offsets: list[int]
    recomputed: list[int] = field(default_factory=list)  # positions whose KV was recomputed (sorted)


@dataclass(frozen=True)
class Chunk:
    """One independently prefilled piece: its token ids and per-layer keys/values, prefilled from position 0."""

    token_ids: Sequence[int]
    keys: Sequence[torch.Tensor]
    values: Sequence[torch.Tensor]


def check_composable(model: Any) -> None:
    """Raise :class:`CompositionUnsupported` unless ``model`` is a Llama-family decoder with composable RoPE."""
    config = model.config
    model_type = getattr(config, "model_type", None)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise CompositionUnsupported(
            f"composition supports Llama-family models (model_type in {sorted(SUPPORTED_MODEL_TYPES)}), "
            f"not {model_type!r}"
        )
    rope_type = _rope_type(config)
    if rope_type not in COMPOSABLE_ROPE_TYPES:
        raise CompositionUnsupported(
            f"RoPE type {rope_type!r} does not compose by re-rotation (supported: {sorted(COMPOSABLE_ROPE_TYPES)})"
        )
    if getattr(config, "sliding_window", None):
        raise CompositionUnsupported("models with sliding-window attention are not supported")


def _rope_type(config: Any) -> str:
    params = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    if isinstance(params, dict) and params and all(isinstance(v, dict) for v in params.values()):
        # Per-attention-type parameters (e.g. {"full_attention": {...}}): all must agree.
        types = {str(v.get("rope_type", v.get("type", "default"))) for v in params.values()}
        return types.pop() if len(types) == 1 else "mixed"
    if isinstance(params, dict):
        return str(params.get("rope_type", params.get("type", "default")))
    return "default"


def _inner(model: Any) -> Any:
    """The decoder stack (``LlamaModel``) of a causal-LM wrapper."""
    return model.model if hasattr(model, "model") and hasattr(model.model, "layers") else model


def _inv_freq(model: Any) -> torch.Tensor:
    # The rotary module's own buffer: it already carries rope_theta, partial rotary and the scaling variant.
    return _inner(model).rotary_emb.inv_freq.detach().float()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rerotate(keys: torch.Tensor, delta: int, inv_freq: torch.Tensor) -> torch.Tensor:
    """Keys ``[..., T, head_dim]`` rotated for positions ``p`` -> rotated for ``p + delta``.

    ``cos``/``sin`` are taken without the rotary module's ``attention_scaling``: that factor (YaRN's mscale)
    is already in the cached keys and must not be applied twice. With partial rotary, only the first
    ``2 * len(inv_freq)`` dimensions rotate (Hugging Face's ``rotate_half`` layout).
    """
    if delta == 0:
        return keys
    angles = float(delta) * inv_freq.to(keys.device)  # float32, as the rotary module computes them
    emb = torch.cat((angles, angles))
    cos, sin = emb.cos(), emb.sin()
    rot = emb.shape[0]
    k = keys.float()  # rotate in float32 even for half-precision caches, round once
    if rot == k.shape[-1]:
        return (k * cos + _rotate_half(k) * sin).to(keys.dtype)
    head, tail = k[..., :rot], k[..., rot:]
    return torch.cat((head * cos + _rotate_half(head) * sin, tail), dim=-1).to(keys.dtype)


def recompute_budget(n_tokens: int, first_chunk_tokens: int, ratio: float) -> int:
    """How many tokens a ratio buys: ``round(ratio * n_tokens)``, at most the tokens after the first chunk."""
    if math.isnan(ratio) or not 0.0 <= ratio <= MAX_RECOMPUTE_RATIO:
        raise InvalidInput(f"recompute_ratio must be within [0, {MAX_RECOMPUTE_RATIO}], got {ratio}")
    return min(round(ratio * n_tokens), n_tokens - first_chunk_tokens)


def compose(
    lm: LoadedModel,
    snapshots: Sequence[KVSnapshot],
    *,
    recompute_ratio: float = 0.15,
    separator: str = MEMORY_SEPARATOR,
    selection: Selection = "heads",
    recency: float = HEADS_RECENCY,
) -> KVSnapshot:
    """One snapshot of the snapshots' texts joined by ``separator``, from their stored keys and values.

    Every snapshot must have been made by ``lm`` (``FingerprintMismatch`` otherwise) and prefilled from
    position 0. The inputs are left as they were. ``meta["composed"]`` records the chunk lengths, the ratio
    and how many tokens were recomputed.
    """
    if not snapshots:
        raise InvalidInput("nothing to compose: no snapshots")
    for snap in snapshots:
        check_compatible(snap, lm)
        if snap.n_tokens == 0:
            raise InvalidInput("cannot compose an empty snapshot")
    device = lm.torch_device
    sep_ids = lm.encode(separator) if separator else []
    sep_chunk = None
    if sep_ids and len(snapshots) > 1:
        sep_snap = prefill(lm, sep_ids)
        sep_chunk = Chunk(sep_snap.token_ids, sep_snap.keys, sep_snap.values)
    chunks: list[Chunk] = []
    for i, snap in enumerate(snapshots):
        if i and sep_chunk is not None:
            chunks.append(sep_chunk)
        on = snap.to(device)
        chunks.append(Chunk(on.token_ids, on.keys, on.values))
    composed = compose_chunks(
        lm.model,
        chunks,
        recompute_ratio=recompute_ratio,
        always=[i for i, c in enumerate(chunks) if c is sep_chunk],
        selection=selection,
        recency=recency,
    )
    return KVSnapshot(
        token_ids=composed.token_ids,
        keys=composed.keys,
        values=composed.values,
        fingerprint=lm.fingerprint,
        model=lm.name,
        meta={
            "composed": {
                "chunks": [s.n_tokens for s in snapshots],
                "separator": separator,
                "recompute_ratio": recompute_ratio,
                "selection": selection,
                **({"recency": recency} if selection == "heads" else {}),
                "recomputed": len(composed.recomputed),
            }
        },
    )


@torch.no_grad()
def compose_chunks(
    model: Any,
    chunks: Sequence[Chunk],
    *,
    recompute_ratio: float = 0.15,
    always: Sequence[int] = (),
    selection: Selection = "heads",
    recency: float = HEADS_RECENCY,
) -> ComposedKV:
    """Compose independently prefilled chunks into one cache (see the module docstring).

    ``always``: indices of chunks (after the first) whose every token is recomputed whenever anything is
    (the separators ``compose`` inserts), counted in the budget but never left out of it."""
    if not chunks:
        raise InvalidInput("nothing to compose")
    if selection not in SELECTIONS:
        raise InvalidInput(f"selection must be one of {list(SELECTIONS)}, got {selection!r}")
    check_composable(model)
    n_layers = len(chunks[0].keys)
    for c in chunks:
        if len(c.keys) != n_layers or len(c.values) != n_layers:
            raise InvalidInput("the chunks have different numbers of layers")
        if c.keys[0].shape[-2] != len(c.token_ids):
            raise InvalidInput("a chunk's cache does not match its token ids")
    offsets: list[int] = []
    total = 0
    for c in chunks:
        offsets.append(total)
        total += len(c.token_ids)
    token_ids = [int(t) for c in chunks for t in c.token_ids]
    inv_freq = _inv_freq(model)
    keys = [
        torch.cat([rerotate(c.keys[layer], off, inv_freq) for c, off in zip(chunks, offsets, strict=True)], dim=-2)
        for layer in range(n_layers)
    ]
    values = [torch.cat([c.values[layer] for c in chunks], dim=-2) for layer in range(n_layers)]
    out = ComposedKV(token_ids=token_ids, keys=keys, values=values, offsets=offsets)
    budget = recompute_budget(total, len(chunks[0].token_ids), recompute_ratio)
    forced = [p for i in always if i > 0 for p in range(offsets[i], offsets[i] + len(chunks[i].token_ids))]
    if recompute_ratio > 0:
        budget = max(budget, len(forced))
    if budget <= 0 or len(chunks) == 1:
        return out
    first = len(chunks[0].token_ids)
    if selection == "deviation":
        out.recomputed = _blend_by_deviation(model, out, first=first, budget=budget, forced=forced)
        return out
    later = [(offsets[i], len(c.token_ids)) for i, c in enumerate(chunks) if i > 0 and i not in set(always)]
    selected = sorted(set(forced) | set(chunk_heads(later, budget - len(forced), recency=recency)))
    out.recomputed = _recompute(model, out, torch.tensor(selected, device=keys[0].device))
    return out


def chunk_heads(chunks: Sequence[tuple[int, int]], budget: int, *, recency: float = 0.0) -> list[int]:
    """The first tokens of each chunk ``(offset, length)``, ``budget`` of them shared out in proportion to
    ``(i + 1) ** recency`` for the ``i``-th chunk (0: evenly; larger: more to the chunks nearer the end). A
    chunk too short for its share gives the rest to the others; what whole shares leave over goes one token
    each to the heaviest chunks first."""
    if recency < 0 or math.isnan(recency):
        raise InvalidInput(f"recency must be >= 0, got {recency}")
    weights = [float(i + 1) ** recency for i in range(len(chunks))]
    take = [0] * len(chunks)
    left = max(budget, 0)
    open_ = [i for i, (_, n) in enumerate(chunks) if n > 0]
    while left > 0 and open_:
        total = sum(weights[i] for i in open_)
        grants = {i: min(chunks[i][1] - take[i], int(left * weights[i] / total)) for i in open_}
        if not any(grants.values()):  # fewer tokens left than chunks can share: the heaviest first
            for i in sorted(open_, key=lambda i: -weights[i])[:left]:
                grants[i] = 1
        for i, g in grants.items():
            take[i] += g
            left -= g
        open_ = [i for i in open_ if take[i] < chunks[i][1]]
    return [off + j for (off, _), t in zip(chunks, take, strict=True) for j in range(t)]


def _recompute(model: Any, kv: ComposedKV, selected: torch.Tensor) -> list[int]:
    """Carry the tokens at ``selected`` (sorted positions) through every layer with full attention over the
    composed cache, patching their keys and values in place. Layer 0's cache is exact already (keys and values
    of the token alone), so the selected tokens' hidden states are right at every layer's input."""
    inner = _inner(model)
    ids = torch.tensor([kv.token_ids], device=selected.device)[:, selected]
    hidden = inner.embed_tokens(ids)
    cos, sin = inner.rotary_emb(hidden, selected.unsqueeze(0))
    for i, layer in enumerate(inner.layers):
        hidden = _layer_step(layer, hidden, selected, cos, sin, kv, i)
    return [int(p) for p in selected.tolist()]


def _blend_by_deviation(
    model: Any, kv: ComposedKV, *, first: int, budget: int, forced: Sequence[int] = ()
) -> list[int]:
    """CacheBlend's selection (https://arxiv.org/abs/2405.16444, section 4): layer 0 for every token, then the
    tokens whose layer-1 keys/values deviate most from the cached ones through the remaining layers. In place
    on ``kv``; returns the recomputed positions."""
    inner = _inner(model)
    layers = inner.layers
    device = kv.keys[0].device
    ids = torch.tensor([kv.token_ids], device=device)
    n = ids.shape[1]
    hidden = inner.embed_tokens(ids)
    cos, sin = inner.rotary_emb(hidden, torch.arange(n, device=device).unsqueeze(0))
    everything = torch.arange(n, device=device)
    # Layer 0 for every token: its input is the embedding, so this is exact and gives layer 1's true input.
    hidden = _layer_step(layers[0], hidden, everything, cos, sin, kv, 0)
    if len(layers) == 1:
        return list(range(first, n))
    # Layer 1's true keys/values for every token: the deviation from the cached ones picks the tokens.
    k1, v1 = _project_kv(layers[1], hidden, cos, sin)
    deviation = (k1 - kv.keys[1]).float().pow(2).sum(dim=(0, 1, 3)) + (v1 - kv.values[1]).float().pow(2).sum(
        dim=(0, 1, 3)
    )
    deviation[list(forced)] = float("inf")
    deviation[:first] = -1.0  # the first chunk is exact
    selected = torch.sort(torch.topk(deviation, budget).indices).values
    hidden = hidden[:, selected]
    cos, sin = cos[:, selected], sin[:, selected]
    for i in range(1, len(layers)):
        hidden = _layer_step(layers[i], hidden, selected, cos, sin, kv, i)
    return [int(p) for p in selected.tolist()]


def _project_kv(layer: Any, hidden: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, ...]:
    attn = layer.self_attn
    x = layer.input_layernorm(hidden)
    shape = (*x.shape[:-1], -1, attn.head_dim)
    k = attn.k_proj(x).view(shape).transpose(1, 2)
    v = attn.v_proj(x).view(shape).transpose(1, 2)
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    return k * c + _rotate_half(k) * s, v


def _layer_step(
    layer: Any,
    hidden: torch.Tensor,
    positions: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    kv: ComposedKV,
    index: int,
) -> torch.Tensor:
    """One Llama decoder layer for the tokens at ``positions`` (``hidden``, ``cos``, ``sin`` are theirs).

    Their new keys/values are written into layer ``index`` of ``kv``; their queries attend causally (by
    position) to that whole layer. Mirrors ``LlamaDecoderLayer.forward`` (transformers 5).
    """
    attn = layer.self_attn
    x = layer.input_layernorm(hidden)
    shape = (*x.shape[:-1], -1, attn.head_dim)
    q = attn.q_proj(x).view(shape).transpose(1, 2)
    k = attn.k_proj(x).view(shape).transpose(1, 2)
    v = attn.v_proj(x).view(shape).transpose(1, 2)
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)
    q = q * c + _rotate_half(q) * s
    k = k * c + _rotate_half(k) * s
    kv.keys[index][:, :, positions] = k.to(kv.keys[index].dtype)
    kv.values[index][:, :, positions] = v.to(kv.values[index].dtype)
    keys, values = kv.keys[index].to(q.dtype), kv.values[index].to(q.dtype)
    groups = q.shape[1] // keys.shape[1]
    if groups > 1:
        keys = keys.repeat_interleave(groups, dim=1)
        values = values.repeat_interleave(groups, dim=1)
    n = keys.shape[-2]
    mask = torch.arange(n, device=q.device).unsqueeze(0) <= positions.unsqueeze(1)  # [len, n]
    out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=attn.scaling)
    out = out.transpose(1, 2).reshape(*hidden.shape[:-1], -1)
    hidden = hidden + attn.o_proj(out)
    return hidden + layer.mlp(layer.post_attention_layernorm(hidden))
