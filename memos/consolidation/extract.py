"""Offline fact extraction: split turns into sentences (``segment``), drop content-free turns, resolve the speaker
("I" -> the speaker's name, with the verb agreed) and make relative dates absolute.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

from memos.consolidation.segment import content_free, content_words, is_question, sentences, to_the_listener, words
from memos.consolidation.types import Fact, Turn
from memos.temporal import resolve_dates

# Roles whose unnamed turns are answers, not facts about anyone.
NON_FACT_ROLES = {"assistant", "system", "tool", "function"}
# Discourse openers that are not part of the statement ("Oh, ...", "Btw ...", "Quick update: ...").
_LEADING = re.compile(
    r"^(oh|well|so|anyway|anyways|also|and|but|btw|by the way|just so you know|fun fact|quick update|"
    r"update|guess what|you know what|as i said|like i said|as i mentioned|heads up|news)\s*[,:!-]?\s+",
    re.IGNORECASE,
)

ADVERBS = {
    "really", "also", "now", "still", "just", "actually", "currently", "usually", "always", "never", "often",
    "sometimes", "definitely", "totally", "absolutely", "mostly", "finally", "recently", "already", "even",
    "officially", "honestly", "truly", "seriously", "kind", "sort", "no", "longer", "basically", "only",
    "barely", "rarely", "hardly", "probably", "literally", "mainly", "kinda", "def",
}
UNCHANGED = {
    # past forms and modals that stay as they are after a third-person subject
    "was", "went", "got", "had", "made", "took", "saw", "met", "bought", "ran", "left", "began", "came",
    "found", "gave", "knew", "lost", "said", "sold", "spent", "taught", "thought", "told", "won", "wrote",
    "became", "broke", "chose", "drove", "ate", "fell", "felt", "flew", "forgot", "grew", "heard", "kept",
    "led", "paid", "quit", "rode", "sang", "sat", "slept", "spoke", "stood", "swam", "threw", "understood",
    "woke", "wore", "read", "put", "set", "cut", "hit", "let", "hurt", "built", "caught", "brought", "did",
    "can", "could", "will", "would", "should", "might", "must", "may", "shall", "used", "sent",
    "can't", "couldn't", "won't", "wouldn't", "shouldn't", "didn't", "wasn't", "never", "moved",
    "meant", "dealt", "held", "lent", "sought", "fought", "hung", "shut",
}
IRREGULAR = {"am": "is", "have": "has", "do": "does", "don't": "doesn't", "haven't": "hasn't", "go": "goes",
             "'m": "is", "be": "is", "aren't": "isn't", "am not": "is not"}


def third_person(verb: str) -> str:
    """The third-person singular present of ``verb`` ("live" -> "lives"); past forms stay."""
    low = verb.lower()
    if low in IRREGULAR:
        return IRREGULAR[low]
    if low in UNCHANGED or low.endswith("ed") or not low.isalpha():
        return verb
    if low.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if len(low) > 2 and low.endswith("y") and low[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def resolve_speaker(text: str, speaker: str) -> str:
    """First person -> the speaker: "I live in Paris" -> "Alice lives in Paris"; "my" -> "Alice's"."""
    text = re.sub(r"\bi\b(?=[ '’])", "I", text).replace("’", "'")  # casual lowercase "i"
    text = re.sub(r"\bI'm\b|\bI am\b", f"{speaker} is", text)
    text = re.sub(r"\bI've\b|\bI have\b", f"{speaker} has", text)
    text = re.sub(r"\bI'd\b", f"{speaker} would", text)
    text = re.sub(r"\bI'll\b", f"{speaker} will", text)
    text = re.sub(r"\b[Mm]y\b|\b[Mm]ine\b", f"{speaker}'s", text)
    text = re.sub(r"\b[Mm]yself\b", speaker, text)
    text = re.sub(r"(?<!')\b[Mm]e\b", speaker, text)

    def agree(m: re.Match[str]) -> str:
        adverbs, verb = m.group(1) or "", m.group(2)
        return f"{speaker} {adverbs}{third_person(verb)}"

    # "I (really )?live" -> "Alice (really )?lives"; only the verb right after the adverbs changes.
    adverb_alt = "|".join(sorted(ADVERBS, key=len, reverse=True))
    text = re.sub(rf"\bI ((?:(?:{adverb_alt}) )*)([A-Za-z']+)", agree, text)
    return re.sub(r"\bI\b", speaker, text)


_MONTHS_DAYS = frozenset(m.lower() for m in (*calendar.month_name[1:], *calendar.day_name))
_PLURAL_FIRST = re.compile(r"\b(we|we're|we've|we'd|we'll|our|ours|us)\b", re.IGNORECASE)


# Words ending in -ing that are not verb forms ("Nothing good on", "Morning run done").
_ING_NOUNS = ("thing", "morning", "evening", "during", "spring", "wedding", "building", "meeting", "sibling",
              "ceiling", "clothing", "ring")


def implicit_subject(sentence: str, speaker: str) -> str:
    """Chat drops the subject of a first-person statement ("Sold the corolla finally.", "Got promoted!"):
    a sentence that opens (after adverbs: "Finally moved out") with a past or -ing verb form and does not have
    the speaker as a subject (a possessive, "Yuki's parents", is not one) gets it back."""
    tokens = [t.strip(",.!:;").lower() for t in sentence.split()]
    lead = next((k for k, t in enumerate(tokens) if t not in ADVERBS), len(tokens))
    first = tokens[lead] if lead < len(tokens) else ""
    verb_like = (first in UNCHANGED - {"can", "could", "will", "would", "should", "might", "must", "may", "shall",
                                       "never", "can't", "couldn't", "won't", "wouldn't", "shouldn't", "didn't",
                                       "wasn't", "was", "did", "used"}
                 or (len(first) > 4 and first.endswith("ed"))
                 or (len(first) > 5 and first.endswith("ing") and not first.endswith(_ING_NOUNS)))
    if not verb_like or re.search(rf"\b{re.escape(speaker)}\b(?!')", sentence):
        return sentence
    return f"{speaker} {sentence[0].lower()}{sentence[1:]}"


def standalone(text: str, speaker: str) -> bool:
    """Whether a resolved sentence says something about someone: it names the speaker, speaks as "we", or
    names someone or something (a capitalized word past the first, not a month or weekday)."""
    if re.search(rf"\b{re.escape(speaker)}\b", text) or _PLURAL_FIRST.search(text):
        return True
    tokens = text.split()[1:]
    return any(t[:1].isupper() and t.strip(",.!?:;'\"()").lower() not in _MONTHS_DAYS and t != "I"
               for t in tokens)


def speaker_of(turn: Turn) -> str | None:
    if turn.name:
        return turn.name.strip()
    if turn.role.lower() in NON_FACT_ROLES:
        return None
    return "User" if turn.role.lower() in ("user", "human") else turn.role.strip().title()


def turn_sentences(content: str, speaker: str = "") -> list[str]:
    """The sentences of a turn worth keeping: none when no sentence carries content (greetings, thanks,
    reactions, questions); else every statement with a content word (so a kept turn keeps its details).
    The speaker's own name is not content ("Hi, I am Dana.")."""
    content = re.sub(r"\bi\b(?=[ '’])", "I", content)  # casual lowercase "i"
    name = set(words(speaker))
    found = sentences(content)
    # A turn that only speaks to the listener (thanks, wishes, compliments) says nothing of its speaker.
    if all(content_free(s, ignore=name) or to_the_listener(s) for s in found):
        return []
    return [s for s in found if not is_question(s) and (
        not content_free(s, ignore=name) or any(w not in name and not _named(s, w) for w in content_words(s)))]


def _named(sentence: str, word: str) -> bool:
    """Whether ``word`` appears only as a name in ``sentence`` (capitalized: "Thanks, Mel!")."""
    return re.search(rf"\b{re.escape(word)}\b", sentence) is None


def extract_facts(turns: list[Turn]) -> list[Fact]:
    """The offline extractor: one fact per kept sentence, speaker resolved, dates absolute."""
    facts: list[Fact] = []
    for index, turn in enumerate(turns):
        speaker = speaker_of(turn)
        if speaker is None:
            continue
        ref = turn.timestamp or datetime.now(UTC)
        ref = ref.replace(tzinfo=UTC) if ref.tzinfo is None else ref
        for raw in turn_sentences(turn.content, speaker):
            sentence = _LEADING.sub("", raw).strip() or raw
            sentence = sentence[0].upper() + sentence[1:]
            resolved = implicit_subject(resolve_speaker(sentence, speaker), speaker)
            text, dates = resolve_dates(resolved, ref)
            text = text.rstrip(" ,;:-")
            if text[-1] not in ".!":
                text += "."
            facts.append(
                Fact(
                    text=text[0].upper() + text[1:],
                    turn_index=index,
                    speaker=speaker,
                    event_time=datetime.combine(dates[0].value, datetime.min.time(), UTC) if dates else ref,
                    dates=[d.as_dict() for d in dates],
                    standalone=standalone(resolved, speaker),
                )
            )
    return facts
