"""Properties of :mod:`memos.temporal` over arbitrary text and the whole calendar (year 1 to 9999, naive and
aware): relative dates resolve or are left as written, never raise; what resolves is a real date that the
rewritten text names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from memos.temporal import query_time_range, resolve_dates, resolved_dates

# Phrases the resolvers act on, in the case variants ``re.IGNORECASE`` also matches (the dotted and dotless
# i, the long s, the Kelvin sign), so that matching and the table lookups are tested together.
_WORDS = [
    "yesterday", "tomorrow", "today", "tonight", "this morning", "the day before yesterday",
    "the day after tomorrow", "last week", "next month", "this year", "past year", "coming weekend",
    "last weekend", "next year", "see you next year", "last friday", "next sunday", "this monday", "on tuesday",
    "wednesday", "in may", "during december", "last january", "next march", "in june 2023", "this may help",
    "3 days ago", "999 years ago", "a couple of weeks ago", "several months ago", "in 999 years",
    "in a few days' time", "in twelve months", "since", "before", "will", "going to",
]
_LOOKALIKES = {"i": ["I", "\u0130", "\u0131"], "s": ["S", "\u017f"], "k": ["K", "\u212a"]}


@st.composite
def cased(draw: st.DrawFn, phrase: str) -> str:
    return "".join(draw(st.sampled_from([c, c.upper(), *_LOOKALIKES.get(c, [])])) for c in phrase)


phrases = st.sampled_from(_WORDS).flatmap(cased)
texts = st.lists(st.one_of(phrases, st.text(max_size=12)), max_size=6).map(" ".join)
edge_days = st.sampled_from([date.min, date.min + timedelta(days=3), date.max, date.max - timedelta(days=3),
                             date(9999, 1, 1), date(1, 12, 31)])
naive_times = st.one_of(st.datetimes(), edge_days.map(lambda d: datetime(d.year, d.month, d.day)),
                        st.sampled_from([datetime.min, datetime.max]))
aware_times = st.one_of(
    st.datetimes(timezones=st.timezones()),
    st.builds(lambda t, minutes: t.replace(tzinfo=timezone(timedelta(minutes=minutes))),
              st.sampled_from([datetime.min, datetime.max]), st.integers(-23 * 60 - 59, 23 * 60 + 59)),
)
refs = st.one_of(naive_times, aware_times, st.dates(), edge_days)


@given(text=texts, ref=refs)
@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@example(text="see you next year", ref=date.max)
@example(text="last year, yesterday, 3 days ago, last monday", ref=date.min)
@example(text="in 999 years", ref=datetime(9000, 1, 1))
@example(text="\u017feven days ago on the day after tomorrow", ref=datetime.max.replace(tzinfo=UTC))
def test_resolve_dates_never_raises_and_names_what_it_resolved(text: str, ref: datetime | date) -> None:
    out, found = resolve_dates(text, ref)
    if not found:
        assert out == text
    for r in found:
        assert date.min <= r.value <= date.max
        assert r.text in text
        assert r.granularity in {"day", "week", "month", "year"}
        assert str(r.value.year) in out
    assert [d["text"] for d in resolved_dates(text, ref)] == [r.text for r in found]


@given(query=texts, now=st.one_of(st.none(), naive_times, aware_times))
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@example(query="what did I do this year", now=datetime.max.replace(tzinfo=UTC))
@example(query="last month", now=datetime.min.replace(tzinfo=UTC))
@example(query="this week", now=datetime(9999, 12, 31, tzinfo=UTC))
@example(query="last week", now=datetime(1, 1, 2, tzinfo=timezone(timedelta(hours=5))))
def test_query_time_range_never_raises(query: str, now: datetime | None) -> None:
    r = query_time_range(query, now)
    if r is not None:
        assert r.start is not None or r.end is not None
        if r.start is not None and r.end is not None:
            assert r.start < r.end


@pytest.mark.parametrize(
    ("text", "ref", "expected"),
    [
        ("see you next year", date(9999, 6, 1), "see you next year"),  # no year 10000: left as written
        ("see you next year", date(9998, 6, 1), "see you in 9999"),
        ("I went there yesterday", date(1, 1, 1), "I went there yesterday"),
        ("I went there yesterday", date(1, 1, 2), "I went there on 1 January 1"),
        ("back tomorrow", date(9999, 12, 31), "back tomorrow"),
        ("ſeven days ago", date(2024, 1, 10), "on 3 January 2024"),
    ],
)
def test_edges_of_the_calendar(text: str, ref: date, expected: str) -> None:
    assert resolve_dates(text, ref)[0] == expected
