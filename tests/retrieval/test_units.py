"""Pure parts: query analysis, time ranges, BM25 IDF pruning, fusion, MMR, document vectors."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from memcube.repository.retrieval import Candidate, LexemeStats
from memos.retrieval.documents import blend, document_text
from memos.retrieval.fusion import Weights, mmr, rerank
from memos.retrieval.query import plan, strip_names
from memos.retrieval.rerank import merge_order
from memos.retrieval.service import bm25_idf
from memos.temporal import query_time_range

NOW = datetime(2024, 3, 10, tzinfo=UTC)


def test_names_are_stripped_and_one_named_speaker_is_kept() -> None:
    q = plan("When did Caroline's dog meet Melanie?", ["Caroline", "Melanie"])
    assert q.text == "When did dog meet ?"
    assert q.speaker is None  # two names: no single speaker to boost
    q = plan("What does caroline like?", ["Caroline", "Melanie"])
    assert (q.text, q.speaker, q.asks_time) == ("What does like?", "Caroline", False)
    assert strip_names("Caroline", ["Caroline"]) == "Caroline"  # nothing left: keep the query


def test_time_ranges() -> None:
    may = query_time_range("what happened in May 2023", NOW)
    assert may is not None
    assert (may.start, may.end) == (datetime(2023, 5, 1, tzinfo=UTC), datetime(2023, 6, 1, tzinfo=UTC))
    before = query_time_range("trips before June 2023", NOW)
    assert before is not None
    assert (before.start, before.end) == (None, datetime(2023, 6, 1, tzinfo=UTC))
    after = query_time_range("jobs after 2022", NOW)
    assert after is not None
    assert (after.start, after.end) == (datetime(2023, 1, 1, tzinfo=UTC), None)
    last = query_time_range("what did I read last year", NOW)
    assert last is not None
    assert last.start == datetime(2023, 1, 1, tzinfo=UTC)
    assert query_time_range("did she go in May?", NOW) is None
    assert plan("When did she move?", []).asks_time
    assert plan("How long has he run?", []).asks_time


def test_idf_drops_very_common_terms_but_never_all() -> None:
    stats = LexemeStats(docs=1000, avg_len=5.0, df={"dog": 3, "said": 800, "absent": 0})
    idf = bm25_idf(stats, 0.5)
    assert set(idf) == {"dog"}
    assert idf["dog"] > 2
    assert set(bm25_idf(LexemeStats(1000, 5.0, {"said": 800, "the": 950}), 0.5)) == {"said"}
    assert set(bm25_idf(LexemeStats(10, 5.0, {"said": 8, "dog": 1}), 0.5)) == {"said", "dog"}  # small cube
    assert bm25_idf(LexemeStats(0, 1.0, {}), 0.5) == {}


def _cand(i: int, dense: float, lexical: float, *, session: str = "s", prev: int | None = None,
          nxt: int | None = None, role: str | None = None, content: str = "x", cand: bool = True) -> Candidate:
    return Candidate(uuid.UUID(int=i), cand, session, NOW, role, content, None, False,
                     uuid.UUID(int=prev) if prev else None, uuid.UUID(int=nxt) if nxt else None, dense, lexical)


def test_rerank_neighbours_and_speaker() -> None:
    rows = [
        _cand(1, 0.50, 0.0, nxt=2, role="A"),
        _cand(2, 0.80, 1.0, prev=1, cand=False),  # a strong neighbour, fetched for smoothing only
        _cand(3, 0.55, 0.0, session="t", role="B"),
    ]
    q = plan("tell me", [])
    ranked = rerank(rows, q, Weights())
    assert [i.int for i, _ in ranked] == [1, 3]  # the neighbour lifts 1 above 3; 2 itself is not returned
    q = plan("what did B say", ["A", "B"])
    assert [i.int for i, _ in rerank(rows, q, Weights(neighbour=0))][0] == 3


def test_mmr_prefers_novel_items() -> None:
    a, b, c = (uuid.UUID(int=i) for i in (1, 2, 3))
    ranked = [(a, 1.0), (b, 0.99), (c, 0.8)]
    contents = {a: "the report is due friday", b: "the report is due friday", c: "lunch with sam"}
    assert [i for i, _ in mmr(ranked, contents, lam=1.0, k=2)] == [a, b]
    assert [i for i, _ in mmr(ranked, contents, lam=0.5, k=2)] == [a, c]


def test_document_vectors_blend_and_text() -> None:
    assert document_text("hi", "Ann") == "Ann: hi"
    assert document_text("hi", None) == "hi"
    v = blend(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 0.5)
    assert np.allclose(v, [2**-0.5, 2**-0.5])


def test_reranker_order_is_a_permutation() -> None:
    assert merge_order([2, 2, 9, 0], 4) == [2, 0, 1, 3]


def test_lexical_candidates_match_the_rarer_terms_in_large_cubes() -> None:
    from memos.retrieval.service import match_terms

    df = {"noah": 126, "quintero": 185, "get": 677, "work": 608}
    idf = dict.fromkeys(df, 1.0)
    # Rarest first while the document frequencies fit the budget; every term still scores the matches.
    assert match_terms(LexemeStats(10_000, 10.0, df), idf) == ["noah", "quintero", "work"]  # 919 <= 1,000
    # The rarest term is always matched, however common.
    assert match_terms(LexemeStats(100_000, 10.0, {"get": 6770}), {"get": 1.0}) == ["get"]
    # Small cubes match every term.
    assert sorted(match_terms(LexemeStats(500, 10.0, df), idf)) == sorted(df)


def test_two_common_names_are_matched_together_in_a_very_large_cube() -> None:
    from memos.retrieval.service import conjunctive, match_terms

    # 1M memories: each name is in 10-17k of them; alone, the rarer would make 12,000 rows to score.
    df = {"noah": 15_200, "quintero": 12_100, "get": 61_000, "work": 58_000}
    idf = dict.fromkeys(df, 1.0)
    stats = LexemeStats(1_000_000, 10.0, df)
    assert conjunctive(stats, idf)
    assert match_terms(stats, idf) == ["quintero", "noah"]
    # Not when the rarest fits the budget, nor with one term, nor in a small cube.
    assert not conjunctive(LexemeStats(1_000_000, 10.0, {**df, "quintero": 900}), idf)
    assert not conjunctive(stats, {"noah": 1.0})
    assert not conjunctive(LexemeStats(900, 10.0, df), idf)
