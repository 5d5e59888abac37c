"""Sentences of a chat turn, and which of them carry content.

Segmentation is ``sentencex`` (a rule-based segmenter for ~300 languages, no model and no download; about
3 us a turn on LoCoMo). A sentence is *content-free* when it is a question or has fewer than
``MIN_CONTENT_WORDS`` content words: words that are neither function words nor the vocabulary of greetings,
thanks and reactions ("Wow, that's so cool!", "Thanks, Mel!"). The threshold was measured on LoCoMo
(docs/consolidation.md): at 2 (questions dropped) 90% of the turns keep at least one sentence and 98.9% of
the turns that answer a question do; at 3 those fall to 82% and 97.3%.
"""

from __future__ import annotations

import re
from functools import lru_cache

import Stemmer
from sentencex import segment

MIN_CONTENT_WORDS = 2

# English function words (closed classes: articles, pronouns, auxiliaries, prepositions, conjunctions).
FUNCTION_WORDS = frozenset(
    """a an the and or but if of to in on at for with from by as is are was were be been being am it its this that
    these those there here he she they them his her hers their theirs we our us you your yours i me my mine
    myself yourself ourselves who whom which what when where why how do does did doing done have has had having
    so too very can could will would should may might must shall just than then also into about over after
    before up down out off again once all any both each few more most other some such only own same not no nor
    im i'm i've i'd i'll you're you've you'd you'll it's that's there's what's he's she's we're they're we've
    let's don't doesn't didn't isn't aren't wasn't weren't can't couldn't won't wouldn't haven't hasn't
    much many enough someone somebody anyone anybody everyone everybody something anything everything nothing
    nobody
    ve ll re d s t m""".split()  # noqa: SIM905
)
# Greetings, thanks, acknowledgements and reactions: words that make a turn sociable, not informative.
PHATIC = frozenset(
    """hi hey hello heya hiya yo bye goodbye cya thanks thank thx ty cheers welcome wow whoa cool great awesome
    amazing nice neat lol lmao haha hahaha hehe yeah yea yep yup yes no nope nah ok okay k sure totally agree
    agreed sounds sound glad happy proud congrats congratulations good really super pretty oh ah uh um hmm well
    yay omg aw aww awww lovely wonderful fantastic incredible definitely absolutely true right exactly same
    gonna talk soon later catch care mean means meant lot lots stuff thing things anyway anyways btw
    tho though honestly literally seriously brb ttyl gtg jaja jajaja jajajaja""".split()  # noqa: SIM905
)
_WORD = re.compile(r"[^\W\d_][\w'’-]*|\d+", re.UNICODE)


def sentences(text: str) -> list[str]:
    """The sentences of ``text`` (line breaks end sentences too), stripped, empty ones dropped."""
    out: list[str] = []
    for line in text.splitlines():
        out += [s.strip() for s in segment("en", line) if s.strip()]
    return out


def words(text: str) -> list[str]:
    """Lower-case word tokens (apostrophes kept inside words, curly ones straightened)."""
    return [w.lower().replace("’", "'").strip("'-") for w in _WORD.findall(text)]


@lru_cache(maxsize=4096)
def content_words(text: str) -> tuple[str, ...]:
    """Words that carry content: not function words, not phatic, not a single letter."""
    out = []
    for w in words(text):
        base = w.split("'")[0]
        if (len(w) > 1 or w.isdigit()) and w not in FUNCTION_WORDS and w not in PHATIC and base not in FUNCTION_WORDS:
            out.append(w)
    return tuple(out)


def is_question(sentence: str) -> bool:
    return sentence.rstrip(" )\"'").endswith("?")


_SELF = re.compile(r"\b(i|i'm|im|i've|i'd|i'll|my|me|we|we're|our|us)\b", re.IGNORECASE)


_LISTENER = re.compile(r"\b(you|you're|you've|you'd|you'll|your|yours|yourself|y'all|u)\b", re.IGNORECASE)


def to_the_listener(sentence: str) -> bool:
    """A short sentence about the person spoken to, not the speaker or anyone named ("that's really kind of
    you!", "hope you have a great time!"; not "Tom's an orthodontist, if you call him a dentist...")."""
    named = any(t[:1].isupper() and t.strip(",.!?:;'\"()") not in ("I", "I'm") for t in sentence.split()[1:])
    # What it says of the listener is a fact too ("You really care about helping others"): only a short one
    # (at most ``MIN_CONTENT_WORDS`` content words) is a courtesy.
    return (_LISTENER.search(sentence) is not None and _SELF.search(sentence) is None and not named
            and len(content_words(sentence)) <= MIN_CONTENT_WORDS)


def content_free(sentence: str, *, ignore: set[str] | frozenset[str] = frozenset()) -> bool:
    """A question, or a sentence with fewer than ``MIN_CONTENT_WORDS`` content words (``ignore``: words that do
    not count, such as the speaker's own name), unless it is a statement about the speaker with one ("I'm
    vegan.", "Mei is vegan.", "I have 3 cats.")."""
    if is_question(sentence):
        return True
    found = set(content_words(sentence)) - ignore
    if len(found) >= MIN_CONTENT_WORDS:
        return False
    about_self = _SELF.search(sentence) is not None or any(w in ignore for w in words(sentence))
    return not (found and about_self)


_SNOWBALL = Stemmer.Stemmer("english")
# Small numbers written out say the same as their digits ("three cats" = "3 cats"); "one" is left alone, it is
# more often a pronoun ("the old one").
NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero _ two three four five six seven eight nine ten eleven twelve".split()) if w != "_"}  # noqa: SIM905


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of ``word``, its possessive "'s" taken off: "plays"/"playing",
    "cats"/"cat", "moved"/"move", "nurse"/"nursing". The one stemmer of consolidation and linking."""
    w = word.lower().replace("’", "'").strip("'")
    if w.endswith("'s"):
        w = w[:-2]
    return NUMBER_WORDS.get(w) or str(_SNOWBALL.stemWord(w))


def stems(text: str, *, drop: frozenset[str] = frozenset()) -> frozenset[str]:
    """Stemmed content words of ``text``, without the words in ``drop`` (e.g. the speaker's name)."""
    return frozenset(stem(w) for w in content_words(text) if w.split("'")[0] not in drop)
