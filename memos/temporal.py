"""Time in text: relative dates made absolute against the time a message was sent (consolidation and
ingest), and the time cues of a search query (retrieval).

"I went hiking yesterday" said on 2023-05-08 becomes "I went hiking on 7 May 2023", and the resolved
date is kept in the fact's metadata (``dates``: original phrase, ISO date, granularity), so both the
readable text and a machine-usable date survive. Phrases that are already absolute are left alone.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [m.lower() for m in calendar.month_name[1:]]
NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "a few": 3, "several": 3,
}
_NUM = r"(\d{1,3}|a couple of|a few|several|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_UNIT = r"(day|week|month|year)s?"
_WD = "(" + "|".join(WEEKDAYS) + ")"
_MON = "(" + "|".join(MONTHS) + ")"
# Words that make an undated weekday or month point forward rather than back.
_FUTURE = re.compile(r"\b(will|'ll|going to|gonna|plan(?:s|ning)? to|about to|next|upcoming|soon|tomorrow)\b",
                     re.IGNORECASE)
_PREPOSITIONS = {"since", "until", "till", "by", "from", "before", "after", "through", "to"}
# Non-ASCII letters that ``re.IGNORECASE`` matches to ASCII ones ("ſeven days ago", "yesterday" with a Kelvin
# sign): the phrase matched, so its words must be found in the tables too.
_ASCII_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _key(word: str) -> str:
    """A matched word as the lower-case ASCII key of the tables above."""
    return word.translate(_ASCII_FOLD).lower()


@dataclass(frozen=True)
class ResolvedDate:
    text: str  # the phrase as written
    value: date  # the first day of the period
    granularity: str  # day | week | month | year

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "date": self.value.isoformat(), "granularity": self.granularity}


def _day(d: date) -> str:
    return f"{d.day} {calendar.month_name[d.month]} {d.year}"


def _phrase(r: ResolvedDate, *, bare: bool) -> str:
    if r.granularity == "day":
        return _day(r.value) if bare else f"on {_day(r.value)}"
    if r.granularity == "week":
        return f"the week of {_day(r.value)}" if bare else f"in the week of {_day(r.value)}"
    if r.granularity == "month":
        label = f"{calendar.month_name[r.value.month]} {r.value.year}"
        return label if bare else f"in {label}"
    return str(r.value.year) if bare else f"in {r.value.year}"


def _add_months(d: date, months: int) -> date:
    total = d.year * 12 + (d.month - 1) + months
    return date(total // 12, total % 12 + 1, 1)


def _shift(ref: date, n: int, unit: str) -> ResolvedDate:
    if unit == "day":
        return ResolvedDate("", ref + timedelta(days=n), "day")
    if unit == "week":
        d = ref + timedelta(weeks=n)
        return ResolvedDate("", d - timedelta(days=d.weekday()), "week")
    if unit == "month":
        return ResolvedDate("", _add_months(ref, n), "month")
    return ResolvedDate("", date(ref.year + n, 1, 1), "year")


def _num(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[_key(word)]


def _weekday(ref: date, name: str, mode: str) -> date:
    target = WEEKDAYS.index(_key(name))
    if mode == "last":
        back = (ref.weekday() - target) % 7 or 7
        return ref - timedelta(days=back)
    if mode == "next":
        ahead = (target - ref.weekday()) % 7 or 7
        return ref + timedelta(days=ahead)
    # "this Friday": the one in the current week
    return ref - timedelta(days=ref.weekday()) + timedelta(days=target)


Resolver = Callable[[re.Match[str], date, bool], ResolvedDate | None]


def _rel_word(m: re.Match[str], ref: date, _f: bool) -> ResolvedDate:
    offsets = {"the day before yesterday": -2, "the day after tomorrow": 2, "yesterday": -1, "tomorrow": 1,
               "today": 0, "tonight": 0, "this morning": 0, "this afternoon": 0, "this evening": 0}
    return ResolvedDate("", ref + timedelta(days=offsets[_key(m.group(1))]), "day")


def _ago(m: re.Match[str], ref: date, _f: bool) -> ResolvedDate:
    return _shift(ref, -_num(m.group(1)), _key(m.group(2)))


def _in_n(m: re.Match[str], ref: date, _f: bool) -> ResolvedDate:
    return _shift(ref, _num(m.group(1)), _key(m.group(2)))


def _rel_period(m: re.Match[str], ref: date, _f: bool) -> ResolvedDate:
    n = {"last": -1, "past": -1, "previous": -1, "next": 1, "coming": 1, "this": 0}[_key(m.group(1))]
    unit = _key(m.group(2))
    if unit == "weekend":
        saturday = _weekday(ref, "saturday", "this") + timedelta(weeks=n)
        return ResolvedDate("", saturday, "day")
    return _shift(ref, n, unit)


def _rel_weekday(m: re.Match[str], ref: date, future: bool) -> ResolvedDate:
    mode = _key((m.group(1) or "").strip())
    if not mode or mode == "on":
        mode = "next" if future else "last"
    return ResolvedDate("", _weekday(ref, m.group(2), mode), "day")


def _month(m: re.Match[str], ref: date, future: bool) -> ResolvedDate | None:
    if m.group(2) == "may":  # "this may help": the modal verb, not the month
        return None
    mode = _key(m.group(1))
    month = MONTHS.index(_key(m.group(2))) + 1
    if m.group(3):  # "in May 2023": already absolute
        return None
    year = ref.year
    if mode in ("last", "past"):
        year = ref.year if month < ref.month else ref.year - 1
    elif mode == "next":
        year = ref.year if month > ref.month else ref.year + 1
    elif mode in ("in", "during") and month != ref.month:
        if future and month < ref.month:
            year += 1
        elif not future and month > ref.month:
            year -= 1
    return ResolvedDate("", date(year, month, 1), "month")


# Order matters: longer phrases first; overlapping later matches are dropped.
PATTERNS: list[tuple[re.Pattern[str], Resolver]] = [
    (re.compile(r"\b(the day before yesterday|the day after tomorrow)\b", re.I), _rel_word),
    (re.compile(rf"\b{_NUM} {_UNIT} ago\b", re.I), _ago),
    (re.compile(rf"\bin {_NUM} {_UNIT}(?:'? time)?\b", re.I), _in_n),
    (re.compile(r"\b(last|past|previous|next|coming|this) (week|month|year|weekend)\b", re.I), _rel_period),
    (re.compile(rf"\b(last |next |this |on )?{_WD}\b", re.I), _rel_weekday),
    (re.compile(rf"\b(in|during|last|past|next|this) {_MON}\b(,? \d{{4}})?", re.I), _month),
    (re.compile(r"\b(yesterday|tomorrow|today|tonight|this morning|this afternoon|this evening)\b", re.I),
     _rel_word),
]


def resolve_dates(text: str, ref: datetime | date) -> tuple[str, list[ResolvedDate]]:
    """Rewrite relative date phrases in ``text`` as absolute ones; return the text and what was resolved."""
    ref_day = ref.date() if isinstance(ref, datetime) else ref
    future = bool(_FUTURE.search(text))
    found: list[tuple[int, int, ResolvedDate]] = []
    for pattern, resolver in PATTERNS:
        for m in pattern.finditer(text):
            if any(s < m.end() and m.start() < e for s, e, _ in found):
                continue
            try:
                r = resolver(m, ref_day, future)
            except (OverflowError, ValueError):
                # Past either end of the calendar (year 1 "last year", 9999-12-31 "tomorrow"): there is no
                # such date, so the phrase is left as written.
                continue
            if r is not None:
                found.append((m.start(), m.end(), ResolvedDate(m.group(0), r.value, r.granularity)))
    if not found:
        return text, []
    found.sort(key=lambda x: x[0])
    out: list[str] = []
    pos = 0
    for start, end, r in found:
        before = text[pos:start]
        prev_word = before.rstrip().rsplit(" ", 1)[-1].lower() if before.strip() else ""
        # "on Friday" / "in May" carry their own preposition, which the replacement provides again.
        bare = prev_word in _PREPOSITIONS or prev_word in ("on", "in", "of", "during")
        out.append(before)
        out.append(_phrase(r, bare=bare))
        pos = end
    out.append(text[pos:])
    return "".join(out), [r for _, _, r in found]


# ---------------------------------------------------------------- mentions and query cues (retrieval)
_MONTH_ABBR = "jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekends?"
# Does a text talk about a time? Years, months, weekdays, relative words and periods (English).
TIME_MENTION = re.compile(
    rf"\b((19|20)\d\d|{'|'.join(MONTHS)}|{_MONTH_ABBR}|{_DAYS}|yesterday|today|tonight|tomorrow|ago|recently"
    r"|lately|last|next|this (week|month|year|summer|winter|spring|fall|morning|evening)"
    r"|(few|couple|several|\d+|one|two|three|four|five|six) (days?|weeks?|months?|years?)|since|soon|earlier"
    r"|week|month|year|years|summer|winter|spring|autumn|christmas|thanksgiving|birthday|holidays?|anniversary)\b",
    re.IGNORECASE,
)
# Is a query asking about time ("when", "what year", "how long", "before", ...)?
TIME_QUESTION = re.compile(
    r"\bwhen\b|\b(what|which) (year|month|day|date|time|week|season)\b|\bhow long\b|\bsince\b|\bbefore\b"
    r"|\bafter\b|\bfirst time\b|\bhow many (years|months|weeks|days)\b",
    re.IGNORECASE,
)


def mentions_time(text: str) -> bool:
    return bool(TIME_MENTION.search(text))


def asks_about_time(query: str) -> bool:
    return bool(TIME_QUESTION.search(query))


@dataclass(frozen=True)
class TimeRange:
    """A half-open interval [start, end) of event times a query points at; ``None`` = unbounded."""

    start: datetime | None
    end: datetime | None
    text: str


def _month_start(year: int, month: int) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


def _period(year: int, month: int | None) -> tuple[datetime, datetime]:
    if month is None:
        return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    nxt = _add_months(date(year, month, 1), 1)
    return _month_start(year, month), _month_start(nxt.year, nxt.month)


_MONTH_ANY = "(" + "|".join(MONTHS) + "|" + _MONTH_ABBR + r")\.?"
_ABSOLUTE = re.compile(rf"\b(in|during|before|after|since|until|by|of)?\s*(?:{_MONTH_ANY},?\s+)?((?:19|20)\d\d)\b",
                       re.IGNORECASE)
_RELATIVE = re.compile(r"\b(last|this|past|previous) (year|month|week)\b", re.IGNORECASE)


def _month_number(name: str) -> int:
    name = _key(name).rstrip(".")
    for i, full in enumerate(MONTHS, start=1):
        if full.startswith(name[:3]):
            return i
    raise ValueError(name)


def query_time_range(query: str, now: datetime | None = None) -> TimeRange | None:
    """The time range a query names, if any: "in May 2023", "during 2022", "before June 2023",
    "after 2022", "since March 2021", "last year" / "this month" (against ``now``). Only explicit years
    (or relative periods) count: "in May" alone is too ambiguous to restrict a search by. A relative period
    past either end of the calendar (``now`` in year 1 or 9999) names no range."""
    try:
        return _query_time_range(query, now)
    except (OverflowError, ValueError):
        return None


def _query_time_range(query: str, now: datetime | None) -> TimeRange | None:
    m = _ABSOLUTE.search(query)
    if m:
        prep = _key(m.group(1) or "in")
        month = _month_number(m.group(2)) if m.group(2) else None
        start, end = _period(int(m.group(3)), month)
        if prep in ("before", "until", "by"):
            return TimeRange(None, start if prep == "before" else end, m.group(0).strip())
        if prep in ("after", "since"):
            return TimeRange(end if prep == "after" else start, None, m.group(0).strip())
        return TimeRange(start, end, m.group(0).strip())
    r = _RELATIVE.search(query)
    if r:
        ref = (now or datetime.now(UTC)).astimezone(UTC)
        n = 0 if _key(r.group(1)) == "this" else -1
        unit = _key(r.group(2))
        if unit == "year":
            start, end = _period(ref.year + n, None)
        elif unit == "month":
            d = _add_months(ref.date(), n)
            start, end = _period(d.year, d.month)
        else:
            monday = ref.date() - timedelta(days=ref.weekday()) + timedelta(weeks=n)
            start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
            end = start + timedelta(weeks=1)
        return TimeRange(start, end, r.group(0))
    return None


def resolved_dates(text: str, ref: datetime | date | None) -> list[dict[str, Any]]:
    """What ``resolve_dates`` found in ``text`` against ``ref``, as JSON-ready dicts (none without ``ref``)."""
    if ref is None:
        return []
    return [r.as_dict() for r in resolve_dates(text, ref)[1]]
