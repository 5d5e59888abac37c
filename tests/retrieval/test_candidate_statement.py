"""The candidate statement computes the query's BM25 inputs itself (statistics, idf with common-term pruning,
the match terms) in the same round trip as the candidates: it must choose exactly what the Python rules
(``bm25_idf``, ``match_terms``) choose from the same statistics, and score exactly as
``memos_lexical_matches`` does when given those inputs, in a cube large enough for pruning to apply."""

from __future__ import annotations

import random
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from memcube import schemas
from memcube.db import set_tenant
from memcube.models import Cube
from memcube.repository import retrieval as repo
from memcube.repository.memories import MemoryFilter
from memcube.repository.retrieval import or_tsquery
from memos.embedding import Embedder
from memos.memories.service import Limits, add_memories
from memos.retrieval.service import LEXICAL_MATCH_BUDGET, PRUNE_MIN_DOCS, bm25_idf, conjunctive, match_terms

COMMON = ["meeting", "project", "team"]  # in most memories: pruned in a large cube
MID = ["budget", "deadline", "review", "launch", "design", "hiring"]
RARE = ["zeppelin", "quokka", "marzipan", "obsidian"]
BM25 = repo.Bm25(k1=1.2, b=0.4, max_df_ratio=0.5, prune_min_docs=PRUNE_MIN_DOCS, match_budget=LEXICAL_MATCH_BUDGET,
                 n_lexical=50, lexical_fetch=200)
QUERIES = ["meeting about the project team", "budget review meeting", "the zeppelin launch deadline",
           "quokka marzipan design hiring project", "nothing matches xylophone", "", "team meeting project"]


def _contents(n: int, seed: int) -> list[str]:
    r = random.Random(seed)
    out = []
    for i in range(n):
        words = r.sample(COMMON, 2) + r.sample(MID, r.randint(1, 3))
        if i % 97 == 0:
            words.append(r.choice(RARE))
        r.shuffle(words)
        out.append(" ".join(words) + f" note {i}")
    return out


class FakeEmbedder:
    """Never called: the test gives the vectors."""


@pytest.fixture
def cube(client: TestClient, make_tenant: object, sessions: sessionmaker[Session]) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id, auth = make_tenant("stats")  # type: ignore[operator]
    cube_id = uuid.UUID(client.post("/v1/cubes", json={"name": "big"}, headers=auth).json()["id"])
    rng = np.random.default_rng(3)
    contents = _contents(PRUNE_MIN_DOCS + 200, seed=5)
    with sessions() as session:
        set_tenant(session, tenant_id)
        c = session.get(Cube, cube_id)
        assert c is not None
        for k in range(0, len(contents), 500):
            part = contents[k:k + 500]
            vecs = rng.standard_normal((len(part), 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            add_memories(session, c, [schemas.MemoryCreate(content=t) for t in part], actor="test",
                         limits=Limits(max_batch_size=1_000), embedder=FakeEmbedder(),  # type: ignore[arg-type]
                         embeddings=list(vecs))
        session.commit()
    return tenant_id, cube_id


def _two_step_scores(session: Session, cube_id: uuid.UUID, idf: dict[str, float], match: list[str],
                     avg_len: float, *, all_of: bool = False) -> dict[uuid.UUID, float]:
    """BM25 as the two-statement path computed it: inputs from Python, matching by the same function."""
    lexemes = list(idf)
    rows = session.execute(
        text("SELECT memory_id, score FROM memos_lexical_matches(CAST(:cubes AS uuid[]), to_tsquery('simple', :tsq),"
             " CAST(:lx AS text[]), CAST(:idf AS double precision[]), ARRAY['active'], :avgdl, 1.2, 0.4, NULL)"),
        {"cubes": [cube_id], "tsq": or_tsquery(match, all_of=all_of), "lx": lexemes, "idf": [idf[x] for x in lexemes],
         "avgdl": max(avg_len, 1e-9)},
    ).all()
    return {r[0]: r[1] for r in rows}


def test_the_statement_chooses_and_scores_as_the_python_rules(
    sessions: sessionmaker[Session], cube: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_id, cube_id = cube
    with sessions() as session:
        set_tenant(session, tenant_id)
        flt = MemoryFilter(cube_ids=[cube_id], statuses=["active"], kind="plaintext")
        for query in QUERIES:
            found = repo.candidates(session, flt, cube_id=cube_id, query=query, vector=None, bm25=BM25, n_dense=0,
                                    neighbours=False)
            assert found.stats.docs == PRUNE_MIN_DOCS + 200
            if query:
                assert [found.stats] == repo.lexeme_stats_many(session, cube_id, [query])
            idf = bm25_idf(found.stats, BM25.max_df_ratio)
            assert found.idf == idf, query  # the same floats, not merely close
            assert found.match == (match_terms(found.stats, idf, BM25.match_budget) if idf else []), query
            assert found.conjunctive == conjunctive(found.stats, idf, BM25.match_budget), query
            if not idf:
                assert found.rows == [], query
                continue
            assert found.match, "a query with kept terms matches some"
            expected = _two_step_scores(session, cube_id, idf, found.match, found.stats.avg_len)
            best = sorted(expected.values(), reverse=True)[:BM25.n_lexical]
            got = sorted((r.lexical for r in found.rows if r.is_candidate), reverse=True)
            assert got == best, query
            for r in found.rows:
                assert r.lexical == expected[r.id], query
        session.rollback()


def test_common_terms_are_pruned_and_the_rarest_kept_alone(
    sessions: sessionmaker[Session], cube: tuple[uuid.UUID, uuid.UUID]
) -> None:
    tenant_id, cube_id = cube
    with sessions() as session:
        set_tenant(session, tenant_id)
        flt = MemoryFilter(cube_ids=[cube_id], statuses=["active"], kind="plaintext")
        found = repo.candidates(session, flt, cube_id=cube_id, query="team meeting project budget", vector=None,
                                bm25=BM25, n_dense=0, neighbours=False)
        assert set(found.idf) == {"budget"}
        only_common = repo.candidates(session, flt, cube_id=cube_id, query="team meeting project", vector=None,
                                      bm25=BM25, n_dense=0, neighbours=False)
        # every term is in more than half the cube: the rarest alone (ties by lexeme) is kept
        dfs = only_common.stats.df
        assert list(only_common.idf) == [min(dfs, key=lambda x: (dfs[x], x))]
        session.rollback()


def test_an_empty_cube_returns_its_statistics_and_no_rows(
    client: TestClient, make_tenant: object, sessions: sessionmaker[Session], embedder: Embedder
) -> None:
    tenant_id, auth = make_tenant("empty")  # type: ignore[operator]
    cube_id = uuid.UUID(client.post("/v1/cubes", json={"name": "e"}, headers=auth).json()["id"])
    with sessions() as session:
        set_tenant(session, tenant_id)
        flt = MemoryFilter(cube_ids=[cube_id], statuses=["active"], kind="plaintext")
        found = repo.candidates(session, flt, cube_id=cube_id, query="anything at all",
                                vector=embedder.embed_one("anything at all").tolist(), bm25=BM25, n_dense=10)
        assert (found.rows, found.speakers, found.idf, found.stats.docs) == ([], [], {}, 0)
        lexical = repo.lexical_matches(session, flt, cube_id=cube_id, query="anything at all", bm25=BM25)
        split = repo.candidates(session, flt, cube_id=cube_id, query="anything at all",
                                vector=embedder.embed_one("anything at all").tolist(), bm25=BM25, n_dense=10,
                                lexical=lexical)
        assert (split.rows, split.speakers, split.idf, split.stats.docs) == ([], [], {}, 0)


def _row_key(r: repo.Candidate) -> tuple[object, ...]:
    return (r.id, r.is_candidate, r.prev_id, r.next_id, round(r.dense, 9), round(r.lexical, 9))


def test_the_split_path_finds_what_the_single_statement_finds(
    sessions: sessionmaker[Session], cube: tuple[uuid.UUID, uuid.UUID]
) -> None:
    """Hybrid search reads the lexical matches first (while the query is embedded), then hands them to the
    candidate statement: the same statistics, the same rows with the same scores as one statement, also where
    many matches tie at the cut (the cube's memories share terms, so equal scores are common)."""
    tenant_id, cube_id = cube
    rng = np.random.default_rng(11)
    with sessions() as session:
        set_tenant(session, tenant_id)
        flt = MemoryFilter(cube_ids=[cube_id], statuses=["active"], kind="plaintext")
        for query in QUERIES:
            vector = rng.standard_normal(384)
            vector = (vector / np.linalg.norm(vector)).tolist()
            single = repo.candidates(session, flt, cube_id=cube_id, query=query, vector=vector, bm25=BM25,
                                     n_dense=20)
            lexical = repo.lexical_matches(session, flt, cube_id=cube_id, query=query, bm25=BM25)
            split = repo.candidates(session, flt, cube_id=cube_id, query=query, vector=vector, bm25=BM25,
                                    n_dense=20, lexical=lexical)
            assert (split.stats, split.idf, split.match, split.speakers) == \
                (single.stats, single.idf, single.match, single.speakers), query
            assert sorted(map(_row_key, split.rows)) == sorted(map(_row_key, single.rows)), query
            if single.idf:
                assert sum(r.is_candidate and r.lexical > 0 for r in split.rows) >= BM25.n_lexical // 2, query
        session.rollback()


def test_when_the_rarest_term_passes_the_budget_candidates_need_the_two_rarest(
    sessions: sessionmaker[Session], cube: tuple[uuid.UUID, uuid.UUID]
) -> None:
    """A budget below every mid term's frequency: "budget review deadline" matches the memories with its two
    rarest terms together (the AND of their posting lists), scored with all three, as the Python rules say."""
    tenant_id, cube_id = cube
    small = repo.Bm25(**{**BM25.__dict__, "match_budget": 100})
    with sessions() as session:
        set_tenant(session, tenant_id)
        flt = MemoryFilter(cube_ids=[cube_id], statuses=["active"], kind="plaintext")
        for query in ("budget review deadline", "launch design", "zeppelin budget", "hiring"):
            found = repo.candidates(session, flt, cube_id=cube_id, query=query, vector=None, bm25=small,
                                    n_dense=0, neighbours=False)
            idf = bm25_idf(found.stats, small.max_df_ratio)
            assert found.match == match_terms(found.stats, idf, small.match_budget), query
            rarest = min(found.stats.df[x] for x in idf)
            # a rare term keeps its OR rule; one term alone cannot be paired
            assert found.conjunctive == (rarest > 100 and len(idf) >= 2), query
            expected = _two_step_scores(session, cube_id, idf, found.match, found.stats.avg_len,
                                        all_of=found.conjunctive)
            for r in found.rows:
                assert r.lexical == expected[r.id], query
            if found.conjunctive:
                assert len(found.match) == 2
                for r in found.rows:
                    words = set(session.execute(text("SELECT tsvector_to_array(tsv) FROM memories WHERE id = :i"),
                                                {"i": r.id}).scalar_one())
                    assert set(found.match) <= words, query
                assert len(expected) < rarest  # fewer rows than the rarest term alone
            lexical = repo.lexical_matches(session, flt, cube_id=cube_id, query=query, bm25=small)
            assert (lexical.match, lexical.conjunctive) == (found.match, found.conjunctive)
        session.rollback()
