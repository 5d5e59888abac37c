"""A superseding fact closes the memory it replaces (a version, never a delete) and links to it; running a
job twice changes nothing."""

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


def test_a_superseded_fact_is_closed_not_deleted_and_names_its_successor(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Alice", "I live in Paris."), ("Alice", "I work at Acme."))
    run(sessions, first["job_id"], settings, embedder)
    second = post(client, cube_id, auth, ("Alice", "I moved to Berlin last month."),
                  ("Alice", "I no longer work at Acme."))
    job = run(sessions, second["job_id"], settings, embedder)
    assert job.result is not None
    assert [d["action"] for d in job.result["decisions"]] == ["UPDATE", "UPDATE"]
    # Valid now: the newer facts; the older ones are kept, out of the default listing and search.
    assert sorted(contents(client, cube_id, auth)) == ["Alice moved to Berlin in April 2023.",
                                                       "Alice no longer works at Acme."]
    assert sorted(contents(client, cube_id, auth, status="archived")) == ["Alice lives in Paris.",
                                                                          "Alice works at Acme."]
    assert contents(client, cube_id, auth, status="deleted") == []

    moved = job.result["decisions"][0]
    old_id, new_id = moved["target_id"], moved["memory_id"]
    history = client.get(f"/v1/memories/{old_id}/history", headers=auth).json()["versions"]
    assert [v["content"] for v in history] == ["Alice lives in Paris.", "Alice lives in Paris."]
    assert [v["status"] for v in history] == ["active", "archived"]
    closing = history[1]
    assert closing["metadata"]["superseded_by"] == new_id
    assert closing["metadata"]["valid_to"].startswith("2023-04-")  # the new fact's own time ("last month")
    assert closing["actor"] == "system:consolidation"
    assert "Alice moved to Berlin" in closing["reason"]
    (successor,) = client.get(f"/v1/memories/{new_id}/history", headers=auth).json()["versions"]
    assert successor["provenance"]["memory_ids"] == [old_id]
    assert successor["provenance"]["message_ids"] == [second["message_ids"][0]]
    assert successor["metadata"]["supersedes"] == old_id
    # The link says which fact replaced it, from the old one's side too.
    links = client.get(f"/v1/memories/{old_id}/links", headers=auth).json()["links"]
    assert [(x["type"], x["target_id"]) for x in links if x["type"] == "superseded_by"] == [
        ("superseded_by", new_id)]
    # A search answers with the fact valid now; asked for superseded facts, it finds the old one and its successor.
    hits = client.post(f"/v1/cubes/{cube_id}/search", json={"query": "Where does Alice live?"}, headers=auth).json()
    assert old_id not in {h["memory"]["id"] for h in hits["results"]}
    assert new_id in {h["memory"]["id"] for h in hits["results"]}
    old = client.post(f"/v1/cubes/{cube_id}/search", headers=auth, json={
        "query": "Where does Alice live?", "filters": {"status": ["archived"]}}).json()["results"]
    assert old[0]["memory"]["id"] == old_id
    assert old[0]["memory"]["metadata"]["superseded_by"] == new_id
    retraction = job.result["decisions"][1]
    assert "I no longer work at Acme" not in retraction["fact"]  # the resolved fact, not the raw turn
    assert retraction["fact"] == "Alice no longer works at Acme."


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
        assert [d["action"] for d in results[0]["decisions"]] == ["UPDATE", "ADD"]
        assert results[1] == {"skipped": "already applied"}
        assert (_versions(sessions), contents(client, cube_id, auth)) == before
    assert sorted(contents(client, cube_id, auth)) == ["Alice doesn't like tea anymore.", "Alice loves jazz."]


def _queued(sessions: sessionmaker[Session]) -> list[uuid.UUID]:
    from tests.consolidation.helpers import pending_jobs

    return [j.id for j in pending_jobs(sessions, "consolidation.messages")]
