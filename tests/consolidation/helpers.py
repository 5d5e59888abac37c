"""Helpers for consolidation and linking tests: post messages through the API, run the job in-process
through the real runner (same transaction rules as the worker)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from memcube.models import Job
from memcube.repository import jobs as jobs_repo
from memos.config import Settings
from memos.consolidation.offline import OfflineConsolidator
from memos.consolidation.types import Candidate, Fact, Turn
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job

Auth = dict[str, str]
TS = "2023-05-08T14:00:00Z"  # a Monday


def post(client: TestClient, cube_id: str, auth: Auth, *turns: tuple[str, str], **body: Any) -> dict[str, Any]:
    """Post (name, content) user turns; returns the 202 body."""
    messages = [{"role": "user", "name": name, "content": content, "timestamp": TS} for name, content in turns]
    r = client.post(f"/v1/cubes/{cube_id}/messages", json={"messages": messages, **body}, headers=auth)
    assert r.status_code == 202, r.text
    out: dict[str, Any] = r.json()
    return out


def run(sessions: sessionmaker[Session], job_id: str | uuid.UUID, settings: Settings,
        embedder: Embedder) -> Job:
    """Run the job through the real runner, then return its row."""
    status = run_job(sessions, job_id, JobContext(settings=settings, embedder=embedder))
    job = get_job(sessions, job_id)
    assert status == "succeeded", (status, job.error)
    return job


def get_job(sessions: sessionmaker[Session], job_id: str | uuid.UUID) -> Job:
    with sessions() as s:
        set_tenant(s, SYSTEM)
        job = jobs_repo.get_job(s, uuid.UUID(str(job_id)))
        assert job is not None
        s.expunge(job)
        s.rollback()
    return job


def pending_jobs(sessions: sessionmaker[Session], job_type: str) -> list[Job]:
    from sqlalchemy import select

    with sessions() as s:
        set_tenant(s, SYSTEM)
        jobs = list(s.scalars(select(Job).where(Job.type == job_type, Job.status == "queued")
                              .order_by(Job.created_at)))
        for j in jobs:
            s.expunge(j)
        s.rollback()
    return jobs


def contents(client: TestClient, cube_id: str, auth: Auth, status: str = "active") -> list[str]:
    r = client.get(f"/v1/cubes/{cube_id}/memories", params={"status": status, "limit": 100}, headers=auth)
    assert r.status_code == 200, r.text
    return [m["content"] for m in r.json()["memories"]]


def one_turn(embedder: Embedder, existing: list[str], said: str, speaker: str
             ) -> tuple[OfflineConsolidator, list[Fact], list[list[Candidate]]]:
    """The offline consolidator, the facts of the turn ``said`` (embedded) and, for each, every one of
    ``existing`` as a candidate with its cosine (what a search would hand the decision)."""
    c = OfflineConsolidator(embedder)
    facts = c.extract([Turn("user", said, speaker, datetime(2023, 5, 8, 14, tzinfo=UTC))])
    vectors = embedder.embed([f.text for f in facts] + existing)
    for f, v in zip(facts, vectors, strict=False):
        f.vector = v
    old = vectors[len(facts):]
    candidates = [[Candidate(f"m{j}", text, float(f.vector @ old[j]))  # type: ignore[operator]
                   for j, text in enumerate(existing)] for f in facts]
    return c, facts, candidates
