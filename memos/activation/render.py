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
tokenizing the joined string.

A model with a chat template (an instruct model) may rather see the snapshot as its system turn and the
prompt as a user turn: ``chat_parts`` splits the template's rendering of the two turns into the snapshot's
text and the prompt's, so the template, not a space, separates them (its turn markers are special tokens,
which never merge with their neighbours).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from memos.errors import InvalidInput

if TYPE_CHECKING:
    from memos.activation.models import LoadedModel

SEPARATOR = " "  # between the snapshot's text and the prompt
MEMORY_SEPARATOR = "\n"  # between two memories in a snapshot's text

# How a snapshot was rendered, so its prompt joins it the same way (the snapshot's ``meta["join"]``):
JOIN_SPACE = "space"  # the text as it is; the prompt follows after SEPARATOR (and no meta entry: older blobs)
JOIN_CHAT = "chat"  # the model's chat template: the text as the system turn, the prompt as the user turn
_PROBE = ("{system}", "{user}")  # placeholder turns to test a chat template with


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


def chat_parts(lm: LoadedModel, text: str, prompt: str) -> tuple[str, str]:
    """``(snapshot_text, prompt_text)`` under the model's chat template: the snapshot is the rendered system
    turn holding ``text``; the prompt is the rest of the rendered conversation, the user turn holding
    ``prompt`` and the opening of the assistant's. Their concatenation is the template's rendering of both
    turns, so a snapshot of ``snapshot_text`` followed by ``lm.encode(prompt_text)`` is exactly that
    conversation. ``InvalidInput`` if the model has no chat template, or one that does not render the system
    turn on its own as the start of the conversation (Llama 2 folds it into the first user turn)."""
    template = getattr(lm.tokenizer, "chat_template", None)
    if not template:
        raise InvalidInput(f"model {lm.name!r} has no chat template")
    system = {"role": "system", "content": text}
    head = str(lm.tokenizer.apply_chat_template([system], tokenize=False))
    full = str(
        lm.tokenizer.apply_chat_template(
            [system, {"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    )
    if text not in head or not full.startswith(head) or len(full) == len(head):
        raise InvalidInput(f"the chat template of {lm.name!r} does not start a conversation with its system turn")
    return head, full[len(head) :]


def chat_join_supported(lm: LoadedModel) -> bool:
    """Whether the model has a chat template that renders a system turn on its own as the start of the
    conversation (``chat_parts`` accepts it), so snapshots of it are built and joined as chat turns."""
    try:
        chat_parts(lm, *_PROBE)
    except Exception:  # InvalidInput, or the template failing on a system turn (jinja errors)
        return False
    return True


def snapshot_source(lm: LoadedModel, text: str) -> tuple[str, str]:
    """``(text_to_prefill, join)`` for a snapshot of ``text``: under a usable chat template, the system turn
    holding ``text`` rendered by it (``JOIN_CHAT``); otherwise ``text`` itself (``JOIN_SPACE``)."""
    if chat_join_supported(lm):
        return chat_parts(lm, text, _PROBE[1])[0], JOIN_CHAT
    return text, JOIN_SPACE


def joined_prompt_ids(lm: LoadedModel, prompt: str, *, join: str, snapshot_text: str) -> list[int]:
    """The prompt's ids after a snapshot rendered with ``join`` from ``snapshot_text`` (the activation's
    content): ``JOIN_SPACE`` as ``prompt_ids``; ``JOIN_CHAT`` the user turn and the assistant's opening, the
    rest of the template's rendering of ``[system: snapshot_text, user: prompt]`` after the system turn."""
    if join == JOIN_CHAT:
        return lm.encode(chat_parts(lm, snapshot_text, prompt)[1])
    if join != JOIN_SPACE:
        raise InvalidInput(f"unknown snapshot join {join!r}")
    return prompt_ids(lm, prompt)
