"""The worker app the reliability tests start (``celery -A tests.workers.celery_app worker``): the real
app plus the test-only handlers, and, when ``MEMOS_TEST_PAUSE_TYPES`` names job types, a wrapper that
lets the real handler do its writes and then holds the transaction open on the first attempt, announcing
itself with a file in ``MEMOS_TEST_PAUSE_DIR`` so a test can SIGKILL the worker right there."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from celery import signals
from sqlalchemy.orm import Session

from memcube.models import Job
from memos.jobs import registry
from memos.jobs.context import JobContext
from tests.workers import handlers  # noqa: F401 - registers the test.* job types
from workers.app import app

__all__ = ["app"]


def _pausing(inner: registry.Handler) -> registry.Handler:
    def handler(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
        result = inner(session, job, ctx)
        if job.attempts == 1:
            session.flush()  # the handler's writes are in the database, not yet committed
            Path(os.environ["MEMOS_TEST_PAUSE_DIR"], f"{job.id}.paused").write_text(str(os.getpid()))
            time.sleep(120)  # the test SIGKILLs the worker long before this ends
        return result

    return handler


registry.load_handlers()
for job_type in filter(None, os.environ.get("MEMOS_TEST_PAUSE_TYPES", "").split(",")):
    real = registry.get_handler(job_type)
    assert real is not None, f"no handler for {job_type}"
    registry._handlers[job_type] = _pausing(real)


@signals.worker_ready.connect
def _announce_ready(**_kwargs: Any) -> None:
    ready_dir = os.environ.get("MEMOS_TEST_PAUSE_DIR")
    if ready_dir:
        Path(ready_dir, f"ready-{os.getpid()}").write_text("ready")
