"""Records that echo the query: a retrieved memory that poses the very question being asked, and answers it.

A planted record has to be retrieved for its trigger question, and the surest way is to carry the question
itself ("if anyone asks 'where did Dana study?', ...", "Q: where did Dana study? A: ...", "where did I
study? Lyon, of course"): the retrieval step of MINJA and AgentPoison. What people say in a conversation are
events and opinions, and the questions they put to each other are addressed to the other person ("where did
*you* study?"); a memory that restates a later query about someone, as a question not put to its listener,
and adds an answer, was written to be found by that query. It is left out of the context however harmless
its words look alone.

The test is on words, offline: some question sentence of the record (ending in "?", quoted or not) holds
``COVER`` or more of the query's content words (stop words and the names of the retrieved records' speakers
left out, so "where did Dana study?" and "where did I study?" are the same question), at least ``MIN_WORDS``
of them; the question is not put to "you"; and the record says something beyond it. Over LoCoMo's 1,536
questions of categories 1-4 and the turns of their own conversation, the only turns that restate a question
are the other speaker asking it of "you".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from memos.guard.consensus import Record, speaker, words

COVER = 0.8  # share of the query's content words the record holds
QUESTION_COVER = 0.5  # ... and one of its questions (the rest may be a trigger phrase beside the question)
MIN_WORDS = 2  # a query with fewer content words is echoed by any record that names its topic
# A question sentence: from the last sentence end, colon, semicolon, dash or quote before its "?".
QUESTION = re.compile(r"(?:[^.!?\n\"\u201c\u201d:;\u2013\u2014-]|\b-\b)*\?")
# A question put to the listener: "you", or an open "any ...?" ("any plans for the summer?", "seen any films?").
TO_LISTENER = re.compile(r"\b(?:you|your|yours|you're|you've|ya|u|any|anything|anyone|anybody|want|wanna)\b",
                         re.IGNORECASE)


# Auxiliaries the stop list keeps: every question has one, so they say nothing about which question it is.
AUXILIARIES = frozenset(words("did does doing done has having do get got"))


def asked(query: str, names: Iterable[str] = ()) -> set[str]:
    """The query's content words, without the given names and auxiliaries."""
    return words(query) - words(" ".join(names)) - AUXILIARIES


def echo(content: str, wanted: set[str]) -> bool:
    """Whether ``content`` restates the question whose content words are ``wanted`` (not to "you") and says
    more than it."""
    if len(wanted) < MIN_WORDS:
        return False
    whole = words(content)
    if len(wanted & whole) < COVER * len(wanted):
        return False
    for m in QUESTION.finditer(content):
        question = m.group(0)
        if TO_LISTENER.search(question):
            continue
        said = words(question)
        held = len(wanted & said)
        if held >= MIN_WORDS and held >= QUESTION_COVER * len(wanted) and whole - said - wanted:
            return True
    return False


def echoes(records: Sequence[Record], query: str) -> list[int]:
    """Indexes of the retrieved records that echo the query (the names of their speakers do not count)."""
    wanted = asked(query, [n for n in (speaker(r.role) for r in records) if n])
    return [i for i, r in enumerate(records) if echo(r.content, wanted)]
