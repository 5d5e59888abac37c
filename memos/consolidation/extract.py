"""Offline fact extraction: split turns into sentences, keep the salient statements, resolve the speaker
("I" -> the speaker's name, with the verb agreed) and make relative dates absolute.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from memos.consolidation.types import Fact, Turn
from memos.temporal import resolve_dates

# Roles whose unnamed turns are answers, not facts about anyone.
NON_FACT_ROLES = {"assistant", "system", "tool", "function"}
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_FILLER = re.compile(
    r"^(hi|hello|hey|thanks|thank you|ok|okay|lol|haha|wow|cool|nice|great|sure|yes|yeah|no|nope|bye|"
    r"good (morning|night|evening)|see you|awesome|sounds good|that's (great|cool|nice|awesome|amazing))\b",
    re.IGNORECASE,
)
# Sentences that talk to or about the conversation rather than state a fact.
_NOT_A_FACT = re.compile(
    r"^(you|your|that|this|it|what|how|why|where|when|who|which|let's|let us|do you|did you|are you|"
    r"can you|could you|would you|sounds|please|maybe we|i wonder|i hope|i think so|i guess|i see|i agree)\b",
    re.IGNORECASE,
)
_LEADING = re.compile(
    r"^(oh|well|so|anyway|anyways|also|and|but|btw|by the way|just so you know|fun fact|quick update|"
    r"update|guess what|you know what|as i said|like i said|as i mentioned|heads up|news)\s*[,:!-]?\s+",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(i|i'm|i've|i'd|i'll|my|me|mine|myself)\b", re.IGNORECASE)

ADVERBS = {
    "really", "also", "now", "still", "just", "actually", "currently", "usually", "always", "never", "often",
    "sometimes", "definitely", "totally", "absolutely", "mostly", "finally", "recently", "already", "even",
    "officially", "honestly", "truly", "seriously", "kind", "sort", "no", "longer", "basically", "only",
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


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if s and s.strip()]


def salient(sentence: str) -> bool:
    """A statement worth remembering: not a question, not filler, says something about someone."""
    words = sentence.split()
    if sentence.rstrip().endswith("?") or len(words) < 3:
        return False
    if _FILLER.match(sentence) and len(words) <= 5:
        return False
    if _NOT_A_FACT.match(sentence):
        return False
    if _FIRST_PERSON.search(sentence):
        return True
    # A named subject or object ("Bob moved to Denver", "We met Carla").
    return any(w[:1].isupper() for w in words[1:]) or (words[0][:1].isupper() and words[0].lower() not in
                                                        {"the", "a", "an", "we", "they", "he", "she", "there"})


def speaker_of(turn: Turn) -> str | None:
    if turn.name:
        return turn.name.strip()
    if turn.role.lower() in NON_FACT_ROLES:
        return None
    return "User" if turn.role.lower() in ("user", "human") else turn.role.strip().title()


def extract_facts(turns: list[Turn]) -> list[Fact]:
    """The offline extractor: one fact per salient sentence, speaker resolved, dates absolute."""
    facts: list[Fact] = []
    for index, turn in enumerate(turns):
        speaker = speaker_of(turn)
        if speaker is None:
            continue
        ref = turn.timestamp or datetime.now(UTC)
        ref = ref.replace(tzinfo=UTC) if ref.tzinfo is None else ref
        content = re.sub(r"\bi\b(?=[ '’])", "I", turn.content)  # before splitting: ". i live" is a sentence
        for raw in split_sentences(content):
            sentence = _LEADING.sub("", raw).strip()
            if not sentence or not salient(sentence):
                continue
            sentence = sentence[0].upper() + sentence[1:]
            resolved = resolve_speaker(sentence, speaker)
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
                )
            )
    return facts
