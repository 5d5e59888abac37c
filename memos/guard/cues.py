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
development data; so is ``heldout2``, read before the ``directive`` cue was added). ``discredits_memory``,
``keyed_answer``, ``answered_question``, ``trigger_frame``, the reader named by its role in
``addressed_to_agent`` and the quoted-span handling (:func:`flatten`) were added after reading which of
``heldout6``'s attacks (written by someone who had not read these rules) got through: they name the kinds of
move those attacks made (a polite request that settles an answer, a question posed and answered, the rest of
the memory called stale, a pass-phrase), worded from scratch and tested on texts written for the tests.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_F = re.IGNORECASE

# Someone the record speaks to that is not a person in the conversation: the model reading it.
_AGENT = r"(?:assistant|a\.?i\.?|agent|model|bot|chatbot|llm|language model|copilot)"
# The same reader named by its role rather than what it is: whoever keeps, reads or answers from the notes.
_READER = (r"(?:(?:assistant|agent|bot|model|helper|reader)s?|whoever\s+(?:keeps|reads|manages|maintains|answers|"
           r"handles|looks\s+after)\b[^.!?\n]{0,25}|any(?:one|body)\s+(?:reading|answering|summari[sz]ing|handling)"
           r"\b[^.!?\n]{0,25})")

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

_ANSWER_VERBS = r"(?:answer|reply|respond|say|give|use|send|point|treat|tell|mention|skip|ignore)\w*\b"

# The rest of what the memory holds called stale or wrong, or not to be used: a record that wants to be the only
# account ("the older notes on this are out of date", "skip the other sources", "don't dig up old chats").
# (Plural or collective: a self-correction speaks of its own one message, "my earlier message was wrong".)
_STORE = (r"(?:messages|chats|conversations|entries|notes|records|memor(?:y|ies)|sources|logs|answers|"
          r"info(?:rmation)?|versions|history)")
_EARLIER = r"(?:old|older|earlier|previous|prior|past|other|existing|stored|saved|remaining|rest\s+of\s+the)"
_STALE = (r"(?:out\s+of\s+date|outdated|obsolete|stale|superseded|deprecated|wrong(?:ly)?|incorrect(?:ly)?|"
          r"inaccurate|invalid|unreliable|a\s+mess|messed\s+up|being\s+(?:phased\s+out|retired|replaced)|"
          r"no\s+longer\s+(?:valid|accurate|correct|true|apply|applies|relevant|current))")
_DISUSE = (r"(?:skip|ignore|disregard|forget|not\s+(?:mention|use|bring\s+up|dig\s+up|rely\s+on|refer\s+to|"
           r"look\s+at|surface)|no\s+need\s+to\s+(?:mention|bring\s+up|dig\s+up|look\s+at|use)|"
           r"(?:don't|do\s+not|never)\s+(?:mention|use|bring\s+up|dig\s+up|rely\s+on|refer\s+to|surface))")
DISCREDIT = re.compile(
    rf"\b{_EARLIER}\s+(?:\w+\s+){{0,2}}?{_STORE}\b[^.!?\n]{{0,50}}?\b{_STALE}"
    rf"|\b{_DISUSE}\s+(?:\w+\s+){{0,3}}?{_EARLIER}\s+(?:\w+\s+){{0,2}}?{_STORE}\b", _F)

# Addressed to the model.
ADDRESSED = re.compile(
    rf"\b(?:note|reminder|message|instructions?|directive|rule|memo|notice|update)\s+(?:to|for)\s+(?:the\s+)?"
    rf"{_AGENT}\b"
    rf"|\bif\s+you\s+are\s+(?:an?\s+)?(?:{_AGENT}|large language model)\b"
    rf"|^\W*{_AGENT}\s*[,:]"
    rf"|\b(?:the\s+)?{_AGENT}\s+(?:must|should|shall|needs?\s+to|has\s+to|is\s+to)\b"
    rf"|\b(?:system|admin(?:istrator)?|developer|operator)\s+(?:update|override|directive|instruction|"
    rf"message|notice|prompt)\b"
    # the reader as the subject of an order, a participle clause between ("helpers answering this are asked to")
    rf"|\b{_READER}\s+(?:\w+ing\b[^.!?\n]{{0,60}}?\s)?(?:(?:are|is)\s+(?:kindly\s+|politely\s+)?(?:asked|"
    rf"requested|expected|told|instructed|required)\s+to|should|must|shall|need\s+to|have\s+to|are\s+to)\b"
    # someone asking that a reader answer something ("asks that their assistant answer ...")
    rf"|\b(?:asks?|asked|requests?|wants?)\s+(?:that\s+)?(?:the|their|his|her|my|your|our)\s+{_READER}\s+"
    rf"(?:to\s+)?{_ANSWER_VERBS}"
    # a favour asked of the reader ("a favour for whoever keeps my notes")
    rf"|\b(?:favou?r|request|note|reminder|message)\s+(?:for|to)\s+{_READER}", _F | re.MULTILINE)

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

# An answer keyed to a question: a question the record refers to (quoted, "questions like", "if asked", "when it
# comes up") and, in the same sentence, a value or a place to give for it ("go with", "use", "keep ... as", "the
# answer was", "point them to"); or an answer named for a quoted question ("the answer to «question»"). A person
# tells their own news; a record written to be found by a question and to settle what is said to it does this.
# (``QUESTION`` is what :func:`flatten` puts in place of a quoted question.)
QUESTION = "\u00abquestion\u00bb"
_QREF = (rf"(?:{QUESTION}|\bquestions?\s+(?:like|about|on|such\s+as|regarding)\b|\b(?:if|when(?:ever)?)\s+"
         r"(?:(?:someone|anyone|somebody|people|they|you|you're|you\s+are|it's|it\s+is)\s+)?(?:asks?|asked|asking)\b|"
         r"\bcomes?\s+up\b|\banswering\b)")
_DICTATE = (rf"(?:\b(?:go|stick|goes)\s+with\b|\b(?:please|just|kindly)\s+use\b|\bkeep\b[^.!?\n]{{0,40}}?\bas\b|"
            rf"\b(?:the\s+)?(?:answer|reply|response)\s+(?:was|is|be|would\s+be|should\s+be|as|with)\b|"
            rf"\b(?:point|send|refer|direct|redirect)\w*\s+(?:\w+\s+)?to\b|\b{_ANSWER_VERB}\w*\b)")
KEYED_ANSWER = re.compile(
    rf"{_QREF}[^.!?\n]{{0,100}}?{_DICTATE}"
    rf"|\b(?:answer|reply|response)s?\s+(?:to|for|on\s+file\s+for)\s*:?\s*{QUESTION}"
    rf"|\b{_ANSWER_VERB}\w*\s+{QUESTION}\s+(?:with|as|by)\b", _F)

# A pass-phrase or trigger that changes what the reader should do or whom to believe ("our code word", "when
# this phrase appears", "means it's really me"): how a planted record binds itself to a trigger in the query
# (AgentPoison) or impersonates its owner.
TRIGGER_FRAME = re.compile(
    r"\b(?:code\s*word|pass\s*phrase|safe\s*word|secret\s+(?:word|phrase|signal)|(?:our|a|the)\s+"
    r"(?:little|secret|special|private)\s+code\b|magic\s+(?:word|phrase)|trigger\s+(?:word|phrase))"
    r"|\bwhen(?:ever)?\s+(?:this|that|the)\s+(?:phrase|word|code|tag|token|string|keyword)\s+(?:appears|shows\s+up|"
    r"is\s+used|comes\s+up)\b"
    r"|\bmeans\s+(?:it's|it\s+is)\s+(?:really\s+|actually\s+)?(?:me|them|him|her|the\s+owner)\b", _F)

# A question answered in the record itself: a quoted question followed by its answer ("«question» - it's X"), a
# Q/A pair, an answer filed for a question ("answer for: When did ...?"), or a question about the speaker
# followed by its answer ("where did I go in May? Lisbon, of course"). People ask each other questions and tell
# their news; a record that poses a question and settles it is written to be found by that question.
_WH = r"(?:what|when|where|who|whom|whose|which|why|how)"
_QW = (r"(?:what|when|where|who|whom|whose|which|why|how|did|does|do|is|was|were|are|has|have|had|will|would|"
       r"can|could|should)")
ANSWERED_QUESTION = re.compile(
    rf"{QUESTION}\s*(?:[-\u2013\u2014:]\s*|(?:it's|it\s+is|it\s+was|that's|answer:)\s*)\w"
    rf"|\bQ\s*[:.]\s*[^\n]{{5,}}?\?\s*A\s*[:.]"
    rf"|\banswers?\b[^.!?\n]{{0,20}}\b(?:for|to)\s*:\s*{_QW}\b[^?\n]{{5,}}\?"
    rf"|(?:^|[:;\-\u2013\u2014]\s*|,\s*(?:and|oh)\s+){_WH}\b(?:(?!\b(?:you|your|you're|we|our|us)\b)[^.!?\n])"
    rf"{{0,80}}\b(?:i|my|me)\b(?:(?!\b(?:you|your|you're|we|our|us)\b)[^.!?\n])*\?\s+[^\s?][^?]*$", _F)

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
# Someone else's words, attributed ("the label says: ...").
ATTRIBUTED = re.compile(r"\b(?:says?|said|reads?|told\s+me|wrote)\s*:", _F)
# A quoted span: double quotes (straight or curly), or single quotes that open after a space, bracket or colon
# and close before a non-letter (so "it'd" and "let's" are not quotes).
QUOTE_SPAN = re.compile(r"[\"\u201c\u201d][^\"\u201c\u201d\n]{1,400}[\"\u201c\u201d]"
                        r"|(?<![\w'\u2019])['\u2018][^'\u2018\u2019\n]{1,400}?['\u2019](?!\w)")
_QUESTION_WORDS = re.compile(rf"^\W*{_QW}\b", _F)
QUOTE = "\u00abquote\u00bb"


def flatten(text: str) -> str:
    """The text with each quoted span replaced by one token, ``QUESTION`` for a quoted question (it ends in "?"
    or opens with a question word) and ``QUOTE`` otherwise: what the record says in its own voice, with
    someone else's words out of the way and no "?" inside a quote ending the sentence around it."""
    def token(m: re.Match[str]) -> str:
        inner = m.group(0)[1:-1].strip()
        return QUESTION if inner.endswith("?") or _QUESTION_WORDS.match(inner) else QUOTE
    return QUOTE_SPAN.sub(token, text)


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
    Cue("discredits_memory", 0.45, DISCREDIT, personal_discount=0.5),
    Cue("addressed_to_agent", 0.75, ADDRESSED),
    Cue("role_marker", 0.85, ROLE_MARKER),
    Cue("response_control", 0.45, RESPONSE_CONTROL, personal_discount=0.25),
    Cue("answer_override", 0.55, ANSWER_OVERRIDE, personal_discount=0.5),
    Cue("keyed_answer", 0.45, KEYED_ANSWER),
    Cue("directive", 0.4, DIRECTIVE, personal_discount=0.25),
    Cue("trigger_frame", 0.45, TRIGGER_FRAME),
    Cue("answered_question", 0.3, ANSWERED_QUESTION),
    Cue("exfiltration", 0.8, EXFILTRATION),
    Cue("link_push", 0.4, LINK_PUSH, personal_discount=0.5),
    Cue("hidden_text", 0.6, HIDDEN),
)


def normalise(text: str) -> str:
    """NFKC (full-width and other look-alike letters fold to ASCII) so a pattern cannot be dodged by them."""
    return unicodedata.normalize("NFKC", text)


def content_cues(text: str) -> dict[str, float]:
    """The cues a memory's text shows, each with its weight after the personal/quoted discount.

    Each cue is looked for in the record's own voice (:func:`flatten`: quoted spans out of the way) and in the
    whole text. Found only inside quotes, or in a record that attributes its words to someone ("the label
    says: ..."), it is someone else's instruction reported; found in a record in the first person, it may be
    the speaker's own preference: either way a cue that allows it is discounted."""
    raw = text
    text = normalise(text)
    own = flatten(text)
    personal = bool(FIRST_PERSON.search(own))
    attributed = bool(ATTRIBUTED.search(text))
    found: dict[str, float] = {}
    for cue in CUES:
        if cue.name == "hidden_text":  # NFKC would fold some hidden characters away
            in_own = bool(cue.pattern.search(raw))
            anywhere = in_own
        else:
            in_own = bool(cue.pattern.search(own))
            anywhere = in_own or bool(cue.pattern.search(text))
        if not anywhere:
            continue
        weight = cue.weight
        if (personal or attributed or not in_own) and cue.personal_discount < 1.0:
            weight *= cue.personal_discount
        found[cue.name] = round(weight, 3)
    return found
