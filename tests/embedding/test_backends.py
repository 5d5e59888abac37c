"""The ONNX backend gives the torch encoder's vectors, for every kind of text a memory or a query can be."""

from __future__ import annotations

import numpy as np
import pytest

from memos.config import Settings
from memos.embedding import Embedder

LONG = " ".join(f"token{i} and a few more words" for i in range(120))  # far more than 256 word pieces
TEXTS = [
    "hello",
    "a",
    "What did Caroline adopt in March?",
    "Caroline adopted a grey cat named Pixel in March.",
    "  leading and trailing spaces  ",
    "tabs\tand\nnew lines\n\n",
    "UPPER CASE AND lower case",
    "Numbers: 3.14159, 2026-12-07, +33 6 12 34 56 78, 42%",
    "punctuation!!! ??? ... --- (parentheses) [brackets] {braces}",
    "https://example.com/path?query=1&x=y#frag and an email a.b@example.org",
    "café naïve résumé façade jalapeño",
    "Straße, Ärger, Öl, Übermut",
    "日本語のテキストです。東京は大きい。",
    "中文句子，用来测试。",
    "Привет, мир! Как дела?",
    "مرحبا بالعالم",
    "שלום עולם",
    "हिन्दी वाक्य",
    "emoji 🎉🤖👍 and ❤️",
    "🤖🤖🤖",
    "",
    " ",
    "\n",
    ".",
    "x" * 3000,
    LONG,
    "word " * 600,
    "The quick brown fox jumps over the lazy dog. " * 40,
    "def f(x):\n    return x ** 2  # code",
    '{"json": true, "nested": {"list": [1, 2, 3]}}',
    "I went hiking last weekend with Melanie; we saw a bear!",
    "When is the LGBTQ support group meeting?",
    "zzzzzzzzzz qqqqqq xkcd",
    "a\u0301 combining accents and zero\u200bwidth spaces",
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(backend="torch", batch_size=8)


def test_onnx_is_the_default_and_loads_without_falling_back(embedder: Embedder) -> None:
    assert Settings.model_fields["embedding_backend"].default == "onnx"
    assert embedder.backend_name == embedder.requested_backend
    assert embedder.dim == 384


def test_same_vectors_as_torch_in_batches(embedder: Embedder, torch_embedder: Embedder) -> None:
    got = embedder.embed(TEXTS)
    expected = torch_embedder.embed(TEXTS)
    assert got.shape == expected.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(got * expected, axis=1)
    assert cosines.min() >= 0.999, [(t[:30], float(c)) for t, c in zip(TEXTS, cosines, strict=True) if c < 0.999]


def test_same_vectors_as_torch_one_by_one(embedder: Embedder, torch_embedder: Embedder) -> None:
    for text in TEXTS:
        assert float(embedder.embed_one(text) @ torch_embedder.embed_one(text)) >= 0.999, text[:30]


def test_long_texts_are_cut_where_sentence_transformers_cuts(embedder: Embedder) -> None:
    backend = embedder.backend
    tokenizer = backend.tokenizer  # type: ignore[attr-defined]
    assert len(tokenizer.encode(LONG).ids) == 256
    # Past the cut, the rest of the text changes nothing.
    a, b = embedder.embed([LONG + " completely different ending", LONG + " something else altogether"])
    assert float(a @ b) == pytest.approx(1.0, abs=1e-6)


def test_a_row_does_not_depend_on_its_batch(embedder: Embedder) -> None:
    alone = embedder.embed(["Caroline adopted a grey cat."])[0]
    padded = embedder.embed(["Caroline adopted a grey cat.", LONG])[0]  # padded to the long text's length
    assert float(alone @ padded) >= 0.99999


def test_bulk_embedding_keeps_the_input_order(embedder: Embedder) -> None:
    texts = [f"memory number {i} " + "word " * (i % 7) * 10 for i in range(20)]
    small = Embedder(backend="onnx", batch_size=3, cache_dir=embedder.cache_dir)
    try:
        chunked = small.embed(texts)
    finally:
        small.close()
    assert np.sum(chunked * embedder.embed(texts), axis=1).min() >= 0.99999


def test_an_empty_batch(embedder: Embedder) -> None:
    assert embedder.embed([]).shape == (0, 384)


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="embedding backend"):
        Embedder(backend="tensorflow")
