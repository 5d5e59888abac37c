"""A light, rule-based reading of a fact: who it is about, which attribute, which value, and whether it
negates or retracts something. The offline consolidator compares facts through it, and linking uses it to
spot contradictions and shared entities.

It is deliberately shallow (regular expressions over common personal-attribute phrasings, the Snowball stemmer,
no parser); what it cannot read falls back to comparing content tokens and embeddings.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from functools import lru_cache

from memos.consolidation.segment import stem

STOPWORDS = frozenset(
    """a an the and or of to in on at for with from by as is are was were be been being am it its this that
    these those there here he she they them his her hers their theirs we our us you your yours i me my mine
    who whom which what when where why how do does did doing have has had having so too very can could will
    would should may might must shall just than then also into about over after before up down out off
    again once all any both each few more most other some such only own same not no nor""".split()  # noqa: SIM905
)
# Words that announce a change ("now", "these days") but are not part of the value.
CHANGE_MARKERS = frozenset(
    "now nowadays currently actually instead switched changed recently lately officially new".split()  # noqa: SIM905
)
FILLER = frozenset(
    """really still just days these anymore longer already definitely totally absolutely kind sort
    honestly truly basically pretty quite""".split()  # noqa: SIM905
)
_MONTHS = "|".join(calendar.month_name[1:])
_DATE_PHRASES = re.compile(
    rf"\b(?:(?:on|in|since|by|from|until|during|around)\s+)?(?:the week of\s+)?\d{{1,2}} (?:{_MONTHS}) \d{{4}}\b"
    rf"|\b(?:(?:in|since|during|until|by)\s+)?(?:{_MONTHS})(?: \d{{4}})?\b"
    r"|\b(?:in|since|during|until|by)\s+\d{4}\b"
    r"|\bfor (?:a while|ages|a long time|(?:a|an|one|two|three|four|five|six|\d+|a few|several) "
    r"(?:day|week|month|year)s?)\b",
    re.IGNORECASE,
)

# Absolute dates as the resolver writes them ("on 7 May 2023", "in the week of 1 May 2023", "in May 2023").
_WHEN = re.compile(rf"\b(?:the week of\s+)?(?:\d{{1,2}} )?(?:{_MONTHS}) \d{{4}}\b|\b(?:in|since) \d{{4}}\b", re.I)
# Relations that describe a lasting state: a date on them says since when, not which occurrence.
STATE_RELATIONS = frozenset({"residence", "employer", "occupation", "favourite", "partner", "age", "car", "study",
                             "diet", "prefers", "likes", "dislikes", "has", "plays", "speaks", "allergy"})

# Retractions rewritten into "negated + the positive relation", so they compare with the fact they retract.
_RETRACTIONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:quit|left|lost|resigned from)\s+(?:(?:her|his|their|[\w-]+'s)\s+)?(?:job|position|role)\s+"
                r"(?:at|with)\b", re.I), "works at"),
    (re.compile(r"\bstopped working (?:at|for)\b", re.I), "works at"),
    (re.compile(r"\b(?:moved|moved away|moved out) (?:of|from)\b", re.I), "lives in"),
    (re.compile(r"\bbroke up with\b|\bsplit up with\b|\bdivorced\b", re.I), "is dating"),
    (re.compile(r"\b(?:sold|gave away|got rid of)\b", re.I), "has"),
    (re.compile(r"\b(?:got |was |been )?(?:laid off|fired|let go) (?:from|by|at)\b|\bresigned from\b"
                r"|\bhanded in (?:(?:her|his|their|[\w-]+'s) )?notice (?:at|to)\b", re.I), "works at"),
    (re.compile(r"\blost interest in\b|\bgot bored of\b|\bwent off\b", re.I), "likes"),
    (re.compile(r"\b(?:stopped|quit|gave up|gave up on)\b", re.I), ""),
]
# "is not" keeps its copula when the negation is removed ("is not working at" -> "is working at").
_COPULA_NEG = re.compile(r"\b(is|are|was|were|has|have)(?:\s+not\b|n't\b)", re.I)
# Common phrasings whose word order hides the relation, rewritten to the canonical one first.
_PARAPHRASES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^home for ([\w-]+(?: [\w-]+)?) is(?: in)?\b", re.I), r"\1 lives in"),
    (re.compile(r"^([\w-]+(?: [\w-]+)?)'s home is(?: in)?\b", re.I), r"\1 lives in"),
    (re.compile(r"^([\w-]+(?: [\w-]+)?) calls (.+?) home\b", re.I), r"\1 lives in \2"),
    (re.compile(r"^(.+?) is ([\w-]+)'s (?:new |current )?((?:all[- ]time )?favou?rite [a-z]+)", re.I),
     r"\2's \3 is \1"),
]
_NEGATIONS = re.compile(
    r"\b(?:no longer|not anymore|not any ?more|any ?more|any longer|no more|never again)\b"
    r"|\b(?:does not|doesn't|do not|don't|did not|didn't|is not|isn't|are not|aren't|was not|wasn't|"
    r"has not|hasn't|have not|haven't|cannot|can't|won't|will not|never|not)\b",
    re.IGNORECASE,
)
# After "doesn't"/"don't", the bare verb needs its third-person form back ("doesn't like" -> "likes").
_DO_SUPPORT = re.compile(
    r"\b(?:does not|doesn't|do not|don't)\s+(?:(?:really|actually|even|still|particularly)\s+)?(\w+)", re.I)

OCCUPATIONS = frozenset(
    """nurse chef cook doctor pilot barista nanny surgeon pharmacist vet veterinarian dentist lawyer teacher
    engineer developer programmer designer architect accountant consultant manager journalist writer
    artist musician photographer scientist researcher professor lecturer student librarian electrician
    plumber carpenter mechanic firefighter officer paramedic therapist psychologist analyst banker
    translator tutor cashier waiter waitress bartender farmer baker butcher driver entrepreneur""".split()  # noqa: SIM905
)

# (relation, functional, pattern). Functional relations hold one value at a time (a new value replaces the
# old); the others accumulate (liking tea does not stop you liking coffee).
RELATIONS: list[tuple[str, bool, re.Pattern[str]]] = [
    ("residence", True, re.compile(
        r"\b(?:lives|is living|has been living|resides|is based|is staying|is settled|lived)(?: now)? (?:in|at)\b"
        r"|\b(?:moved|relocated|has moved|is moving|just moved|moved back|relocated back) to\b"
        r"|\b(?:lives|is living)\b(?= in)"
        # "Alice is in Berlin now": a place (capitalized) right after "is in"
        r"|\bis (?:now |currently |still )?in\b(?= (?-i:[A-Z]))", re.I)),
    ("employer", True, re.compile(
        r"\b(?:works|is working|has been working|worked) (?:at|for)\b|\bis employed (?:at|by)\b"
        r"|\b(?:got|has|started|landed|took|accepted|began)\s+(?:a|an|her|his|their|[\w-]+'s)?\s*(?:new\s+)?"
        r"(?:job|position|role)\s+(?:at|with)\b|\bjoined\b|\bstarted working (?:at|for)\b"
        r"|\b(?:'s|s)\s+(?:employer|company) is\b|\b(?:got|was|has been|is) hired (?:at|by)\b", re.I)),
    ("occupation", True, re.compile(
        r"\b(?:works|is working) as(?: an?)?\b|\b(?:'s|s) (?:job|profession|occupation) is(?: an?)?\b"
        r"|\bbecame an?\b|\bis (?:now )?an? (?=(?:\w+ )?(?:" + "|".join(sorted(OCCUPATIONS)) + r")\b)", re.I)),
    ("favourite", True, re.compile(r"'s (?:all[- ]time )?favou?rite (?P<attr>[a-z]+(?: [a-z]+)?) is\b", re.I)),
    ("partner", True, re.compile(
        r"\bis (?:married to|dating|engaged to|seeing|in a relationship with|going out with)\b"
        r"|'s (?:wife|husband|partner|girlfriend|boyfriend|spouse|fiancee?)(?:'s name)? is\b", re.I)),
    ("age", True, re.compile(r"\bis (?=\d+(?: years? old)?\b)|\b(?:just )?turned(?= \d)", re.I)),
    ("car", True, re.compile(r"\bdrives an?\b|'s car is an?\b", re.I)),
    ("study", True, re.compile(
        r"\b(?:studies|is studying|is majoring in|majors in|is doing a (?:degree|phd|masters?) in)\b", re.I)),
    ("diet", True, re.compile(r"\bis (?:a |an )?(?=vegan|vegetarian|pescatarian|carnivore)", re.I)),
    ("prefers", True, re.compile(r"\bprefers\b", re.I)),
    ("likes", False, re.compile(
        r"\b(?:likes|loves|enjoys|adores|is into|is (?:a )?(?:big |huge )?fan of|is passionate about|"
        r"is obsessed with|is crazy about)\b", re.I)),
    ("dislikes", False, re.compile(r"\b(?:hates|dislikes|can't stand|cannot stand|detests)\b", re.I)),
    ("has", False, re.compile(r"\b(?:has|owns|adopted|got)\b(?= (?:an?|two|three|four|\d+|a new)\b)", re.I)),
    ("plays", False, re.compile(r"\bplays\b", re.I)),
    ("speaks", False, re.compile(r"\bspeaks\b", re.I)),
    ("allergy", False, re.compile(r"\bis allergic to\b", re.I)),
    ("attribute", True, re.compile(r"'s (?P<attr>[a-z]+(?: [a-z]+)?) (?:is|are)\b", re.I)),
]
FUNCTIONAL = {name for name, functional, _ in RELATIONS if functional}


_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")


def content_tokens(text: str) -> frozenset[str]:
    """Stemmed content words, without stopwords, change markers, filler or date phrases."""
    text = _DATE_PHRASES.sub(" ", text)
    out = set()
    for w in _WORD.findall(text):
        low = w.lower()
        if low.endswith("'s"):
            low = low[:-2]
        if low in STOPWORDS or low in CHANGE_MARKERS or low in FILLER or low in ("n't",):
            continue
        out.add(stem(low))
    return frozenset(out)


def entities(text: str) -> list[str]:
    """Capitalized words and runs of them ("Alice", "New York"), sentence-initial pronouns and articles
    excluded; lowercased."""
    found: list[str] = []
    for m in re.finditer(r"\b[A-Z][a-zA-Z-]+(?:\s+[A-Z][a-zA-Z-]+)*", text):
        phrase = re.sub(r"'s$", "", m.group(0))
        words = [w for w in phrase.split() if w.lower() not in STOPWORDS]
        if words and (low := " ".join(words).lower()) not in found and low not in _MONTH_WORDS:
            found.append(low)
    return found


_MONTH_WORDS = {m.lower() for m in calendar.month_name[1:]} | {d.lower() for d in calendar.day_name}


@dataclass(frozen=True)
class Claim:
    """A fact read as subject / relation / value, with its polarity."""

    text: str
    subject: str
    relation: str | None
    attribute: str | None
    value: frozenset[str]
    tokens: frozenset[str]
    negated: bool
    change: bool
    entities: list[str] = field(default_factory=list)
    when: frozenset[str] = frozenset()  # absolute dates it names, normalized

    @property
    def episodic(self) -> bool:
        """An event on a date (a run, a concert, a wedding), not a lasting state: said again on another
        date it is another occurrence, not the same fact."""
        return bool(self.when) and self.relation not in STATE_RELATIONS

    @property
    def functional(self) -> bool:
        return self.relation in FUNCTIONAL


def _normalize_subject(text: str) -> str:
    words = [w.lower().removesuffix("'s") for w in _WORD.findall(text)]
    return " ".join(w for w in words if w not in CHANGE_MARKERS and w not in FILLER and w not in ("also",))


@lru_cache(maxsize=4096)
def read_claim(text: str) -> Claim:
    """Parse ``text`` (a resolved fact) into a ``Claim``; cached because facts are compared many times."""
    body = text.strip().rstrip(".!")
    for pattern, replacement in _PARAPHRASES:
        body = pattern.sub(replacement, body, count=1)
    change = bool(re.search(r"\b(now|nowadays|these days|instead|switched|changed|anymore|any more|new)\b",
                            body, re.I))
    negated = False
    for pattern, replacement in _RETRACTIONS:
        if pattern.search(body):
            negated = True
            body = pattern.sub(replacement, body, count=1)
            break
    if _NEGATIONS.search(body):
        negated = True
        body = _COPULA_NEG.sub(r"\1", body)
        body = _DO_SUPPORT.sub(_third, body)
        body = _NEGATIONS.sub(" ", body)
    body = re.sub(r"\s+", " ", body).strip()
    relation = attribute = None
    subject_text, value_text = body, ""
    # The relation that starts first is the main verb ("Alice has a dog who loves the beach": has).
    best: tuple[int, int, str, re.Match[str]] | None = None
    for order, (name, _functional, pattern) in enumerate(RELATIONS):
        m = pattern.search(body)
        if m and m.start() > 0 and (best is None or (m.start(), order) < best[:2]):
            best = (m.start(), order, name, m)
    if best is not None:
        _, _, relation, m = best
        attribute = m.groupdict().get("attr")
        attribute = " ".join(stem(w) for w in attribute.split()) if attribute else None
        subject_text, value_text = body[: m.start()], body[m.end():]
    if relation is None:
        # No known relation: the subject is the leading name chunk ("Alice's brother Bob").
        m = re.match(r"^((?:[A-Z][\w-]*(?:'s)?\s*)+)", body)
        subject_text = m.group(1) if m else body.split(" ", 1)[0]
        value_text = body[len(subject_text):]
    return Claim(
        text=text,
        subject=_normalize_subject(subject_text),
        relation=relation,
        attribute=attribute,
        value=content_tokens(value_text),
        # With a known relation its wording drops out ("lives in" = "is based in"): subject, relation, value.
        tokens=(content_tokens(subject_text) | {f"rel:{relation}:{attribute or ''}"} | content_tokens(value_text))
        if relation else content_tokens(body),
        negated=negated,
        change=change,
        entities=entities(text),
        when=frozenset(" ".join(m.group(0).lower().split()) for m in _WHEN.finditer(text)),
    )


def _third(m: re.Match[str]) -> str:
    """ "doesn't like" -> "likes" (the negation itself is removed separately)."""
    from memos.consolidation.extract import third_person

    words = m.group(0).split()
    return f"{' '.join(words[:-1])} {third_person(words[-1])}"
