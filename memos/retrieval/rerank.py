"""Optional reranking after fusion, behind one small interface.

Off by default. ``MEMOS_RERANK_MODEL`` (a litellm model name) enables the LLM reranker. No cross-encoder
ships with an installable package here (the package lists were searched: packages that *use* one download
weights at run time), so there is no offline cross-encoder; any object with ``rerank`` can be plugged in.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from memos.config import Settings
from memos.llm import LLMClient, MalformedOutput

log = logging.getLogger(__name__)

MAX_PASSAGE_CHARS = 500  # per memory in the prompt: enough to judge relevance, bounded cost


class Reranker(Protocol):
    def rerank(self, query: str, passages: Sequence[str]) -> list[int]:
        """Indexes of ``passages``, most relevant first (a permutation or a prefix of one)."""
        ...


class _Order(BaseModel):
    order: list[int] = Field(default_factory=list)


SYSTEM = (
    "You rank memories by how useful they are to answer a question. Reply with a JSON object "
    '{"order": [indexes, most useful first]} using the numbers shown; include every index once.'
)


class LLMReranker:
    """Asks a chat model (via litellm) for an ordering; on any failure keeps the fused order."""

    def __init__(self, llm: LLMClient) -> None:
        self.llm = llm

    def rerank(self, query: str, passages: Sequence[str]) -> list[int]:
        listing = "\n".join(f"[{i}] {p[:MAX_PASSAGE_CHARS]}" for i, p in enumerate(passages))
        try:
            out = self.llm.complete_json("rerank", system=SYSTEM, user=f"Question: {query}\n\n{listing}",
                                         schema=_Order)
        except (MalformedOutput, Exception):  # a reranker must never fail a search
            log.warning("reranking failed; keeping the fused order", exc_info=True)
            return list(range(len(passages)))
        return merge_order(out.order, len(passages))


def merge_order(order: Sequence[int], n: int) -> list[int]:
    """A full permutation of ``range(n)``: the valid, first-seen indexes of ``order``, then the rest in order."""
    seen: list[int] = []
    for i in order:
        if isinstance(i, int) and 0 <= i < n and i not in seen:
            seen.append(i)
    return seen + [i for i in range(n) if i not in seen]


def get_reranker(settings: Settings) -> Reranker | None:
    if not settings.rerank_model:
        return None
    return LLMReranker(LLMClient(settings.rerank_model, api_base=settings.llm_api_base,
                                 timeout_s=settings.llm_timeout_s, attempts=1))
