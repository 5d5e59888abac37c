"""A backlog of one cube's consolidation jobs is run in one pass, in posting order, exactly once."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from memcube.db import SYSTEM, set_tenant
from memcube.models import Job
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.consolidation.helpers import Auth, contents, get_job, pending_jobs, post, run


def _dispatch(sessions: sessionmaker[Session], *job_ids: str) -> None:
    """As the relay does: the jobs are now waiting in the broker."""
    with sessions() as s:
        set_tenant(s, SYSTEM)
        s.execute(update(Job).where(Job.id.in_([uuid.UUID(j) for j in job_ids])).values(dispatched_at=Job.created_at))
        s.commit()


def test_a_dispatched_backlog_runs_in_one_pass_in_order(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Alice", "I live in Paris."))
    second = post(client, cube_id, auth, ("Alice", "I moved to Berlin."), ("Alice", "I love jazz."))
    third = post(client, cube_id, auth, ("Alice", "I don't like jazz anymore."))
    _dispatch(sessions, first["job_id"], second["job_id"], third["job_id"])

    # The middle job's delivery arrives first: it still applies the batches in the order they were posted.
    lead = run(sessions, second["job_id"], settings, embedder)
    assert lead.result is not None
    assert sorted(lead.result["coalesced"]) == sorted([first["job_id"], third["job_id"]])
    assert [d["action"] for d in lead.result["decisions"]] == ["UPDATE", "ADD"], lead.result
    for other, actions in ((first, ["ADD"]), (third, ["UPDATE"])):
        job = get_job(sessions, other["job_id"])
        assert job.status == "succeeded"
        assert job.attempts == 1
        assert job.result is not None
        assert job.result["coalesced_into"] == second["job_id"]
        assert [d["action"] for d in job.result["decisions"]] == actions
    now = ["Alice doesn't like jazz anymore.", "Alice moved to Berlin."]
    assert sorted(contents(client, cube_id, auth)) == now
    assert sorted(contents(client, cube_id, auth, status="archived")) == ["Alice lives in Paris.", "Alice loves jazz."]
    assert len(pending_jobs(sessions, "linking.link")) == 1  # one linking job for the whole pass

    # Their own deliveries come later and change nothing.
    ctx = JobContext(settings=settings, embedder=embedder)
    assert run_job(sessions, first["job_id"], ctx) == "succeeded"
    assert run_job(sessions, third["job_id"], ctx) == "succeeded"
    assert sorted(contents(client, cube_id, auth)) == now


def test_jobs_not_yet_dispatched_are_left_to_their_own_run(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    first = post(client, cube_id, auth, ("Bob", "I work at Initech."))
    second = post(client, cube_id, auth, ("Bob", "I love chess."))
    job = run(sessions, first["job_id"], settings, embedder)
    assert job.result is not None
    assert "coalesced" not in job.result
    assert get_job(sessions, second["job_id"]).status == "queued"


BACKLOG = [
    [("Alice", "I live in Paris."), ("Bob", "I work at Initech.")],
    [("Alice", "I love jazz."), ("Bob", "My favourite food is sushi.")],
    [("Alice", "I moved to Berlin."), ("Bob", "I love chess.")],
    [("Alice", "I don't like jazz anymore."), ("Bob", "I work for Globex now.")],
    [("Bob", "I love chess."), ("Alice", "I live in Berlin.")],
]


def test_a_coalesced_backlog_decides_as_the_jobs_would_one_by_one(
    client: TestClient, auth: Auth, sessions: sessionmaker[Session], settings: Settings, embedder: Embedder,
) -> None:
    def run_backlog(*, one_by_one: bool) -> tuple[list[str], list[list[str]]]:
        cube = client.post("/v1/cubes", json={"name": f"c{uuid.uuid4().hex[:8]}"}, headers=auth).json()["id"]
        jobs = [post(client, cube, auth, *batch)["job_id"] for batch in BACKLOG]
        if one_by_one:
            for job_id in jobs:
                run(sessions, job_id, settings, embedder)
        else:
            _dispatch(sessions, *jobs)
            lead = run(sessions, jobs[0], settings, embedder)
            assert lead.result is not None
            assert len(lead.result["coalesced"]) == len(jobs) - 1
        actions = []
        for job_id in jobs:
            result = get_job(sessions, job_id).result
            assert result is not None
            actions.append([d["action"] for d in result["decisions"]])
        return contents(client, cube, auth), actions

    # Later batches of the pass see what earlier ones wrote (facts of the same pass, not yet in the table).
    coalesced = run_backlog(one_by_one=False)
    assert coalesced == run_backlog(one_by_one=True)
    assert coalesced[1] == [["ADD", "ADD"], ["ADD", "ADD"], ["UPDATE", "ADD"], ["UPDATE", "UPDATE"], ["NOOP", "NOOP"]]
    assert sorted(coalesced[0]) == ["Alice doesn't like jazz anymore.", "Alice moved to Berlin.", "Bob loves chess.",
                                  "Bob works for Globex now.", "Bob's favourite food is sushi."]


def test_a_pass_encodes_the_next_cubes_facts_ahead(
    client: TestClient, auth: Auth, cube_id: str, sessions: sessionmaker[Session], settings: Settings,
    embedder: Embedder,
) -> None:
    """A pass that takes its cube's whole backlog looks ahead to the oldest pending job of another cube: that
    job's facts are encoded on the encoder thread and wait in the process's cache; nothing of it is written."""
    from memos.consolidation.vectors import encoder_for, for_embedder

    other = client.post("/v1/cubes", json={"name": "other"}, headers=auth).json()["id"]
    mine = post(client, cube_id, auth, ("Alice", "I live in Paris."))
    theirs = post(client, other, auth, ("Bruno", "I repair violins in a small shop near Lyon."))
    _dispatch(sessions, mine["job_id"], theirs["job_id"])
    fact = "Bruno repairs violins in a small shop near Lyon."

    assert run(sessions, mine["job_id"], settings, embedder).status == "succeeded"
    for done, _ in encoder_for(embedder).ahead_of([fact]).values():
        done.result(timeout=60)
    assert fact in for_embedder(embedder).get_many([fact])
    assert get_job(sessions, theirs["job_id"]).status == "queued"
    assert contents(client, other, auth) == []
