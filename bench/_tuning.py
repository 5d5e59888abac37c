"""Two-fold cross-validation of the hybrid search settings for ``bench/locomo.py``.

The knobs are the ones that were set while looking at LoCoMo (``memos/config.py``): the ingest-time
``context_weight`` and the query-time fusion weight and boosts. The grid below is their full product.

Why the grid can be scored without a service restart per configuration: hybrid search fetches one candidate
set (dense top 50 + BM25 top 50 + their session neighbours, :func:`memcube.repository.retrieval.candidates`)
that none of the query-time weights changes, then re-ranks it with the pure function
:func:`memos.retrieval.fusion.rerank`. So for each question the bench fetches that set once, from the
service's database with the service's own functions (:func:`capture`, which mirrors the hybrid branch of
:func:`memos.retrieval.service.search`), and re-ranks it with ``fusion.rerank`` per configuration. The
``context_weight`` changes the stored vectors, so each of its values gets its own ingest. The figures that
are reported for a chosen configuration are then measured through the REST API, on a service restarted
with that configuration; the bench also prints how often the captured re-ranking at the shipped defaults
returns the same top 10 as the API, as a check that :func:`capture` matches the service.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from _common import Service
from _locomo import HEADLINE_CATS, Question, Row, score_ranking
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from tqdm import tqdm

from api.state import AppState
from memcube import schemas
from memcube.db import tenant_session
from memcube.models import Cube
from memcube.repository.retrieval import Candidate
from memos import temporal
from memos.config import Settings
from memos.embedding import Embedder
from memos.retrieval import fusion
from memos.retrieval import service as retrieval
from memos.retrieval.query import QueryPlan

# Setting name -> values tried. Each list holds the shipped default (checked in main), a value below and,
# where it is a boost, one above. 2 x 3 x 3 x 3 x 3 x 2 x 3 = 972 configurations.
GRID: dict[str, tuple[float, ...]] = {
    "context_weight": (0.0, 0.5),  # ingest time: one ingest per value
    "search_dense_weight": (0.3, 0.5, 0.7),
    "search_neighbour_weight": (0.0, 0.3, 0.6),
    "search_speaker_boost": (0.0, 0.2, 0.4),
    "search_time_boost": (0.0, 0.2, 0.4),
    "search_range_boost": (0.0, 0.2),
    "search_session_boost": (0.0, 0.2, 0.4),
}
INGEST_KNOB = "context_weight"
QUERY_KNOBS = [k for k in GRID if k != INGEST_KNOB]

Config = tuple[tuple[str, float], ...]  # ((setting, value), ...) in GRID order


def defaults() -> Config:
    fields = Settings.model_fields
    return tuple((k, float(fields[k].default)) for k in GRID)


def configurations() -> list[Config]:
    return [tuple(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]


def env_of(config: Config) -> dict[str, str]:
    """The service environment that runs ``config``."""
    return {f"MEMOS_{k.upper()}": repr(v) for k, v in config}


def describe(config: Config) -> str:
    short = {"context_weight": "ctx", "search_dense_weight": "dense", "search_neighbour_weight": "nb",
             "search_speaker_boost": "spk", "search_time_boost": "time", "search_range_boost": "range",
             "search_session_boost": "sess"}
    return " ".join(f"{short.get(k, k)}={v:g}" for k, v in config)


def weights_of(config: Config) -> fusion.Weights:
    c = dict(config)
    return fusion.Weights(dense=c["search_dense_weight"], neighbour=c["search_neighbour_weight"],
                          speaker=c["search_speaker_boost"], time=c["search_time_boost"],
                          time_range=c["search_range_boost"], session=c["search_session_boost"])


@dataclass(frozen=True)
class Captured:
    """A question's query plan and candidate rows (as the service fetched them), and turn ids by memory."""

    question: Question
    plan: QueryPlan
    rows: list[Candidate]
    dia: dict[uuid.UUID, str]


def capture(
    sessions: sessionmaker[Session], tenant_id: str, cube_ids: list[str], questions: list[Question],
    embedder: Embedder, settings: Settings,
) -> list[Captured]:
    """Each question's hybrid candidate set, fetched as :func:`memos.retrieval.service.search` fetches it.
    ``sessions`` and ``embedder`` come from :func:`service_state`, so the login, the tenant context and the
    model are the service's own."""
    with tenant_session(sessions, tenant_id) as session:
        cubes = [session.get(Cube, uuid.UUID(c)) for c in cube_ids]
        dia: list[dict[uuid.UUID, str]] = []
        for c in cube_ids:
            rows = session.execute(text("SELECT id, metadata->>'dia_id' AS dia FROM memories WHERE cube_id = :c"),
                                   {"c": c}).all()
            dia.append({r._mapping["id"]: str(r._mapping["dia"]) for r in rows})
    out: list[Captured] = []
    for q in tqdm(questions, desc="capture candidates", unit="q", leave=False):
        cube = cubes[q.conv]
        assert cube is not None
        with tenant_session(sessions, tenant_id) as session:
            out.append(Captured(q, *_hybrid_candidates(session, cube, q.text, embedder, settings), dia[q.conv]))
    return out


@contextlib.contextmanager
def service_state(svc: Service) -> Iterator[AppState]:
    """The running service's state built again in the bench process (:func:`api.app.build_state` on the same
    ``MEMOS_HOME``: it attaches to the service's embedded database, logs in as ``memos_app`` and signs the
    tenant context with the service's key, and loads the same embedder). ``resolve``, not ``prepare``: the
    service has set the database up already."""
    from api.app import build_state
    from memos.database import resolve

    os.environ.setdefault("XDG_RUNTIME_DIR", str(svc.home))
    settings = Settings(home=svc.home, admin_key=svc.admin_key, run_workers=False, embedding_threads=1)
    state = build_state(settings, resolve(settings))
    try:
        yield state
    finally:
        bind = state.sessions.kw.get("bind")
        if bind is not None:
            bind.dispose()


def _hybrid_candidates(
    session: Session, cube: Cube, query: str, embedder: Embedder, s: Settings, top_k: int = 10
) -> tuple[QueryPlan, list[Candidate]]:
    """The service's own candidate fetch (no filters, as the API's default search)."""
    req = schemas.SearchRequest(query=query, top_k=top_k)
    return retrieval.hybrid_candidates(session, cube, req, retrieval.build_filter(cube, None), embedder=embedder,
                                       settings=s)


def rerank_top10(c: Captured, w: fusion.Weights) -> list[str]:
    return [c.dia[i] for i, _ in fusion.rerank(c.rows, c.plan, w)[:10]]


def evaluate(captured: Sequence[Captured], configs: Iterable[Config]) -> dict[Config, list[Row]]:
    """Per-question rows of every configuration (same question order as ``captured``)."""
    # mentions_time is a pure regex test that rerank repeats for every configuration: memoise it here.
    fusion.mentions_time = functools.lru_cache(maxsize=None)(temporal.mentions_time)  # type: ignore[assignment]
    configs = list(configs)
    out: dict[Config, list[Row]] = {}
    for config in tqdm(configs, desc="grid", unit="config", leave=False):
        w = weights_of(config)
        out[config] = [score_ranking(c.question, rerank_top10(c, w)) for c in captured]
    return out


def mean_r10_mrr(rows: Iterable[Row], convs: Iterable[int]) -> tuple[float, float]:
    keep = set(convs)
    sel = [r for r in rows if r.conv in keep and r.category in HEADLINE_CATS]
    if not sel:
        return float("nan"), float("nan")
    return sum(r.r10 for r in sel) / len(sel), sum(r.rr for r in sel) / len(sel)


def choose(results: dict[Config, list[Row]], train: Iterable[int]) -> tuple[Config, float]:
    """The configuration with the best recall@10 (categories 1-4) on the ``train`` conversations; ties go to
    the higher MRR, then to the earlier configuration in grid order."""
    train = list(train)
    scored = [(mean_r10_mrr(rows, train), i, config) for i, (config, rows) in enumerate(results.items())]
    (r10, _), _, best = max(scored, key=lambda t: (t[0][0], t[0][1], -t[1]))
    return best, r10


def sensitivity(results: dict[Config, list[Row]], base: Config) -> list[list[str]]:
    """Recall@10 (categories 1-4) with one knob moved through its grid values and the others at ``base``:
    on conversations 0-4, 5-9 and all 10 (captured re-ranking; in-sample, for reading, not choosing)."""
    rows = []
    for k in GRID:
        for v in GRID[k]:
            config = tuple((name, v if name == k else value) for name, value in base)
            if config not in results:
                continue
            figures = [mean_r10_mrr(results[config], convs)[0] for convs in (range(5), range(5, 10), range(10))]
            rows.append([k, f"{v:g}" + (" (default)" if config == base else ""), *(f"{x:.3f}" for x in figures)])
    return rows

