"""A snapshot as the prefix gives exactly what prefilling its text with the prompt gives (tiny model)."""

from __future__ import annotations

import copy
import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from memos.activation.backend import TransformersBackend
from memos.activation.kv import KVSnapshot, deserialize, prefill, serialize, to_cache
from memos.activation.models import LoadedModel
from memos.activation.render import SEPARATOR, chat_parts, joins_cleanly, prompt_ids
from memos.errors import InvalidInput

PREFIX = (
    "Caroline adopted a grey cat named Pixel in March. She works as a nurse at the city hospital "
    "and plays the cello on weekends.\nMelanie moved to Lisbon last year; she teaches maths."
)
PROMPTS = ["What is the name of Caroline's cat?", "Where does Melanie live now, and what does she teach?"]
# A float32 forward over the prompt alone (with the cache) and over the whole text differ only in the order
# of floating-point sums; on CPU they come out bit-identical, this is the allowance for other kernels.
ATOL = 1e-4


def reloaded_snapshot(lm: LoadedModel, text: str) -> KVSnapshot:
    snap = prefill(lm, lm.encode(text))
    restored, _ = deserialize(serialize(snap, model=lm.name, fingerprint=lm.fingerprint))
    return restored


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_join_rule_holds_for_the_tiny_tokenizer(tiny: LoadedModel, prompt: str) -> None:
    # Snapshot ids + separately encoded prompt ids are the ids of the joined text (render.py's rule).
    joined = tiny.encode(PREFIX + SEPARATOR + prompt)
    assert joined == tiny.encode(PREFIX) + prompt_ids(tiny, prompt)
    assert joins_cleanly(tiny, PREFIX, prompt)


@pytest.mark.parametrize("prompt", PROMPTS)
def test_logits_after_a_reloaded_snapshot_equal_a_full_prefill(tiny: LoadedModel, prompt: str) -> None:
    snap = reloaded_snapshot(tiny, PREFIX)
    ids = prompt_ids(tiny, prompt)
    with torch.no_grad():
        cached = tiny.model(input_ids=torch.tensor([ids]), past_key_values=to_cache(snap, tiny), use_cache=True)
        full = tiny.model(input_ids=torch.tensor([snap.token_ids + ids]))
    after_snapshot = cached.logits[0]
    reference = full.logits[0, -len(ids) :]
    assert after_snapshot.shape == reference.shape
    torch.testing.assert_close(after_snapshot, reference, atol=ATOL, rtol=0)
    assert torch.equal(after_snapshot.argmax(-1), reference.argmax(-1))


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_generation_with_a_snapshot_is_generation_from_the_full_text(
    tiny: LoadedModel, backend: TransformersBackend, prompt: str
) -> None:
    snap = reloaded_snapshot(tiny, PREFIX)
    ids = prompt_ids(tiny, prompt)
    with_snapshot = backend.generate(tiny, ids, prefix=snap, max_new_tokens=32)
    full_ids = tiny.encode(PREFIX + SEPARATOR + prompt)
    from_text = backend.generate(tiny, full_ids, max_new_tokens=32)
    assert with_snapshot.token_ids == from_text.token_ids
    assert with_snapshot.text == from_text.text
    assert (with_snapshot.cached_tokens, with_snapshot.prefill_tokens) == (len(snap.token_ids), len(ids))
    assert (from_text.cached_tokens, from_text.prefill_tokens) == (0, len(full_ids))

    # An independent reference: transformers' own greedy search over the full text.
    # mypy misreads transformers' GenerationMixin.generate as a tensor
    reference = tiny.model.generate(  # type: ignore[operator]
        torch.tensor([full_ids]),
        attention_mask=torch.ones(1, len(full_ids), dtype=torch.long),
        do_sample=False,
        max_new_tokens=len(with_snapshot.token_ids),
        pad_token_id=tiny.tokenizer.pad_token_id,
    )
    assert reference[0, len(full_ids) :].tolist() == with_snapshot.token_ids


def test_an_empty_prompt_continues_the_snapshot(tiny: LoadedModel, backend: TransformersBackend) -> None:
    snap = reloaded_snapshot(tiny, PREFIX)
    continued = backend.generate(tiny, [], prefix=snap, max_new_tokens=8)
    assert continued.token_ids == backend.generate(tiny, snap.token_ids, max_new_tokens=8).token_ids
    assert (continued.cached_tokens, continued.prefill_tokens) == (snap.n_tokens - 1, 1)


def test_extension_prefills_only_new_tokens_and_equals_a_full_prefill(tiny: LoadedModel) -> None:
    first, more = tiny.encode(PREFIX), tiny.encode("\nJon plays drums in a jazz band.")
    base = prefill(tiny, first)
    before = [k.clone() for k in base.keys]
    extended = prefill(tiny, more, past=base)
    full = prefill(tiny, first + more)
    assert extended.token_ids == full.token_ids == first + more
    assert extended.fingerprint == tiny.fingerprint
    for got, want in zip([*extended.keys, *extended.values], [*full.keys, *full.values], strict=True):
        torch.testing.assert_close(got, want, atol=ATOL, rtol=0)
    assert all(torch.equal(k, b) for k, b in zip(base.keys, before, strict=True)), "extending changed the old snapshot"


def test_each_generation_gets_a_fresh_cache(tiny: LoadedModel, backend: TransformersBackend) -> None:
    snap = reloaded_snapshot(tiny, PREFIX)
    stored = [t.clone() for t in (*snap.keys, *snap.values)]
    ids = prompt_ids(tiny, PROMPTS[0])
    first = backend.generate(tiny, ids, prefix=snap, max_new_tokens=16)
    second = backend.generate(tiny, ids, prefix=snap, max_new_tokens=16)
    assert first.token_ids == second.token_ids
    assert snap.n_tokens == snap.keys[0].shape[2]
    assert all(torch.equal(a, b) for a, b in zip((*snap.keys, *snap.values), stored, strict=True))
    cache = to_cache(snap, tiny)
    cached_keys = [layer.keys for layer in cache.layers]  # type: ignore[union-attr]
    assert all(c is not None and c.data_ptr() != k.data_ptr() for c, k in zip(cached_keys, snap.keys, strict=True))


def test_streamed_pieces_make_the_generated_text(tiny: LoadedModel, backend: TransformersBackend) -> None:
    snap = reloaded_snapshot(tiny, PREFIX)
    ids = prompt_ids(tiny, PROMPTS[1])
    stream = backend.stream(tiny, ids, prefix=snap, max_new_tokens=16)
    pieces = list(stream)
    assert stream.result is not None
    assert "".join(pieces) == stream.result.text
    assert stream.result.token_ids == backend.generate(tiny, ids, prefix=snap, max_new_tokens=16).token_ids
    assert 0 < stream.result.ttft_ms <= stream.result.total_ms


def test_a_stream_resumed_on_other_threads_leaves_their_grad_mode_alone(
    tiny: LoadedModel, backend: TransformersBackend
) -> None:
    # A server iterates a streamed response from its thread pool: each piece may come from another thread.
    stream = backend.stream(tiny, prompt_ids(tiny, PROMPTS[0]), prefix=reloaded_snapshot(tiny, PREFIX))

    def step() -> bool:
        next(stream, None)
        return torch.is_grad_enabled()

    with ThreadPoolExecutor(1) as first, ThreadPoolExecutor(1) as second:
        assert first.submit(step).result()
        assert second.submit(step).result()
        assert first.submit(step).result()


def test_concurrent_generations_from_one_snapshot_do_not_interfere(
    tiny: LoadedModel, backend: TransformersBackend
) -> None:
    snap = reloaded_snapshot(tiny, PREFIX)
    requests = [prompt_ids(tiny, p) for p in PROMPTS * 2]
    alone = [backend.generate(tiny, ids, prefix=snap, max_new_tokens=12).token_ids for ids in requests]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda ids: backend.generate(tiny, ids, prefix=snap, max_new_tokens=12), requests))
    assert [r.token_ids for r in together] == alone


# ChatML, the template of SmolLM2-Instruct and Qwen, without their default system prompt.
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Llama 2 folds the system prompt into the first user turn: no system turn to snapshot on its own.
LLAMA2 = (
    "{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] %}{% set turns = messages[1:] %}"
    "{% else %}{% set sys = '' %}{% set turns = messages %}{% endif %}"
    "{% for m in turns %}[INST] <<SYS>>{{ sys }}<</SYS>> {{ m['content'] }} [/INST]{% endfor %}"
)


def with_template(lm: LoadedModel, template: str) -> LoadedModel:
    tokenizer = copy.deepcopy(lm.tokenizer)
    tokenizer.chat_template = template
    return dataclasses.replace(lm, tokenizer=tokenizer)


def test_under_a_chat_template_the_snapshot_is_the_system_turn(tiny: LoadedModel, backend: TransformersBackend) -> None:
    lm = with_template(tiny, CHATML)
    head, tail = chat_parts(lm, PREFIX, PROMPTS[0])
    assert head == f"<|im_start|>system\n{PREFIX}<|im_end|>\n"
    assert tail == f"<|im_start|>user\n{PROMPTS[0]}<|im_end|>\n<|im_start|>assistant\n"
    assert lm.encode(head + tail) == lm.encode(head) + lm.encode(tail)
    snap = reloaded_snapshot(lm, head)
    with_snapshot = backend.generate(lm, lm.encode(tail), prefix=snap, max_new_tokens=16)
    assert with_snapshot.token_ids == backend.generate(lm, lm.encode(head + tail), max_new_tokens=16).token_ids


def test_chat_parts_needs_a_template_with_a_system_turn_first(tiny: LoadedModel) -> None:
    with pytest.raises(InvalidInput, match="no chat template"):
        chat_parts(tiny, PREFIX, PROMPTS[0])
    with pytest.raises(InvalidInput, match="system turn"):
        chat_parts(with_template(tiny, LLAMA2), PREFIX, PROMPTS[0])
