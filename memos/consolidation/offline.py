"""The deterministic consolidator used when no LLM is configured.

Each sentence-fact is compared with its candidates (the nearest existing memories, and earlier facts of the
batch) that are about the same person (the candidate names the fact's speaker). Three signals decide:

- ``sim``: cosine of the two sentences (the packaged MiniLM);
- ``restated``: the share of the candidate's content words (stemmed, the speaker's name left out) that the
  new sentence says again;
- cues in the new sentence: a *change* cue ("no longer", "anymore", "moved", "now", "quit", "switched",
  "instead", "actually") or a negation ("not", "n't", "never").

Verdicts, strongest first: NOOP when the sentence restates the candidate without a change cue; UPDATE
(supersede) when it negates what the candidate says, or carries a change cue and is close to it; on doubt
(close, a changed value, no cue) ADD with a ``may_update`` link to the candidate; otherwise ADD. An UPDATE
never deletes: the service ends the candidate's validity and links it ``superseded_by`` the new fact.
Thresholds were set on the development update set (``bench/data/updates_dev.jsonl``) only.
"""

from __future__ import annotations

import calendar
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from memos.consolidation.extract import ADVERBS, extract_facts, implicit_subject
from memos.consolidation.segment import FUNCTION_WORDS, PHATIC, content_words, stem, stems, words
from memos.consolidation.types import Action, Candidate, Decision, Fact, Turn
from memos.consolidation.vectors import TextVectors, for_embedder, foreground

if TYPE_CHECKING:
    from memos.embedding import Embedder

MIN_SIMILARITY = 0.3  # below this a candidate is about something else, whatever the words
RESTATED = 0.6  # share of the candidate's content words said again, its values all there: a restatement ...
NOVEL = 2  # ... that adds at most this many content words of its own (more: an ADD that restates it)
NAMED_RESTATED = 0.5  # a candidate whose names and numbers are all said again, this close: restated
ATOMIC_WORDS = 20  # a memory longer than this, or of several sentences, holds several facts: never superseded
CUE_SIMILARITY = 0.5  # a change cue, a changed value and at least this close: an update
DOUBT_SIMILARITY = 0.6  # this close with a changed value but no cue: ADD and link may_update
BATCH_K = 12  # the batch's own earlier facts a fact is compared with (the nearest), beside the stored ones
CONTINUES = 0.45  # this close to what an earlier sentence of the turn superseded: part of that new fact
SAME_FRAME = 0.5  # share of the old fact said again around a replaced word ("favourite color is ... green")
NEGATION_SCOPE = 2  # words after a negation that it applies to
# Cosine of two single words embedded alone above which they are values of one kind (two cities, two teams,
# two colours, two numbers): a sentence that names one where the stored fact names the other replaces it.
SAME_KIND = 0.45
# A sentence that supersedes one fact and says another again is the change: an UPDATE outranks a NOOP.
UPDATE_SCORE = 3.5
MAX_VALUES = 3  # a candidate with more value words than this holds no single attribute to replace
SAME_KIND_COMMON = 0.7  # the same for values that are common words (vegan/vegetarian 0.75, viola/violin 0.71)

# Words that end what a fact said ("quit infosys", "sold the corolla", "no longer ..."): with the old fact's
# words they retract it; and words that mark a new value ("now", "moved", "switched", "actually").
RETRACT_CUES = re.compile(
    r"\b(no longer|any ?more|any longer|quit|left|stopped|gave up|cancell?ed|sold|broke up|divorced|retired|"
    r"passed away|died|deleted|dropped|ended|got out of|moved out|moved away)\b",
    re.IGNORECASE,
)
# A speaker correcting what they said before ("correction: it's an XC40", "I meant Airtel", "should clarify").
CORRECTION = r"correction|correct myself|clarify|misunderstanding|mix(?:ed)? (?:them|it|those) up"
CORRECTS = re.compile(rf"\b({CORRECTION})\b", re.IGNORECASE)
CORRECTION_STEMS = frozenset({"correct", "clarifi", "misunderstand", "mix"})
CHANGE_CUES = re.compile(
    r"\b(now|nowadays|these days|moved|relocated|shifted|switched|changed|instead|actually|replaced|became|"
    rf"promoted|turned|gone|graduated|engaged|married|{CORRECTION})\b",
    re.IGNORECASE,
)
# The change cues that are never mere emphasis ("now" often is: "Denver's home now").
STRONG_CHANGE = re.compile(
    r"\b(moved|relocated|shifted|switched|changed|instead|replaced|became|promoted|graduated|engaged|married|"
    rf"{CORRECTION})\b",
    re.IGNORECASE,
)
# Chat packs several clauses in a sentence ("we took in another stray so it's 3 cats now, my wife says that's
# the limit"): the sentence's cosine to the fact its one clause changes is diluted by the others.
CLAUSE = re.compile(r"[,;:]\s+|\s+[-\u2013\u2014]\s+")
_MONTHS_DAYS = "|".join((*calendar.month_name[1:], *calendar.day_name))
# The clauses of a sentence that supersedes a fact: a change is often said beside another fact ("Abena moved
# out last month so I live alone now", "I gave up the oud, no time with all the extra shifts driving").
PARTS = re.compile(r"[,;:]\s+|\s+[-\u2013\u2014]\s+|(?<=[!?])\s+|\s+(?=(?i:so|but|because|since|although|though|"
                   rf"while|and now)\s+(?!(?:{_MONTHS_DAYS})\b)(?:[A-Z]|(?i:i|we|it|they|he|she|now|there)\b))")
LEAD_CONJUNCTION = re.compile(r"^(?:so|but|because|since|although|though|while|and now|and)\s+", re.IGNORECASE)
RETRACTED = 0.3  # share of the old fact's words a retraction names
NEGATION = re.compile(r"\b(?:no longer|not|never|no more)\b|n't\b", re.IGNORECASE)
# People one speaks of by relation ("Dana's sister", "Kenji's best friend"): a sentence about them is not
# about the speaker's own attributes.
RELATIONS = frozenset(
    """mom mum mother dad father parents parent sister brother sibling siblings son daughter kid kids child
    children baby wife husband partner girlfriend boyfriend fiance fiancee friend bestie cousin aunt uncle
    niece nephew grandma grandmother grandpa grandfather grandparents neighbour neighbor roommate flatmate
    housemate coworker colleague boss manager team teammate classmate""".split()  # noqa: SIM905
)


_CALENDAR_WORDS = frozenset(w.lower() for w in (*calendar.month_name[1:], *calendar.day_name))
_CALENDAR = frozenset(stem(w) for w in _CALENDAR_WORDS)
_PLURAL_FIRST = re.compile(r"\b(we|we're|we've|we'd|we'll|our|ours|us)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    action: Action
    score: float
    reason: str


def _names(speaker: str) -> frozenset[str]:
    return frozenset(words(speaker))


def about(text: str, speaker: str) -> bool:
    """Whether ``text`` names ``speaker`` (a whole-word match, any case)."""
    return bool(speaker) and re.search(rf"\b{re.escape(speaker)}\b", text, re.IGNORECASE) is not None


def subject(text: str, speaker: str) -> str:
    """Who a resolved sentence is about: "speaker's sister" when it speaks of a relation of theirs before
    (or without) the speaker themself, else the speaker."""
    rel = re.search(rf"\b{re.escape(speaker)}'s (?:(?:best|older|younger|little|big|new|ex)[- ])?(\w+)", text,
                    re.IGNORECASE)
    # "We ..." includes the speaker: a sentence that opens so is about them, whoever it names later.
    first_self = re.search(rf"\b{re.escape(speaker)}\b(?!')|\b(?:we|we're|we've|we'd|us)\b", text, re.IGNORECASE)
    if rel and rel.group(1).lower().rstrip("s") in RELATIONS | {r.rstrip("s") for r in RELATIONS} and (
            first_self is None or rel.start() <= first_self.start()):
        return f"{speaker.lower()}'s {rel.group(1).lower().rstrip('s')}"
    return speaker.lower()


@lru_cache(maxsize=16384)
def names_and_numbers(text: str, names: frozenset[str]) -> frozenset[str]:
    """The names (capitalized words past the first) and numbers (digits, small numbers written out) of a
    fact, stemmed, without the person's own name."""
    found = {stem(w) for t in text.split()[1:] for w in words(t) if (t[:1].isupper() or t[:1].isdigit())
             and w not in names and w.split("'")[0] not in names}
    return frozenset(found | {stem(w) for w in words(text) if stem(w).isdigit()})  # "3", "three"


# A condition or a plan ("if ...", "I'd like to", "might", "thinking about"): what follows has not happened.
HYPOTHETICAL = re.compile(r"\b(if|would like|'d like|might|maybe|perhaps|thinking (?:about|of)|considering|"
                          r"planning|plans? to|hoping to)\b", re.IGNORECASE)


def hypothetical(text: str) -> bool:
    """Whether a condition or a plan comes before any change cue, retraction or negation of ``text``."""
    m = HYPOTHETICAL.search(text)
    if m is None:
        return False
    cues = [c.start() for rx in (STRONG_CHANGE, RETRACT_CUES, NEGATION) if (c := rx.search(text))]
    return not cues or m.start() < min(cues)


def opening_name(text: str, names: frozenset[str]) -> frozenset[str]:
    """The first word of ``text`` as a name ("Succession is now my favorite show"): capitalized, not the
    person's, not a function or chat word, an adverb or a verb form."""
    first = words(text.split()[0]) if text.split() else []
    if not first or not text[:1].isupper():
        return frozenset()
    w = first[0]
    if w in names or w in FUNCTION_WORDS or w in PHATIC or w in ADVERBS or w.endswith(("ed", "ing", "ly")):
        return frozenset()
    return frozenset({stem(w)})


def new_names(text: str, known: frozenset[str], names: frozenset[str]) -> frozenset[str]:
    """The names of ``text`` (capitalized words past the first, not months or weekdays; "5am" is no name)
    whose stems are not in ``known``."""
    found = {stem(w) for t in text.split()[1:] if t[:1].isupper() for w in words(t)
             if w not in names and w.split("'")[0] not in names and w in content_words(t)}
    return frozenset(found - known - _CALENDAR)


@lru_cache(maxsize=16384)
def values(text: str, names: frozenset[str]) -> frozenset[str]:
    """What a fact says the attribute is: its names and numbers (capitalized words past the first, digits and
    small numbers written out), or, when it has none, its content words (stemmed) less the predicate."""
    toks = text.split()
    found = names_and_numbers(text, names)
    if found:
        return found
    # No names or numbers: its content words, less the predicate right after the person ("Liam works as a
    # chef": chef), which says how the person holds the value, not which value it is.
    content = [w for w in content_words(text) if w.split("'")[0] not in names]
    kept = content[1:] if len(content) > 1 and toks and names and words(toks[0])[:1] and \
        words(toks[0])[0].split("'")[0] in names and not toks[0].endswith("'s") else content
    return frozenset(stem(w) for w in kept)


def retracts(text: str) -> bool:
    """A retraction cue that is not itself negated ("quit my job", not "won't quit")."""
    return any(not NEGATION.search(" ".join(words(text[:m.start()])[-2:]))
               for m in RETRACT_CUES.finditer(text))


def new_stems_of(text: str, names: frozenset[str]) -> frozenset[str]:
    return stems(text, drop=names)


def negates(text: str, old: frozenset[str]) -> bool:
    """A negation whose scope (the next few words) holds a content word of ``old``."""
    for m in NEGATION.finditer(text):
        after = words(text[m.end():])[:NEGATION_SCOPE]
        if any(stem(w) in old for w in after):
            return True
    return False


def person_of(fact: Fact, cand: Candidate) -> str | None:
    """Whom ``fact`` and ``cand`` are both about: the fact's speaker when the candidate names them (and is
    not a namesake's own statement), or the person both open with ("Alice no longer works at Initech." said
    by Bob, against "Alice works at Initech.": a claim about Alice, which only she may make true, see
    ``apply.no_authority``); None when they are about different people."""
    if about(cand.text, fact.speaker):
        if cand.speaker is not None and cand.speaker.strip().casefold() != fact.speaker.strip().casefold() \
                and subject(cand.text, cand.speaker) == cand.speaker.lower():
            return None  # what someone else said about themself (a namesake, another speaker)
        return fact.speaker
    opener = re.match(r"([A-Z][\w-]+)\b", fact.text)
    if opener and len(opener.group(1)) > 2 and re.match(rf"{re.escape(opener.group(1))}\b(?!')", cand.text):
        return opener.group(1)
    return None


WordSimilarity = Callable[[str, str], float]
# A relative date as the extractor writes it out ("on 7 May 2023", "in the week of 1 May 2023", "in May 2023";
# ``memos.temporal``): when the fact happened, which ``event_time`` holds, not a value of the fact.
_MONTHS = "|".join(calendar.month_name[1:])
RENDERED_DATE = re.compile(rf"\b(?:(?i:on|in) )?(?:(?i:the) week of )?(?:\d{{1,2}} )?(?:{_MONTHS}) \d{{4}}\b")


@lru_cache(maxsize=16384)
def undated(text: str) -> str:
    """``text`` without the dates the extractor wrote out."""
    return re.sub(r"\s{2,}", " ", RENDERED_DATE.sub("", text)).strip()


def replaced_values(fact_text: str, cand_text: str, names: frozenset[str], alike: WordSimilarity,
                    same_kind: float = 0.45) -> tuple[bool, bool]:
    """Whether the sentence names, where the candidate has a value, another value of the same kind: a word
    the candidate lacks whose embedding is close to one of the candidate's values (cosine >= ``same_kind``). Returns
    (replaced: such an old value is no longer said, contrasted: the old value is said too, as in "X, not Y")."""
    new_words = [w for w in content_words(fact_text) if w.split("'")[0] not in names]
    new_stems = {stem(w) for w in new_words}
    old_stems = stems(cand_text, drop=names)
    old_values = values(cand_text, names)
    fresh = sorted({w for w in new_words if stem(w) not in old_stems})
    olds = sorted({w for w in content_words(cand_text) if stem(w) in old_values and w.split("'")[0] not in names})
    replaced = contrasted = False
    for v in olds:
        if any(alike(w, v) >= same_kind for w in fresh):
            if stem(v) in new_stems:
                contrasted = True
            else:
                replaced = True
    return replaced, contrasted


def atomic(text: str) -> bool:
    """One fact: a single sentence of at most ``ATOMIC_WORDS`` words (a memory of several sentences holds
    several facts and is never superseded as a whole)."""
    return len(text.split()) <= ATOMIC_WORDS and not re.search(r"[.!?]\s+\S", text.strip())


def compare(fact: Fact, cand: Candidate, alike: WordSimilarity | None = None) -> Verdict | None:
    """What ``fact`` does to ``cand`` (None: nothing, they are unrelated or both stand). ``alike``: the
    similarity of two words (embeddings), for values replaced by another of the same kind."""
    if cand.similarity < MIN_SIMILARITY:
        return None
    person = person_of(fact, cand)
    if person is None:
        return None
    who = subject(fact.text, person)
    if who != person.lower() and who != subject(cand.text, person) and not about(cand.text, who):
        return None  # about someone else than what the candidate is about
    names = _names(person)
    # Dates the extractor made absolute are the event's time, not what the fact says.
    ftext, ctext = undated(fact.text), undated(cand.text)
    new, old = stems(ftext, drop=names), stems(ctext, drop=names)
    if not old:
        return None
    restated = len(new & old) / len(old)
    old_values = values(ctext, names)
    changed = bool(old_values - new)
    negated = NEGATION.search(ctext) is None and negates(ftext, old)
    cue = CHANGE_CUES.search(ftext) is not None
    # A correction says its subject again least of all ("correction: it's an XC40"): its cosine to what it
    # corrects is low; the cue says it is about something said before.
    close = atomic(ctext) and (cand.similarity >= CUE_SIMILARITY or CORRECTS.search(ftext) is not None)
    if close and negated:
        return Verdict(Action.UPDATE, UPDATE_SCORE + cand.similarity, "negates it")
    named = old_values != old  # its values are a part of its words (names and numbers, or the predicate's object)
    proper = bool(names_and_numbers(ctext, names))  # its values are names or numbers
    frame = old - old_values  # what the candidate says about its value ("favourite food", "runs ... a week")
    # The frame of a name or a number ("favourite food is", "runs ... a week"); a predicate alone ("plays" in
    # "Bob plays jazz piano") is none: "plays guitar too" is another value, not a change.
    framed = proper and bool(frame) and len(frame & new) / len(frame) >= SAME_FRAME
    # Words are encoded only where the answer can change the verdict below. Between common words the
    # embeddings of single words say less than between names and numbers (chat's "excited", "thankful",
    # "grateful" are close: dozens of false supersessions on LoCoMo), so they must be closer.
    # ... and only of one attribute: a candidate of many values ("taking care of ourselves is so important -
    # even if it's not always easy") is a thought, not an attribute with a value.
    marked = len(old_values) <= MAX_VALUES and (
        cue or NEGATION.search(ftext) is not None or (changed and (framed or retracts(ftext))))
    replaced, contrasted = replaced_values(ftext, ctext, names, alike, SAME_KIND if proper else SAME_KIND_COMMON) \
        if close and alike and marked else (False, False)
    if close and replaced and changed and (framed or cue or retracts(ftext)):
        return Verdict(Action.UPDATE, UPDATE_SCORE + cand.similarity, "another value of the same kind")
    if close and contrasted and (cue or NEGATION.search(ftext)):
        return Verdict(Action.UPDATE, UPDATE_SCORE + cand.similarity, "corrects its value")
    if close and retracts(ftext) and (restated >= RETRACTED or (proper and not changed)):
        return Verdict(Action.UPDATE, UPDATE_SCORE + cand.similarity, "retracts it")
    if close and not changed and STRONG_CHANGE.search(ftext) and (old - old_values) - new:
        # The same names in a changed relation ("dating Amara" -> "engaged to Amara").
        return Verdict(Action.UPDATE, UPDATE_SCORE + cand.similarity, "the relation changed")
    if close and not changed and CORRECTS.search(ftext) and new - old - CORRECTION_STEMS:
        # Said again with more, as a correction ("should clarify, my son studies veterinary medicine"): the
        # stored fact was less than right.
        return Verdict(Action.UPDATE, UPDATE_SCORE + cand.similarity, "corrects it")
    if not changed and (restated >= RESTATED or (named and cand.similarity >= NAMED_RESTATED)):
        # What chat says around a known fact ("Sora knocked my coffee off the table again", "Toronto winters
        # are no joke") is an occasion of it, not a new fact; a new name is someone or something new. Only of
        # one fact, most of its words said again: a memory of several sentences is a conversation's account, a
        # common word may be said in another sense ("support"), and a name alone may be the one spoken to
        # ("Hey Evan, long time no see!" against "Hey Evan, good to see you!": LoCoMo lost evidence to that).
        if len(new - old) <= NOVEL or (atomic(ctext) and restated >= RESTATED and not new_names(ftext, old, names)):
            return Verdict(Action.NOOP, 3 + cand.similarity, "already known")
        return Verdict(Action.ADD, 2.5 + cand.similarity, "restates it, with more")
    if not close:
        return None
    # "now", "actually" and the like only count against a stored name or number that the new sentence
    # replaces with its own ("I live in Berlin now" against "lives in Paris"): as emphasis they are everywhere.
    # A name or a number is replaced by a name or a number ("Berlin" for "Paris"; not "treasurer").
    new_values = (names_and_numbers(ftext, names) | opening_name(ftext, names) if proper
                  else values(ftext, names)) - new_stems_of(ctext, names)
    substituted = changed and ((proper and bool(new_values) and new_values != new) or restated >= SAME_FRAME)
    if changed and (STRONG_CHANGE.search(ftext) or (cue and substituted)):
        return Verdict(Action.UPDATE, UPDATE_SCORE + cand.similarity, "a change of the same fact")
    if changed and cand.similarity >= DOUBT_SIMILARITY:
        return Verdict(Action.ADD, 1 + cand.similarity, "may update it")
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    return f"{text[:1].upper()}{text[1:]}{'' if text.endswith(('.', '!')) else '.'}"


_NOTHING = np.zeros(1, dtype=np.float32)  # a dry pass's stand-in vector (its dot product is 0)


class OfflineConsolidator:
    """Rules over sentences, words and embeddings; no LLM, deterministic."""

    name = "offline"

    def __init__(self, embedder: Embedder | None = None) -> None:
        self.embedder = embedder  # words embedded alone: values of the same kind (``replaced_values``)
        self._words: dict[str, np.ndarray] = {}  # a batch's word and clause vectors (cleared by ``decide``)
        self._pending: set[str] | None = None  # texts a dry pass asked for (``_prefetch``)
        self._sims: np.ndarray | None = None  # the batch's facts' cosines with each other (set by ``decide``)
        # Texts this process encoded alone in earlier passes (words, clauses, facts, candidate sentences).
        self.known: TextVectors | None = for_embedder(embedder) if embedder is not None else None

    def _alike(self, a: str, b: str) -> float:
        va, vb = self._vectors([a, b])
        return float(np.dot(va, vb))

    def extract(self, turns: list[Turn]) -> list[Fact]:
        return extract_facts(turns)

    def decide(self, facts: list[Fact], candidates: list[list[Candidate]]) -> list[Decision]:
        self._words.clear()
        # Cosines of the batch's facts with each other, once (a fact without a vector is close to nothing).
        dim = next((f.vector.shape[0] for f in facts if f.vector is not None), 0)
        matrix = np.array([f.vector if f.vector is not None else np.zeros(dim, np.float32) for f in facts])
        self._sims = matrix @ matrix.T if dim else None
        self._prefetch(facts, candidates)
        decisions: list[Decision] = []
        # What the batch has done so far: memory/fact handle -> its current text, and superseded handles.
        current: dict[str, tuple[str, np.ndarray | None]] = {}
        superseded: dict[str, int | None] = {}  # handle -> the fact that superseded it
        live_facts: list[int] = []  # facts the batch added, as candidates of later facts
        for i, fact in enumerate(facts):
            if not fact.standalone:
                # A detail names nobody: it can say again what is known, correct a stored fact of the speaker
                # ("it's viola actually", "it's a sweet shop not a bakery"), or belong to its turn's memory.
                # The batch's facts of earlier turns too: a backlog run as one batch holds what was stored
                # before it as facts, not memories.
                earlier = [(j, current[f"f{j}"][0]) for j in live_facts
                           if f"f{j}" not in superseded and facts[j].turn_index != fact.turn_index]
                said = self._decide_one(i, fact, [c for c in candidates[i] if c.handle not in superseded]
                                        + self._batch_candidates(i, facts, earlier))
                if said.action is Action.UPDATE and said.target is not None:
                    decisions.append(said)
                    superseded[said.target.handle] = i
                    current[f"f{i}"] = (fact.text, fact.vector)
                    live_facts.append(i)
                    continue
                decisions.append(said if said.action is Action.NOOP
                                 else Decision(i, Action.ADD, reason="a detail of its turn", attach=True))
                continue
            # A sentence that names the new value of what an earlier sentence of its turn superseded continues
            # that new fact ("sold the corolla finally. got a tesla"); anything else it says is a fact of its
            # own ("no more piano lessons. I still play at home"), so the successor stays one fact.
            cont = [c for c in candidates[i] if c.handle in superseded and superseded[c.handle] is not None
                    and facts[superseded[c.handle]].turn_index == fact.turn_index  # type: ignore[index]
                    and c.similarity >= CONTINUES and self._names_its_value(fact, c)]
            if cont:
                decisions.append(Decision(i, Action.ADD, reason="continues the update of its turn", attach=True))
                continue
            pool: list[Candidate] = [c for c in candidates[i] if c.handle not in superseded]
            live = [(j, current[f"f{j}"][0]) for j in live_facts if f"f{j}" not in superseded]
            pool += self._batch_candidates(i, facts, live)
            decision = self._decide_one(i, fact, pool)
            if decision.action is Action.UPDATE and decision.target is not None:
                decision = self._split_update(fact, decision)
            may = decision.may_update
            if may is not None and any(d.action is Action.NOOP and d.target is not None
                                       and d.target.handle == may.handle
                                       and facts[d.fact_index].turn_index == fact.turn_index for d in decisions):
                # Its turn has just said that fact again: what follows is about it, not a change of it
                # ("Denver's home now. loving the mountains").
                decision = Decision(i, Action.NOOP, target=may, reason="about what its turn says again")
            decisions.append(decision)
            if decision.action is Action.UPDATE and decision.target is not None:
                superseded[decision.target.handle] = i
            if decision.action in (Action.ADD, Action.UPDATE):
                current[f"f{i}"] = (fact.text, fact.vector)
                live_facts.append(i)
        return decisions

    def _split_update(self, fact: Fact, decision: Decision) -> Decision:
        """An UPDATE whose sentence says more than the change: the clauses about the superseded fact (its
        words, a value in place of its own, the closest clause) are the successor (``text``), the others
        (each with content words beyond cues) a fact of their own (``rest``)."""
        target = decision.target
        parts = [LEAD_CONJUNCTION.sub("", p.strip(" ,;:.!?")) for p in PARTS.split(fact.text)]
        parts = [p for p in parts if p]
        if target is None or self.embedder is None or len(parts) < 2:
            return decision
        person = person_of(fact, target) or fact.speaker
        names = _names(person)
        ctext = undated(target.text)
        old_values = values(ctext, names)
        old = stems(ctext, drop=names) | old_values
        frame = old - old_values
        same_kind = SAME_KIND if names_and_numbers(ctext, names) else SAME_KIND_COMMON
        *part_vectors, target_vector = self._vectors([*parts, target.text])
        said = [stems(undated(p), drop=names) for p in parts]
        # The clause that says most of the old fact's words, then the closest: the change itself.
        closest = max(range(len(parts)), key=lambda k: (len(said[k] & old), float(np.dot(part_vectors[k],
                                                                                          target_vector))))
        change, rest = [], []
        for k, part in enumerate(parts):
            own = said[k] - old - CORRECTION_STEMS - {stem(w) for w in words(" ".join(
                m.group(0) for m in (*CHANGE_CUES.finditer(part), *RETRACT_CUES.finditer(part))))}
            # A clause goes with the change when it says the old fact's frame ("no longer lives in Boston"), its
            # value with a negation ("not three"), a value in place of its own, or nothing of anyone.
            # The old value in another frame is another fact: "I'm from Harare but I live in Bulawayo now".
            if k == closest or said[k] & frame or len(own) < 2 or not self._of_someone(part, fact.speaker) or (
                    said[k] & old_values and (NEGATION.search(part) or RETRACT_CUES.search(part))) or any(
                    replaced_values(undated(part), ctext, names, self._alike, same_kind)):
                change.append(part)
            else:
                rest.append(part)
        if not rest:
            return decision
        return dataclasses.replace(decision, text=_sentence(", ".join(change)), rest=_sentence(", ".join(rest)))

    @staticmethod
    def _of_someone(part: str, speaker: str) -> bool:
        """Whether a clause states something of someone: the speaker as its subject (not "Pavel's wife
        says"), "we", a verb with the speaker left out ("Training for the marathon"), or a name."""
        return bool(re.search(rf"\b{re.escape(speaker)}\b(?!')", part) or _PLURAL_FIRST.search(part)
                    or implicit_subject(part, speaker) != part or any(
                        t[:1].isupper() and t.strip(",.!?:;'\"()").lower() not in _CALENDAR_WORDS
                        for t in part.split()[1:]))

    def _names_its_value(self, fact: Fact, cand: Candidate) -> bool:
        """Whether ``fact`` names, beside or instead of one of ``cand``'s values, another of the same kind."""
        if self.embedder is None:
            return True
        person = person_of(fact, cand) or fact.speaker
        names = _names(person)
        ctext = undated(cand.text)
        same_kind = SAME_KIND if names_and_numbers(ctext, names) else SAME_KIND_COMMON
        return any(replaced_values(undated(fact.text), ctext, names, self._alike, same_kind))

    def _batch_candidates(self, i: int, facts: list[Fact], live: list[tuple[int, str]]) -> list[Candidate]:
        """The batch's own facts nearest to fact ``i`` (at most ``BATCH_K``, as the stored ones are): a long
        backlog is not compared pair by pair. ``live``: (index, current text) of the facts it may be."""
        if self._sims is None or not live:
            return []
        row = self._sims[i]
        near = sorted((x for x in live if row[x[0]] >= MIN_SIMILARITY), key=lambda x: -row[x[0]])[:BATCH_K]
        return [Candidate(f"f{j}", text, float(row[j]), fact_index=j, speaker=facts[j].speaker) for j, text in near]

    def remember(self, texts: list[str], vectors: np.ndarray | list[np.ndarray]) -> None:
        """Vectors of texts encoded alone elsewhere in the pass (the facts): a comparison that asks for one of
        them, in this pass or a later one, needs no forward pass."""
        if self.known is not None:
            self.known.put_many(zip(texts, vectors, strict=True))

    def _missing(self, texts: list[str]) -> list[str]:
        """The texts neither this pass nor the process's cache has a vector for (cache hits join the pass's)."""
        missing = {t for t in texts if t not in self._words}
        if missing and self.known is not None:
            found = self.known.get_many(missing)
            self._words.update(found)
            missing -= found.keys()
        return sorted(missing)

    def _encode(self, texts: list[str]) -> None:
        assert self.embedder is not None
        with foreground(self.embedder):  # the pass waits for these: a look-ahead's next pass waits for them
            vectors = self.embedder.embed(texts)
        self._words.update(zip(texts, vectors, strict=True))
        self.remember(texts, vectors)

    def _vectors(self, texts: list[str]) -> list[np.ndarray]:
        missing = self._missing(texts)
        if self._pending is not None:  # a dry pass: note what to encode, answer "unlike"
            self._pending.update(missing)
            return [_NOTHING for _ in texts]
        if missing and self.embedder is not None:
            self._encode(missing)
        return [self._words[t] for t in texts]

    def _prefetch(self, facts: list[Fact], candidates: list[list[Candidate]]) -> None:
        """Encode in one call the words and clauses the comparisons with the stored candidates will ask for
        (a dry pass over them), instead of a forward pass per comparison."""
        if self.embedder is None:
            return
        self._pending = set()
        try:
            for i, fact in enumerate(facts):
                # The batch's earlier facts as they were said (the real pass sees what became of them).
                earlier = [(j, facts[j].text) for j in range(i)]
                pool = candidates[i] + self._batch_candidates(i, facts, earlier)
                # Only a comparison with one fact (an atomic candidate) asks for words or clauses.
                close = [c for c in pool if atomic(c.text)]
                self._decide_one(i, fact, close)
                # What an update of a close candidate would ask for: its clauses (``_split_update``), and
                # whether a later sentence of its turn names the new value (``_names_its_value``).
                follows = i > 0 and facts[i - 1].turn_index == fact.turn_index
                for c in close:
                    if c.similarity >= CUE_SIMILARITY and person_of(fact, c) is not None:
                        self._split_update(fact, Decision(i, Action.UPDATE, target=c))
                    if follows and c.similarity >= CONTINUES and c.memory_id is not None:
                        self._names_its_value(fact, c)
        finally:
            pending, self._pending = sorted(self._pending), None
        if pending:
            self._encode(pending)

    def _clause_similarity(self, fact: Fact, cand: Candidate) -> float:
        """The cosine of the candidate to the sentence's closest clause, when the sentence has several and
        carries a cue of a change (only then can a closer clause change the verdict; it costs an encoding)."""
        parts = [p for p in CLAUSE.split(fact.text) if len(p.split()) >= 3]
        if len(parts) < 2 or self.embedder is None or not atomic(cand.text) or person_of(fact, cand) is None or not (
                CHANGE_CUES.search(fact.text) or RETRACT_CUES.search(fact.text) or NEGATION.search(fact.text)):
            return cand.similarity
        *clause_vectors, cand_vector = self._vectors([*parts, cand.text])
        return max(cand.similarity, *(float(np.dot(v, cand_vector)) for v in clause_vectors))

    def _decide_one(self, i: int, fact: Fact, pool: list[Candidate]) -> Decision:
        best: tuple[Verdict, Candidate] | None = None
        alike = self._alike if self.embedder is not None else None
        for cand in pool:
            if MIN_SIMILARITY <= cand.similarity < CUE_SIMILARITY:
                cand = dataclasses.replace(cand, similarity=self._clause_similarity(fact, cand))
            verdict = compare(fact, cand, alike)
            if verdict is not None and (best is None or verdict.score > best[0].score):
                best = (verdict, cand)
        if best is None:
            return Decision(i, Action.ADD, reason="new information")
        verdict, cand = best
        if verdict.action is Action.ADD and verdict.reason.startswith("restates"):
            return Decision(i, Action.ADD, reason=verdict.reason, restates=cand)
        if verdict.action is Action.UPDATE and hypothetical(fact.text):
            # "if I have enough days left I'd like to add Seoul, not booked yet": a plan, not a change.
            return Decision(i, Action.ADD, reason=f"may update it, if ({verdict.reason})", may_update=cand)
        if verdict.action is Action.ADD:
            return Decision(i, Action.ADD, reason=verdict.reason, may_update=cand)
        return Decision(i, verdict.action, target=cand, reason=verdict.reason)
