"""Generation behind one interface: a prompt's token ids, optionally after a KV snapshot as the prefix.

``TransformersBackend`` runs greedy decoding with transformers on the model's device (CPU, or CUDA: the same
code; tensors are created on ``lm.device``). Only the prompt is prefilled; the snapshot's keys and values
enter through a fresh ``DynamicCache`` (``memos.activation.kv.to_cache``), so the stored snapshot never
changes and concurrent requests never share a cache. A prefix still being read from disk (a
``StreamedSnapshot``) enters layer by layer: the prompt's prefill at layer ``i`` waits for that layer only
(``memos.activation.stream``).

Another engine can serve the same snapshots behind ``GenerationBackend``: a snapshot is plain per-layer
key/value tensors ``[1, kv_heads, T, head_dim]`` with its token ids and the model fingerprint, which is
what vLLM with LMCache stores per chunk of tokens. Such a backend would hash the snapshot's token ids into
LMCache chunk keys, put the tensors into LMCache's store for the model (after checking the fingerprint as
``check_compatible`` does) and send the full ids, snapshot then prompt, as the request: vLLM's prefix
lookup then finds the chunks and prefills only the prompt.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from memos.activation.kv import KVSnapshot, check_compatible, to_cache
from memos.activation.stream import StreamedSnapshot, streamed_cache
from memos.errors import InvalidInput

if TYPE_CHECKING:
    from transformers import DynamicCache

    from memos.activation.models import LoadedModel


@dataclass
class GenerationResult:
    """What one generation produced and what it cost."""

    text: str
    token_ids: list[int]  # generated ids (the end-of-sequence id included when the model stopped on it)
    ttft_ms: float  # request start to the first token chosen, including building the cache from the snapshot
    total_ms: float
    prefill_tokens: int  # tokens run through the model before the first token
    cached_tokens: int  # tokens whose keys and values came from the snapshot


Prefix = KVSnapshot | StreamedSnapshot  # a snapshot in memory, or one whose layers are still being read


class GenerationBackend(Protocol):
    """Greedy generation after an optional snapshot prefix."""

    name: str

    def generate(
        self, lm: LoadedModel, prompt_ids: list[int], *, prefix: Prefix | None = None, max_new_tokens: int = 32
    ) -> GenerationResult: ...

    def stream(
        self, lm: LoadedModel, prompt_ids: list[int], *, prefix: Prefix | None = None, max_new_tokens: int = 32
    ) -> GenerationStream: ...


class GenerationStream:
    """The text of a generation piece by piece (for server-sent events); ``result`` once exhausted.

    Pieces are differences of the decoded text so far, held back while it ends in a partial character, so
    their concatenation is the final text (for tokenizers whose decoding of a prefix is a prefix)."""

    def __init__(self, lm: LoadedModel, steps: Iterator[int], timing: _Timing) -> None:
        self._lm = lm
        self._steps = steps
        self._timing = timing
        self._ids: list[int] = []
        self._emitted = ""
        self.result: GenerationResult | None = None

    def __iter__(self) -> GenerationStream:
        return self

    def __next__(self) -> str:
        for token in self._steps:
            self._ids.append(token)
            text = self._lm.decode(self._ids)
            if text.endswith("\ufffd") or len(text) <= len(self._emitted):
                continue  # a multi-byte character still incomplete, or a token with no text (EOS)
            piece, self._emitted = text[len(self._emitted) :], text
            return piece
        if self.result is None:
            self.result = self._timing.result(self._lm.decode(self._ids), self._ids)
        raise StopIteration

    def collect(self) -> GenerationResult:
        """Run to the end and return the result."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result


@dataclass
class _Timing:
    start: float = 0.0
    first: float = 0.0
    last: float = 0.0
    prefill_tokens: int = 0
    cached_tokens: int = 0

    def result(self, text: str, ids: list[int]) -> GenerationResult:
        return GenerationResult(
            text=text,
            token_ids=list(ids),
            ttft_ms=(self.first - self.start) * 1000,
            total_ms=(self.last - self.start) * 1000,
            prefill_tokens=self.prefill_tokens,
            cached_tokens=self.cached_tokens,
        )


class TransformersBackend:
    """Greedy decoding with a KV cache, one forward pass per token, the LM head over the last position only.

    A hand-written loop rather than ``model.generate``: it times the first token exactly (the prefill plus
    one argmax, no warm-up logic of ``generate`` in the figure) and yields tokens as they come."""

    name = "transformers"

    def generate(
        self, lm: LoadedModel, prompt_ids: list[int], *, prefix: Prefix | None = None, max_new_tokens: int = 32
    ) -> GenerationResult:
        """Generate up to ``max_new_tokens`` after ``prefix`` (its keys and values) and ``prompt_ids``."""
        return self.stream(lm, prompt_ids, prefix=prefix, max_new_tokens=max_new_tokens).collect()

    def stream(
        self, lm: LoadedModel, prompt_ids: list[int], *, prefix: Prefix | None = None, max_new_tokens: int = 32
    ) -> GenerationStream:
        """Like ``generate``, text piece by piece. Checks (fingerprint, lengths) run now, not on first read."""
        if max_new_tokens < 1:
            raise InvalidInput("max_new_tokens must be at least 1")
        if prefix is not None:
            check_compatible(prefix, lm)
        if not prompt_ids and (prefix is None or prefix.n_tokens == 0):
            raise InvalidInput("nothing to generate from: an empty prompt and no snapshot")
        total = len(prompt_ids) + (prefix.n_tokens if prefix is not None else 0) + max_new_tokens
        if lm.max_positions and total > lm.max_positions:
            raise InvalidInput(f"{total} positions exceed the {lm.max_positions} of model {lm.name!r}")
        timing = _Timing()
        return GenerationStream(lm, self._steps(lm, list(prompt_ids), prefix, max_new_tokens, timing), timing)

    def _steps(
        self, lm: LoadedModel, prompt_ids: list[int], prefix: Prefix | None, max_new_tokens: int, timing: _Timing
    ) -> Iterator[int]:
        timing.start = time.perf_counter()
        cache, feed, cached = self._start(lm, prompt_ids, prefix)
        timing.prefill_tokens, timing.cached_tokens = len(feed), cached
        token = _next_token(lm, feed, cache)
        timing.first = timing.last = time.perf_counter()
        yield token
        for _ in range(max_new_tokens - 1):
            if token in lm.eos_token_ids:
                return
            token = _next_token(lm, [token], cache)
            timing.last = time.perf_counter()
            yield token

    @staticmethod
    def _start(
        lm: LoadedModel, prompt_ids: list[int], prefix: Prefix | None
    ) -> tuple[DynamicCache, list[int], int]:
        """The cache to start from, the ids to prefill, and how many positions the cache already holds."""
        from transformers import DynamicCache

        if prefix is None:
            return DynamicCache(config=lm.model.config), prompt_ids, 0
        if isinstance(prefix, StreamedSnapshot):
            if prompt_ids:
                return streamed_cache(prefix, lm), prompt_ids, prefix.n_tokens
            prefix = prefix.snapshot()  # no prompt: cropping below needs the layers anyway
        cache = to_cache(prefix, lm)
        if prompt_ids:
            return cache, prompt_ids, prefix.n_tokens
        # No prompt: the first token's logits are those after the snapshot's last token, which the snapshot
        # does not keep; recompute that one position (exact: the same token at the same position).
        cache.crop(-1)  # a negative count removes that many positions (transformers 5)
        return cache, [prefix.token_ids[-1]], prefix.n_tokens - 1


def _next_token(lm: LoadedModel, ids: list[int], cache: DynamicCache) -> int:
    """Run ``ids`` through the model on top of ``cache`` (which grows by them); the greedy next token.

    ``no_grad`` is entered per step, never held across a ``yield``: grad mode is per thread, and a streamed
    generation may be resumed on another thread of the server's pool than the one it started on."""
    import torch

    with torch.no_grad():
        out = lm.model(
            input_ids=torch.tensor([ids], device=lm.torch_device),
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,  # the LM head over the last position only, not vocab x len(ids) floats
        )
        return int(out.logits[0, -1].argmax())  # int() waits for the device: the time is real on CUDA too
