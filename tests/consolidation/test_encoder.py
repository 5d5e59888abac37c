"""The consolidation encoder thread (``memos.consolidation.vectors.Encoder``): the passes it runs give the
vectors ``Embedder.embed`` gives, a look-ahead lands in the process's cache of encoded texts, and it waits
while the caller encodes in the foreground. No database."""

from __future__ import annotations

import numpy as np

from memos.consolidation.vectors import Encoder, TextVectors
from memos.embedding import Embedder

TEXTS = ["Caroline adopted a grey cat named Pixel in March.", "Melanie runs.", "Jon lost Jon's job at the bank.",
         "Gina opened an online clothing store last week, Gina is so excited about it.", "Denver", "Boston"]


def test_submitted_passes_give_embeds_vectors(embedder: Embedder) -> None:
    encoder = Encoder(embedder)
    out = np.zeros((len(TEXTS), embedder.dim), dtype=np.float32)
    passes = encoder.submit(TEXTS, batch_size=4)
    assert sorted(i for rows, _ in passes for i in rows) == list(range(len(TEXTS)))
    for rows, done in passes:
        out[rows] = done.result()
    assert np.array_equal(out, embedder.embed(TEXTS, batch_size=4))


def test_look_ahead_fills_the_cache_and_yields_to_the_foreground(embedder: Embedder) -> None:
    encoder = Encoder(embedder)
    encoder.known = TextVectors()  # this test's own cache
    with encoder.foreground():
        encoder.look_ahead(TEXTS)
        ahead = encoder.ahead_of(TEXTS)
        assert set(ahead) == set(TEXTS)
        passes = {id(done) for done, _ in ahead.values()}
        # Not started while the caller encodes in the foreground.
        assert not any(done.done() for done, _ in ahead.values())
    for done, _ in ahead.values():
        done.result(timeout=60)
    assert len(passes) >= 1
    known = encoder.known.get_many(TEXTS)
    assert set(known) == set(TEXTS)
    expected = embedder.embed(sorted(TEXTS))
    for i, t in enumerate(sorted(TEXTS)):
        assert np.allclose(known[t], expected[i], atol=1e-5)
    # Nothing is on its way any more, and texts already known are not encoded again.
    assert encoder.ahead_of(TEXTS) == {}
    encoder.look_ahead(TEXTS)
    assert encoder.ahead_of(TEXTS) == {}
