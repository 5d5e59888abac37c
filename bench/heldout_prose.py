"""A held-out set for composition that is not LoCoMo: the Python language reference shipped with the stdlib.

``pydoc_data.topics`` (the text ``help("assert")`` prints; 79 topics, ~465k characters in Python 3.11) is
English prose with some code, written by nobody on this project and never looked at while the selection
rules were tuned (on LoCoMo conversations 0-3). It is cut like the LoCoMo protocol of ``activation.py``:
the topics in sorted order, each topic's paragraphs (blank-line separated, heading underlines dropped) taken
whole into ``n_chunks`` chunks of ~``total / n_chunks`` tokens, paragraphs joined by ``MEMORY_SEPARATOR``
as turns are; the next document starts at the next topic the previous one did not start. The prompts
stand in for LoCoMo's questions: one per heading (a topic's title or a section's) in the document, taken
round-robin over the chunks (so every chunk with a heading is asked about), ``Question: What does the text
say about <heading>?\\nAnswer:``.

The set depends on the Python version's stdlib (the file's sha256 is part of ``describe``). Documents are
numbered from 0; documents 0-5 (32 prompts with SmolLM2's tokenizer, 8 per document at most) are the
held-out set: the first run of a rule on them is its held-out figure.
"""

from __future__ import annotations

import hashlib
import inspect
import pydoc_data.topics as topics
import re
import sys
from collections.abc import Callable, Iterator

MEMORY_SEPARATOR = "\n"
_UNDERLINE = re.compile(r"^\s*([*=\-~^])\1{2,}\s*$")


def describe() -> str:
    path = inspect.getfile(topics)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return f"pydoc_data.topics of Python {sys.version.split()[0]} ({path}, sha256 {digest}...)"


def paragraphs(text: str) -> list[tuple[str, bool]]:
    """The topic's paragraphs ``(text, is_heading)``: blank-line separated, trailing blanks stripped; a
    heading is the line above an underline (the topic's title, its sections), the underline dropped."""
    out: list[tuple[str, bool]] = []
    current: list[str] = []
    for line in text.splitlines():
        if _UNDERLINE.match(line):
            if current:
                heading = current.pop()
                if current:
                    out.append(("\n".join(current), False))
                out.append((heading.strip(), True))
                current = []
            continue
        if line.strip():
            current.append(line.rstrip())
        elif current:
            out.append(("\n".join(current), False))
            current = []
    if current:
        out.append(("\n".join(current), False))
    return out


def documents(
    encode: Callable[[str], list[int]], n_docs: int, *, n_chunks: int = 4, total: int = 2048, first: int = 0
) -> Iterator[tuple[list[str], list[str]]]:
    """``(chunk texts, prompts)`` of documents ``first .. first + n_docs - 1``."""
    names = sorted(topics.topics)
    per = total // n_chunks
    start = 0
    for d in range(first + n_docs):
        chunks: list[str] = []
        headings: list[list[str]] = []  # per chunk, the headings (topics' and sections') in it
        current: list[str] = []
        current_heads: list[str] = []
        t = start
        while len(chunks) < n_chunks and t < len(names):
            paras = paragraphs(topics.topics[names[t]])
            for para, is_heading in paras:
                current.append(para)
                if is_heading:
                    current_heads.append(para)
                if len(encode(MEMORY_SEPARATOR.join(current))) >= per:
                    chunks.append(MEMORY_SEPARATOR.join(current))
                    headings.append(current_heads)
                    current, current_heads = [], []
                    if len(chunks) == n_chunks:
                        break
            t += 1
        if len(chunks) < n_chunks:
            raise SystemExit(f"the reference has text for {d} documents only")
        start = t  # the topic the last chunk ended in was started: the next document starts after it
        if d < first:
            continue
        prompts = []
        for k in range(max(len(h) for h in headings)):
            prompts += [f"Question: What does the text say about {h[k]}?\nAnswer:" for h in headings if k < len(h)]
        yield chunks, prompts
