"""Context assembly: the memories an LLM prompt should carry, formatted with dates and sources, within a
token budget counted offline with tiktoken's ``cl100k_base``.

Selection follows relevance (the best hits first, while they fit); presentation follows time: memories are
grouped by session, sessions in chronological order, turns in their order, so the model reads a timeline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from memcube.models import Memory

ENCODING = "cl100k_base"
NO_SESSION = "other memories"


@lru_cache(maxsize=1)
def _encoding() -> Any:
    # tiktoken downloads its BPE files unless they are cached; litellm ships cl100k_base in its package.
    if not os.environ.get("TIKTOKEN_CACHE_DIR"):
        import importlib.util

        spec = importlib.util.find_spec("litellm")
        if spec is not None and spec.origin:
            bundled = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
            if bundled.is_dir():
                os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
    import tiktoken

    return tiktoken.get_encoding(ENCODING)


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


def _when(m: Memory) -> datetime:
    t = m.event_time or m.created_at
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def format_memory(m: Memory) -> str:
    """``- [2023-05-08] Caroline: I went to a support group yesterday.``"""
    date = f"[{m.event_time.date().isoformat()}] " if m.event_time else ""
    who = f"{m.role}: " if m.role else ""
    return f"- {date}{who}{m.content}"


def _header(session_id: str | None, members: Sequence[Memory]) -> str:
    first = min(_when(m) for m in members)
    name = session_id or NO_SESSION
    return f"## {name} ({first.date().isoformat()})"


def render(memories: Sequence[Memory]) -> str:
    groups: dict[str | None, list[Memory]] = {}
    for m in memories:
        groups.setdefault(m.session_id, []).append(m)
    blocks = []
    for sid, members in sorted(groups.items(), key=lambda kv: min(_when(m) for m in kv[1])):
        members.sort(key=lambda m: (_when(m), m.created_at))
        blocks.append("\n".join([_header(sid, members), *(format_memory(m) for m in members)]))
    return "\n\n".join(blocks)


@dataclass
class Assembled:
    context: str
    memories: list[Memory]
    tokens: int


def assemble(ranked: Sequence[Memory], *, token_budget: int) -> Assembled:
    """Take memories in rank order while the rendered context stays within ``token_budget``."""
    chosen: list[Memory] = []
    # Each memory costs its line plus, for a new session, a header; the exact total is checked after.
    used = 0
    sessions: set[str | None] = set()
    for m in ranked:
        cost = count_tokens(format_memory(m)) + 1
        if m.session_id not in sessions:
            cost += count_tokens(_header(m.session_id, [m])) + 2
        if used + cost > token_budget:
            continue  # a shorter, less relevant memory may still fit
        chosen.append(m)
        sessions.add(m.session_id)
        used += cost
    text = render(chosen)
    tokens = count_tokens(text) if text else 0
    while chosen and tokens > token_budget:  # estimates are per piece; drop the least relevant until exact
        chosen.pop()
        text = render(chosen)
        tokens = count_tokens(text) if text else 0
    order = {id(m): i for i, m in enumerate(chosen)}
    timeline = sorted(chosen, key=lambda m: (_when(m), m.created_at, order[id(m)]))
    return Assembled(context=text, memories=timeline, tokens=tokens)
