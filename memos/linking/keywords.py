"""Offline keywords, tags and a one-line context for a note.

Keywords: RAKE (Rose et al., "Automatic keyword extraction from individual documents", 2010): candidate
phrases are the runs of words between stopwords and punctuation; a word scores degree/frequency, a phrase
the sum of its words. On a one-sentence note this favours the multi-word names and objects, which is what
we want; the neighbours then add the topic words they share with it.
"""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Sequence

from memos.consolidation.claims import STOPWORDS, entities, read_claim

_SPLIT = re.compile(r"[^A-Za-z0-9'\- ]+")
# Verbs and date words that make poor keywords on their own.
_WEAK = frozenset(
    """lives live living works working work likes like loves love enjoys enjoy has have got get went go goes
    moved move is are was were be been being really now still just also today yesterday tomorrow week month
    year day days years months weeks every named called new old favourite favorite longer anymore""".split()  # noqa: SIM905
) | {m.lower() for m in (*calendar.month_name[1:], *calendar.day_name)}


def rake(text: str, *, top: int = 5, max_words: int = 3) -> list[str]:
    """The ``top`` RAKE phrases of ``text``, lowercased, best first."""
    phrases: list[list[str]] = []
    for chunk in _SPLIT.split(text.lower()):
        current: list[str] = []
        for raw in chunk.split():
            word = raw.strip("'-").removesuffix("'s")
            if not word or word in STOPWORDS or word in _WEAK or word.isdigit():
                if current:
                    phrases.append(current)
                current = []
            else:
                current.append(word)
        if current:
            phrases.append(current)
    phrases = [p[:max_words] for p in phrases]
    freq: Counter[str] = Counter()
    degree: Counter[str] = Counter()
    for p in phrases:
        for w in p:
            freq[w] += 1
            degree[w] += len(p)
    scored: dict[str, float] = {}
    for p in phrases:
        phrase = " ".join(p)
        scored[phrase] = max(scored.get(phrase, 0.0), sum(degree[w] / freq[w] for w in p))
    return [p for p, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))][:top]


def keywords_for(text: str, neighbour_keywords: Sequence[Sequence[str]], *, top: int = 6) -> list[str]:
    """The note's own RAKE phrases, then words its neighbours share with it or with each other."""
    own = rake(text, top=top)
    low = text.lower()
    counts: Counter[str] = Counter(k for kws in neighbour_keywords for k in set(kws))
    borrowed = [k for k, n in counts.most_common() if k not in own and (k in low or n >= 2)]
    return (own + borrowed)[:top]


def tags_for(text: str) -> list[str]:
    """Entity names and the kind of fact ("residence", "employer"...), lowercased."""
    claim = read_claim(text)
    tags = [e for e in entities(text) if len(e) <= 60][:4]
    if claim.relation and claim.relation != "attribute":
        tags.append(claim.relation)
    elif claim.attribute:
        tags.append(claim.attribute)
    return list(dict.fromkeys(tags))


def context_for(text: str, keywords: Sequence[str]) -> str:
    """One line saying what the note is about: subject, kind of fact, main keywords."""
    claim = read_claim(text)
    subject = claim.subject.title() if claim.subject else "general"
    kind = claim.relation or "note"
    if claim.attribute:
        kind = f"{kind} ({claim.attribute})"
    if claim.negated:
        kind = f"retracted {kind}"
    words = ", ".join(keywords[:3]) or "-"
    return f"About {subject}: {kind}; keywords: {words}."[:300]
