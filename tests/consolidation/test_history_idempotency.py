"""UPDATE and DELETE write versions that name what they superseded; running a job twice changes nothing."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from memcube.models import MemoryVersion
from memcube.repository import jobs as jobs_repo
from memos.config import Settings
from memos.consolidation.service import consolidate
from memos.embedding import Embedder
from tests.consolidation.helpers import Auth, contents, post, run


def _versions(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        set_tenant(s, SYSTEM)
        n = int(s.scalar(select(func.count()).select_from(MemoryVersion)) or 0)
        s.rollback()
    return n


def test_update_and_delete_keep_history(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Alice", "I live in Paris."), ("Alice", "I work at Acme."))
    run(sessions, first["job_id"], settings, embedder)
    second = post(client, cube_id, auth, ("Alice", "I moved to Berlin last month."),
                  ("Alice", "I no longer work at Acme."))
    job = run(sessions, second["job_id"], settings, embedder)
    assert job.result is not None
    assert [d["action"] for d in job.result["decisions"]] == ["UPDATE", "DELETE"]
    assert contents(client, cube_id, auth) == ["Alice moved to Berlin in April 2023."]
    assert contents(client, cube_id, auth, status="deleted") == ["Alice works at Acme."]

    updated_id, deleted_id = (d["memory_id"] for d in job.result["decisions"])
    history = client.get(f"/v1/memories/{updated_id}/history", headers=auth).json()["versions"]
    assert [v["content"] for v in history] == ["Alice lives in Paris.", "Alice moved to Berlin in April 2023."]
    assert history[0]["valid_to"] is not None
    assert history[1]["valid_to"] is None
    assert history[1]["provenance"]["memory_ids"] == [updated_id]
    assert history[1]["provenance"]["message_ids"] == [second["message_ids"][0]]
    assert history[1]["actor"] == "system:consolidation"
    assert "supersedes version 1" in history[1]["reason"]
    assert "Paris" in history[1]["reason"]

    tomb = client.get(f"/v1/memories/{deleted_id}/history", headers=auth).json()["versions"]
    assert [v["status"] for v in tomb] == ["active", "deleted"]
    assert tomb[0]["valid_to"] is not None
    assert tomb[1]["provenance"]["memory_ids"] == [deleted_id]
    assert "I no longer work at Acme" not in tomb[1]["reason"]  # the resolved fact is quoted, not the raw turn
    assert "Alice no longer works at Acme" in tomb[1]["reason"]


def test_handler_twice_changes_nothing(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder, tenant: tuple[uuid.UUID, Auth],
) -> None:
    post(client, cube_id, auth, ("Alice", "I like tea."))
    accepted = post(client, cube_id, auth, ("Alice", "I don't like tea anymore."), ("Alice", "I love jazz."))
    tenant_id = tenant[0]
    for job_id in (None, accepted["job_id"]):
        if job_id is None:  # the first batch, through the runner
            (jid,) = [j for j in _queued(sessions) if j != uuid.UUID(accepted["job_id"])]
            run(sessions, jid, settings, embedder)
            continue
        results = []
        for _ in range(2):  # the handler itself, twice, as a redelivery after a lost ack would
            with sessions() as s:
                s.info["tenant_id"] = tenant_id
                job = jobs_repo.get_job(s, uuid.UUID(job_id))
                assert job is not None
                results.append(consolidate(s, job, settings=settings, embedder=embedder))
                s.commit()
            if len(results) == 1:
                before = (_versions(sessions), contents(client, cube_id, auth))
        assert [d["action"] for d in results[0]["decisions"]] == ["DELETE", "ADD"]
        assert results[1] == {"skipped": "already applied"}
        assert (_versions(sessions), contents(client, cube_id, auth)) == before
    assert contents(client, cube_id, auth) == ["Alice loves jazz."]


def _queued(sessions: sessionmaker[Session]) -> list[uuid.UUID]:
    from tests.consolidation.helpers import pending_jobs

    return [j.id for j in pending_jobs(sessions, "consolidation.messages")]
