"""What a failed job shows its tenant: a stable code and a safe sentence. The exception's own text (a
database error quotes the statement and its parameters) is in the log, under the job id, and nowhere else."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from memcube.models import Job
from memos.jobs.context import JobContext
from memos.jobs.registry import job_handler
from memos.jobs.runner import run_job
from tests.workers.conftest import Enqueue

SECRET = "s3cr3t-value-of-another-row"


@job_handler("test.bad_sql")
def bad_sql(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Fails inside the database, with a parameter that must not reach the tenant."""
    session.execute(text("SELECT CAST(:v AS integer) FROM no_such_table"), {"v": SECRET})
    return {}


def test_a_database_error_is_shown_as_a_code_and_logged_with_the_job_id(
    sessions: sessionmaker[Session], ctx: JobContext, enqueue: Enqueue, tenant: tuple[uuid.UUID, dict[str, str]],
    cube_id: str, client: TestClient, caplog: pytest.LogCaptureFixture,
) -> None:
    job_id = enqueue(tenant[0], cube_id, "test.bad_sql", {})
    with caplog.at_level(logging.WARNING, logger="memos.jobs.runner"):
        statuses = [run_job(sessions, job_id, ctx) for _ in range(ctx.settings.job_max_attempts)]
    assert statuses[-1] == "failed"

    shown = client.get(f"/v1/jobs/{job_id}", headers=tenant[1]).json()
    assert shown["status"] == "failed"
    assert shown["error"].startswith("internal_error: ")
    for leak in (SECRET, "no_such_table", "SELECT", "ProgrammingError", "psycopg"):
        assert leak not in shown["error"]

    logged = [r for r in caplog.records if str(job_id) in r.getMessage()]
    assert logged
    assert any(r.exc_info and "no_such_table" in str(r.exc_info[1]) for r in logged)
