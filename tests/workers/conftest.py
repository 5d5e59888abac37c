"""Fixtures for the background path: job handlers for tests, a Redis, worker processes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
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
