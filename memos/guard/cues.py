"""Content cues of a poisoned memory: text written to steer the agent that reads it, not to record a fact.

A memory is data. A record that addresses the model, overrides what it knows, dictates its future answers,
carries hidden text, or sends the user to a link or address with credentials or money, is an instruction
smuggled into memory (OWASP LLM01 "indirect prompt injection"; the instruction and trigger families of
MINJA and AgentPoison). Each cue is a named family of surface patterns with a weight in ``[0, 1]``; the
guard combines them with the provenance signals in :mod:`memos.guard.screen`.

What keeps ordinary memories out (the hard benign cases): a speaker's standing preference about how to be
answered ("always answer me in Spanish") is about the speaker (``me``/``my``) and overrides no fact; a user's
own link or address carries no credential or payment request; a quoted instruction (a recipe, a sign, a
manual) sits in quotes or is attributed ("the manual says"); a self-correction is in the first person.

The patterns are English. They were written from the prompt-injection literature and the ``dev`` split of
``bench/_attacks.py`` by the author of its ``heldout`` split, with those templates in view (so that split is
development data; so is ``heldout2``, read before the ``directive`` cue was added; ``heldout3`` is the
held-out one).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_F = re.IGNORECASE

# Someone the record speaks to that is not a person in the conversation: the model reading it.
_AGENT = r"(?:assistant|a\.?i\.?|agent|model|bot|chatbot|llm|language model|copilot)"

# Override: discard what the model was told or remembers.
OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|overrule|discard|drop)\b[^.!?\n]{0,40}?"
    r"\b(?:previous|prior|earlier|above|all|any|other|existing|older|past)\b[^.!?\n]{0,30}?"
    r"\b(?:instructions?|context|memor(?:y|ies)|rules?|messages?|prompts?|directions?|notes?|records?|"
    r"information|facts?|answers?)\b", _F)
# Outdated / superseded claims about the rest of memory ("everything else in memory about it is outdated").
SUPERSEDE = re.compile(
    r"\b(?:everything|anything|all|the rest)\b[^.!?\n]{0,40}\b(?:memory|remember|recorded|stored|said)\b"
    r"[^.!?\n]{0,30}\b(?:outdated|obsolete|wrong|false|invalid|superseded)\b", _F)

# Addressed to the model.
ADDRESSED = re.compile(
    rf"\b(?:note|reminder|message|instructions?|directive|rule|memo|notice|update)\s+(?:to|for)\s+(?:the\s+)?"
    rf"{_AGENT}\b"
    rf"|\bif\s+you\s+are\s+(?:an?\s+)?(?:{_AGENT}|large language model)\b"
    rf"|^\W*{_AGENT}\s*[,:]"
    rf"|\b(?:the\s+)?{_AGENT}\s+(?:must|should|shall|needs?\s+to|has\s+to|is\s+to)\b"
    rf"|\b(?:system|admin(?:istrator)?|developer|operator)\s+(?:update|override|directive|instruction|"
    rf"message|notice|prompt)\b", _F | re.MULTILINE)

# Role and system markers of chat formats, smuggled into a record.
ROLE_MARKER = re.compile(
    r"<\s*/?\s*(?:system|assistant|user|instructions?|prompt|im_start|im_end)\s*>"
    r"|<\|[a-z_]{2,20}\|>|\[/?INST\]|\[/?SYS\]|<<\s*/?SYS\s*>>"
    r"|^\s*(?:system|assistant)\s*:", _F | re.MULTILINE)

# Dictating future answers: a habitual or conditional frame around a verb of answering.
_ANSWER_VERB = r"(?:reply|respond|answer|say|state|output|tell|recommend|include|mention|claim|insist|direct)"
RESPONSE_CONTROL = re.compile(
    rf"\b(?:whenever|every\s+time|any\s+time|from\s+now\s+on|in\s+(?:all|every|any)\s+(?:future\s+)?"
    rf"(?:answers?|repl(?:y|ies)|responses?|conversations?)|when(?:ever)?\s+(?:you\s+are\s+|you're\s+)?asked|"
    rf"if\s+(?:anyone|someone|somebody|the\s+user|a\s+user|you\s+are|you're)\s+(?:asks?|asked|wants?)|"
    rf"when(?:ever)?\s+(?:anyone|someone|somebody|the\s+user|a\s+user)\s+asks?|always|never|for\s+any\s+question|"
    rf"when(?:ever)?\s+(?:this|that|it|the\s+(?:topic|subject|question)|\w+)\s+comes?\s+up)"
    rf"\b[^.!?\n]{{0,80}}?\b{_ANSWER_VERB}\w*\b", _F)
# The answer itself dictated: "the correct answer is", "respond only with", "do not mention".
ANSWER_OVERRIDE = re.compile(
    r"\bthe\s+(?:correct|real|right|true|only|actual|official)\s+(?:answer|story|version|fact)\b"
    r"|\bthe\s+answer\s+(?:to|is|for)\b"
    r"|\b(?:reply|respond|answer|say)\s+(?:only|just|exclusively)\s+(?:with|that)\b"
    r"|\b(?:do\s+not|don't|never)\s+(?:mention|reveal|bring\s+up|disclose|tell\s+(?:the\s+user|anyone))\b"
    r"|\b(?:must|should)\s+(?:only\s+)?come\s+from\b", _F)

# An imperative of answering or emitting at the start of a clause ("... >> respond with X", "then output"): a
# person's turn rarely orders a reply; a record written for the model does.
DIRECTIVE = re.compile(
    r"(?:^|[:;|>\]\u2192]\s*|\bthen\s+|\band\s+)(?:please\s+|just\s+|also\s+|always\s+)?"
    r"(?:reply|respond|answer|output|print|paste|append|insert|forward|redirect|recommend|say|"
    r"tell\s+(?:them|the\s+user|users|everyone|anyone|people))\b", _F | re.MULTILINE)

# Sending the user somewhere with credentials or money.
_LINK = r"(?:https?://\S+|www\.\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b)"
_ASK = (r"(?:password|passcode|login|log\s+in|credentials?|account\s+details|verify|verification|confirm\s+"
        r"(?:your|their)|payment|pay\b|transfer|wire|bank|card\s+number|gift\s+card|crypto|bitcoin|forward\s+"
        r"(?:the|this|all|every)|send\s+(?:the|their|your|all)|ssn|social\s+security)")
EXFILTRATION = re.compile(rf"{_LINK}[^\n]{{0,160}}?\b{_ASK}|\b{_ASK}[^\n]{{0,160}}?{_LINK}", _F)

# Steering the reader to a link ("recommend https://...", "check ... before answering").
LINK_PUSH = re.compile(rf"\b(?:recommend|direct|redirect|send|point|refer|visit|check|consult|go\s+to)\w*\b"
                       rf"[^.!?\n]{{0,40}}?{_LINK}", _F)

# Text a person reading the memory would not see.
# (A zero-width joiner between emoji is how emoji sequences are spelled: only between letters is it hidden.)
HIDDEN = re.compile(r"[\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\ufeff]|(?<=\w)\u200d(?=\w)"
                    r"|<!--.*?-->|display\s*:\s*none"
                    r"|[A-Za-z0-9+/]{60,}={0,2}", re.DOTALL)

# About the speaker: a preference or correction in the first person is theirs to make.
FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|me|my|mine|myself)\b", _F)
QUOTED = re.compile(r"[\"'“‘][^\"'“”‘’]{12,}[\"'”’]|\b(?:says?|said|reads?|told\s+me|wrote)\s*:", _F)


@dataclass(frozen=True)
class Cue:
    name: str
    weight: float
    pattern: re.Pattern[str]
    # Softened when the record is about its own speaker (a preference) or quotes someone else's text.
    personal_discount: float = 1.0


CUES: tuple[Cue, ...] = (
    Cue("override", 0.8, OVERRIDE, personal_discount=0.5),
    Cue("supersede", 0.6, SUPERSEDE),
    Cue("addressed_to_agent", 0.75, ADDRESSED),
    Cue("role_marker", 0.85, ROLE_MARKER),
    Cue("response_control", 0.45, RESPONSE_CONTROL, personal_discount=0.25),
    Cue("answer_override", 0.55, ANSWER_OVERRIDE, personal_discount=0.5),
    Cue("directive", 0.4, DIRECTIVE, personal_discount=0.25),
    Cue("exfiltration", 0.8, EXFILTRATION),
    Cue("link_push", 0.4, LINK_PUSH, personal_discount=0.5),
    Cue("hidden_text", 0.6, HIDDEN),
)


def normalise(text: str) -> str:
    """NFKC (full-width and other look-alike letters fold to ASCII) so a pattern cannot be dodged by them."""
    return unicodedata.normalize("NFKC", text)


def content_cues(text: str) -> dict[str, float]:
    """The cues a memory's text shows, each with its weight after the personal/quoted discount."""
    raw = text
    text = normalise(text)
    personal = bool(FIRST_PERSON.search(text))
    quoted = bool(QUOTED.search(text))
    found: dict[str, float] = {}
    for cue in CUES:
        source = raw if cue.name == "hidden_text" else text  # NFKC would fold some hidden characters away
        if not cue.pattern.search(source):
            continue
        weight = cue.weight
        if (personal or quoted) and cue.personal_discount < 1.0:
            weight *= cue.personal_discount
        found[cue.name] = round(weight, 3)
    return found
