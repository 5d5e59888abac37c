"""The text a snapshot holds, and how a prompt joins it.

The rule that makes a snapshot exact: a request's context is ``snapshot_text + SEPARATOR + prompt``, and
its token ids are ``encode(snapshot_text) + encode(SEPARATOR + prompt)`` — the snapshot's ids, then the
prompt's ids encoded on their own (``prompt_ids``). Generation from a snapshot is then identical to
generation from those ids computed in one go (tests/activation/test_exactness.py).

Those ids are also the ids of the joined string, ``encode(snapshot_text + SEPARATOR + prompt)``, whenever
the tokenizer cannot merge across the separator:
- whitespace-splitting tokenizers (BERT WordPiece, the tiny model's): always;
- byte-level BPE (GPT-2, Llama 3, SmolLM2): the pre-tokenizer cuts before a space followed by a word, so
  it holds unless whitespace meets whitespace at the join (a text ending in a newline, a prompt starting
  with spaces): runs of whitespace are one pre-token. ``render`` strips the snapshot's text, so it holds
  for every prompt after a rendered text;
- SentencePiece with a dummy prefix (Llama 2, Mistral): encoding ``" " + prompt`` on its own adds a second
  word-start marker, so it may not hold. ``joins_cleanly`` says, for a given text and prompt.
Where it does not hold, generation is still exactly generation from the ids above; it just differs from
tokenizing the joined string. A model whose chat template wants another separator can override
``SEPARATOR`` per call later; one space is what every tokenizer above handles.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memos.activation.models import LoadedModel

SEPARATOR = " "  # between the snapshot's text and the prompt
MEMORY_SEPARATOR = "\n"  # between two memories in a snapshot's text


def render(contents: Sequence[tuple[datetime, uuid.UUID, str]]) -> str:
    """The snapshot text of memories ``(created_at, id, content)``: oldest first, ties broken by id, so the
    same memories always give the same text (and the same snapshot); each content stripped of surrounding
    whitespace, empty ones left out, joined by ``MEMORY_SEPARATOR``."""
    ordered = sorted(contents, key=lambda row: (row[0], row[1]))
    return MEMORY_SEPARATOR.join(text for _, _, content in ordered if (text := content.strip()))


def prompt_ids(lm: LoadedModel, prompt: str, *, after_prefix: bool = True) -> list[int]:
    """The prompt's token ids: ``encode(SEPARATOR + prompt)`` when it follows a snapshot, else
    ``encode(prompt)``."""
    return lm.encode(SEPARATOR + prompt if after_prefix else prompt)


def joins_cleanly(lm: LoadedModel, text: str, prompt: str) -> bool:
    """Whether ``encode(text + SEPARATOR + prompt) == encode(text) + prompt_ids(prompt)`` for this model's
    tokenizer: the snapshot-plus-prompt ids are then exactly the ids of the joined text."""
    return lm.encode(text + SEPARATOR + prompt) == lm.encode(text) + prompt_ids(lm, prompt)
