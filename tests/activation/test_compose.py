"""Composition of independently prefilled snapshots (memos.activation.compose) on the tiny model.

The reference is always a full prefill of the composed token ids. The tiny model's weights are random, so
these tests check the mechanics (positions, patching, exact limits, monotone quality), not how good a
composed cache is on text: bench/activation.py measures that on SmolLM2-135M.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from memos.activation.compose import (
    HEADS_RECENCY,
    SELECTIONS,
    CompositionUnsupported,
    Selection,
    check_composable,
    chunk_heads,
    compose,
    rerotate,
)
from memos.activation.errors import FingerprintMismatch
from memos.activation.kv import KVSnapshot, prefill, to_cache
from memos.activation.models import LoadedModel
from memos.errors import InvalidInput

TEXTS = [
    "caroline adopted a grey cat named pixel in march and takes it to the vet every month",
    "melanie paints landscapes on weekends and is preparing a show at the town library",
    "they met at a support group in may and have been going on long walks together since",
]
PROMPT = "what did caroline adopt"


def snapshots(lm: LoadedModel) -> list[KVSnapshot]:
    return [prefill(lm, lm.encode(t)) for t in TEXTS]


def logits_after(lm: LoadedModel, snap: KVSnapshot, prompt: str = PROMPT) -> torch.Tensor:
    """Next-token log-probabilities at every prompt position, with ``snap`` as the prefix."""
    ids = torch.tensor([lm.encode(" " + prompt)])
    with torch.no_grad():
        out = lm.model(input_ids=ids, past_key_values=to_cache(snap, lm), use_cache=True)
    return out.logits[0].log_softmax(-1)


def kl(ref: torch.Tensor, other: torch.Tensor) -> float:
    return float((ref.exp() * (ref - other)).sum(-1).mean())


def max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


def test_a_single_snapshot_composes_to_itself(tiny: LoadedModel) -> None:
    (snap,) = snapshots(tiny)[:1]
    before = [k.clone() for k in snap.keys]
    out = compose(tiny, [snap], recompute_ratio=0.3)
    assert out.token_ids == snap.token_ids
    assert all(torch.equal(a, b) for a, b in zip(out.keys, snap.keys, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(out.values, snap.values, strict=True))
    assert out.fingerprint == tiny.fingerprint
    assert out.keys[0].data_ptr() != snap.keys[0].data_ptr()  # a copy: the stored snapshot never changes
    assert all(torch.equal(a, b) for a, b in zip(snap.keys, before, strict=True))


def test_rerotation_puts_every_chunk_at_its_position(tiny: LoadedModel) -> None:
    """With nothing recomputed: the first chunk is the full prefill's, and layer 0 (whose keys and values
    depend on the token alone) equals the full prefill's at every position: the positions are right."""
    snaps = snapshots(tiny)
    out = compose(tiny, snaps, recompute_ratio=0.0)
    # WordPiece drops the newline: the composed ids are the texts' ids end to end.
    assert out.token_ids == [t for s in snaps for t in s.token_ids]
    assert out.token_ids == tiny.encode("\n".join(TEXTS))
    full = prefill(tiny, out.token_ids)
    n1 = snaps[0].n_tokens
    assert max_diff([k[..., :n1, :] for k in out.keys], [k[..., :n1, :] for k in full.keys]) < 1e-5
    assert max_diff([v[..., :n1, :] for v in out.values], [v[..., :n1, :] for v in full.values]) < 1e-5
    assert float((out.keys[0] - full.keys[0]).abs().max()) < 1e-4
    assert float((out.values[0] - full.values[0]).abs().max()) < 1e-6
    # Deeper layers of the later chunks differ: their tokens never saw the chunks before them.
    assert float((out.keys[-1][..., n1:, :] - full.keys[-1][..., n1:, :]).abs().max()) > 1e-3
    # Concatenating without re-rotation (what peers ship) gets layer 0 wrong after the first chunk.
    naive = torch.cat([s.keys[0] for s in snaps], dim=-2)
    assert float((naive[..., n1:, :] - full.keys[0][..., n1:, :]).abs().max()) > 1e-2


def test_rerotate_composes_with_the_models_rotary_embedding(tiny: LoadedModel) -> None:
    rotary = tiny.model.model.rotary_emb
    raw = torch.randn(1, 2, 5, 64, generator=torch.Generator().manual_seed(0))

    def rotated(positions: list[int]) -> torch.Tensor:
        cos, sin = rotary(raw, torch.tensor([positions]))
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        half = raw.shape[-1] // 2
        return raw * cos + torch.cat((-raw[..., half:], raw[..., :half]), dim=-1) * sin

    inv_freq = rotary.inv_freq.float()
    base = rotated([0, 1, 2, 3, 4])
    assert torch.allclose(rerotate(base, 37, inv_freq), rotated([37, 38, 39, 40, 41]), atol=1e-5)
    assert torch.allclose(
        rerotate(rerotate(base, 20, inv_freq), 17, inv_freq), rotated([37, 38, 39, 40, 41]), atol=1e-5
    )
    assert rerotate(base, 0, inv_freq) is base


@pytest.mark.parametrize("selection", SELECTIONS)
def test_recomputing_everything_is_a_full_prefill(tiny: LoadedModel, selection: Selection) -> None:
    snaps = snapshots(tiny)
    out = compose(tiny, snaps, recompute_ratio=1.0, selection=selection)
    full = prefill(tiny, out.token_ids)
    assert out.meta["composed"]["recomputed"] == out.n_tokens - snaps[0].n_tokens
    assert max_diff(out.keys, full.keys) < 1e-4
    assert max_diff(out.values, full.values) < 1e-4
    assert kl(logits_after(tiny, full), logits_after(tiny, out)) < 1e-6


@pytest.mark.parametrize("selection", SELECTIONS)
def test_more_recompute_brings_the_cache_closer_to_a_full_prefill(tiny: LoadedModel, selection: Selection) -> None:
    snaps = snapshots(tiny)
    ref = logits_after(tiny, prefill(tiny, compose(tiny, snaps, recompute_ratio=0.0).token_ids))
    kls = {
        r: kl(ref, logits_after(tiny, compose(tiny, snaps, recompute_ratio=r, selection=selection)))
        for r in (0.0, 0.1, 0.3, 0.6)
    }
    assert kls[0.0] > 0
    assert kls[0.3] <= kls[0.0]
    assert kls[0.6] <= kls[0.1] <= kls[0.0]


def test_heads_share_the_budget_evenly_from_each_chunks_start() -> None:
    assert chunk_heads([(10, 5), (20, 5)], 4) == [10, 11, 20, 21]
    assert chunk_heads([(10, 5), (20, 5)], 3) == [10, 11, 20]
    assert chunk_heads([(10, 1), (20, 5)], 4) == [10, 20, 21, 22]  # a short chunk gives up its share
    assert chunk_heads([(10, 1), (20, 2)], 9) == [10, 20, 21]
    assert chunk_heads([(10, 3)], 0) == []


def test_heads_with_recency_give_more_of_the_budget_to_later_chunks() -> None:
    # weights 1 : 2 : 3 (recency 1): 12 tokens -> 2, 4, 6
    assert chunk_heads([(0, 10), (10, 10), (20, 10)], 12, recency=1.0) == [0, 1, 10, 11, 12, 13, 20, 21, 22, 23, 24, 25]
    # weights 1 : 8 (recency 3): 9 tokens -> 1, 8; the remainder of whole shares goes to the heaviest chunk
    assert chunk_heads([(0, 10), (10, 10)], 9, recency=3.0) == [0, *range(10, 18)]
    assert chunk_heads([(0, 10), (10, 10)], 4, recency=3.0) == [10, 11, 12, 13]
    # a last chunk too short for its share gives the rest back to the earlier ones
    assert chunk_heads([(0, 10), (10, 2)], 6, recency=3.0) == [0, 1, 2, 3, 10, 11]
    with pytest.raises(InvalidInput):
        chunk_heads([(0, 10)], 3, recency=-1.0)


def test_recomputed_tokens_are_the_heads_of_later_chunks(tiny: LoadedModel) -> None:
    snaps = snapshots(tiny)
    out = compose(tiny, snaps, recompute_ratio=0.1, recency=0.0)
    n1, n2 = snaps[0].n_tokens, snaps[1].n_tokens
    budget = round(0.1 * out.n_tokens)
    assert out.meta["composed"] == {
        "chunks": [s.n_tokens for s in snaps],
        "separator": "\n",
        "recompute_ratio": 0.1,
        "selection": "heads",
        "recency": 0.0,
        "recomputed": budget,
    }
    full = prefill(tiny, out.token_ids)
    # The first chunk and layer 0 stay exact; the first recomputed token of chunk 2 sees chunk 1 now.
    assert max_diff([k[..., :n1, :] for k in out.keys], [k[..., :n1, :] for k in full.keys]) < 1e-5
    assert float((out.keys[0] - full.keys[0]).abs().max()) < 1e-4
    assert float((out.keys[-1][..., n1, :] - full.keys[-1][..., n1, :]).abs().max()) < 1e-4
    plain = compose(tiny, snaps, recompute_ratio=0.0)
    assert torch.equal(out.keys[-1][..., n1 + n2 - 1, :], plain.keys[-1][..., n1 + n2 - 1, :])  # not selected


def test_by_default_the_chunks_nearest_the_prompt_get_most_of_the_budget(tiny: LoadedModel) -> None:
    snaps = snapshots(tiny)
    out = compose(tiny, snaps, recompute_ratio=0.2)
    assert out.meta["composed"]["recency"] == HEADS_RECENCY > 0
    n1, n2, n3 = (s.n_tokens for s in snaps)
    full = prefill(tiny, out.token_ids)
    plain = compose(tiny, snaps, recompute_ratio=0.0)

    def recomputed(pos: int) -> bool:  # patched: its last-layer key moved from the plain composition's
        return not torch.equal(out.keys[-1][..., pos, :], plain.keys[-1][..., pos, :])

    in_2 = sum(recomputed(p) for p in range(n1, n1 + n2))
    in_3 = sum(recomputed(p) for p in range(n1 + n2, n1 + n2 + n3))
    assert in_2 + in_3 == out.meta["composed"]["recomputed"] == round(0.2 * out.n_tokens)
    assert in_3 > in_2
    assert all(recomputed(p) for p in range(n1 + n2, n1 + n2 + in_3))  # the last chunk's first tokens
    assert not recomputed(n1 + n2 + in_3)
    # a recomputed head of the last chunk now attends to the chunks before it: nearer a full prefill's
    head = n1 + n2
    assert float((out.keys[-1][..., head, :] - full.keys[-1][..., head, :]).norm()) < float(
        (plain.keys[-1][..., head, :] - full.keys[-1][..., head, :]).norm()
    )


def test_an_unknown_selection_is_refused(tiny: LoadedModel) -> None:
    with pytest.raises(InvalidInput):
        compose(tiny, snapshots(tiny)[:2], recompute_ratio=0.1, selection="random")  # type: ignore[arg-type]


def test_a_separator_with_tokens_is_inserted_and_recomputed(tiny: LoadedModel) -> None:
    snaps = snapshots(tiny)[:2]
    sep = tiny.encode(" ; ")
    assert sep  # WordPiece keeps the semicolon
    out = compose(tiny, snaps, recompute_ratio=0.0, separator=" ; ")
    assert out.token_ids == snaps[0].token_ids + sep + snaps[1].token_ids
    assert out.token_ids == tiny.encode(TEXTS[0] + " ; " + TEXTS[1])
    full = prefill(tiny, out.token_ids)
    assert float((out.keys[0] - full.keys[0]).abs().max()) < 1e-4
    tiny_ratio = compose(tiny, snaps, recompute_ratio=0.01, separator=" ; ")
    assert tiny_ratio.meta["composed"]["recomputed"] >= len(sep)  # the separator always, whatever the budget
    everything = compose(tiny, snaps, recompute_ratio=1.0, separator=" ; ")
    assert max_diff(everything.keys, full.keys) < 1e-4


def test_snapshots_of_another_model_are_refused(tiny: LoadedModel) -> None:
    snap = snapshots(tiny)[0]
    alien = KVSnapshot(snap.token_ids, snap.keys, snap.values, fingerprint="0" * 64, model="other")
    with pytest.raises(FingerprintMismatch):
        compose(tiny, [snap, alien], recompute_ratio=0.1)


@pytest.mark.parametrize("ratio", [-0.1, 1.5, float("nan")])
def test_a_ratio_outside_0_1_is_refused(tiny: LoadedModel, ratio: float) -> None:
    with pytest.raises(InvalidInput):
        compose(tiny, snapshots(tiny)[:2], recompute_ratio=ratio)


def test_nothing_to_compose_is_refused(tiny: LoadedModel) -> None:
    with pytest.raises(InvalidInput):
        compose(tiny, [], recompute_ratio=0.1)


@pytest.mark.parametrize(
    ("model_type", "rope", "extra"),
    [
        ("gpt2", {"rope_type": "default"}, {}),
        ("llama", {"rope_type": "dynamic", "factor": 2.0}, {}),
        ("llama", {"rope_type": "longrope"}, {}),
        ("llama", {"rope_type": "default"}, {"sliding_window": 4096}),
    ],
)
def test_models_that_do_not_compose_are_refused(
    model_type: str, rope: dict[str, object], extra: dict[str, object]
) -> None:
    model = SimpleNamespace(config=SimpleNamespace(model_type=model_type, rope_parameters=rope, **extra))
    with pytest.raises(CompositionUnsupported):
        check_composable(model)


def test_llama_rope_variants_that_compose_are_accepted(tiny: LoadedModel) -> None:
    check_composable(tiny.model)
    for rope in ({"rope_type": "linear", "factor": 2.0}, {"rope_type": "llama3"}, {"rope_type": "yarn"}):
        check_composable(SimpleNamespace(config=SimpleNamespace(model_type="llama", rope_parameters=rope)))
