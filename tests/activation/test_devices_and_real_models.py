"""The same exactness on a GPU and on a real model; skipped where there is no GPU, or no model file.

``MEMOS_TEST_GGUF=/path/SmolLM2-135M-Instruct.Q4_1.gguf`` runs the real-model test (about 20 s to load;
see memos/activation/models.py for where the file comes from).
"""

from __future__ import annotations

import os

import pytest
import torch

from memos.activation.backend import TransformersBackend
from memos.activation.kv import deserialize, prefill, serialize, to_cache
from memos.activation.models import LoadedModel, ModelRegistry
from memos.activation.render import SEPARATOR, chat_parts, joins_cleanly, prompt_ids
from memos.config import Settings

PREFIX = "Caroline adopted a grey cat named Pixel in March.\nMelanie moved to Lisbon last year; she teaches maths."
PROMPT = "What is the name of Caroline's cat?"


def check_exact(lm: LoadedModel, backend: TransformersBackend, *, atol: float) -> None:
    snap, _ = deserialize(serialize(prefill(lm, lm.encode(PREFIX)), model=lm.name, fingerprint=lm.fingerprint))
    ids = prompt_ids(lm, PROMPT)
    assert joins_cleanly(lm, PREFIX, PROMPT)
    device = lm.torch_device
    with torch.no_grad():
        cached = lm.model(input_ids=torch.tensor([ids], device=device), past_key_values=to_cache(snap, lm)).logits[0]
        full = lm.model(input_ids=torch.tensor([snap.token_ids + ids], device=device)).logits[0, -len(ids) :]
    torch.testing.assert_close(cached.float(), full.float(), atol=atol, rtol=0)
    with_snapshot = backend.generate(lm, ids, prefix=snap, max_new_tokens=32)
    from_text = backend.generate(lm, lm.encode(PREFIX + SEPARATOR + PROMPT), max_new_tokens=32)
    assert with_snapshot.token_ids == from_text.token_ids


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_snapshots_on_cuda(backend: TransformersBackend) -> None:
    lm = ModelRegistry(Settings(activation_device="cuda")).load("tiny")
    assert lm.device == "cuda"
    assert lm.dtype in {"bfloat16", "float16"}
    # half precision: the two paths round differently, hence the looser tolerance
    check_exact(lm, backend, atol=5e-2)


@pytest.mark.skipif(not os.environ.get("MEMOS_TEST_GGUF"), reason="MEMOS_TEST_GGUF names no model file")
def test_snapshots_on_a_real_gguf_model(backend: TransformersBackend) -> None:
    lm = ModelRegistry(Settings(models={"real": os.environ["MEMOS_TEST_GGUF"]}, activation_device="cpu")).load("real")
    check_exact(lm, backend, atol=1e-3)
    if lm.tokenizer.chat_template:  # an instruct model: the snapshot as its system turn
        head, tail = chat_parts(lm, PREFIX, PROMPT)
        assert lm.encode(head + tail) == lm.encode(head) + lm.encode(tail)
        snap = prefill(lm, lm.encode(head))
        with_snapshot = backend.generate(lm, lm.encode(tail), prefix=snap, max_new_tokens=32)
        assert with_snapshot.token_ids == backend.generate(lm, lm.encode(head + tail), max_new_tokens=32).token_ids
        print("chat answer:", with_snapshot.text)
