"""Job handlers of the consolidation domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from memcube.models import Job
from memos.consolidation.service import consolidate
from memos.jobs.context import JobContext
from memos.jobs.registry import job_handler


def cube_key(job: Job) -> str | None:
    """Consolidation of one cube runs one job at a time (in order), whatever the number of workers."""
    return f"consolidation:{job.cube_id}" if job.cube_id else None


@job_handler("consolidation.messages", serial_key=cube_key)
def consolidate_messages(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Turn the job's stored messages into memories (payload: ``message_ids``, ``session_id``), together
    with the cube's other pending batches (see ``consolidate``)."""
    return consolidate(session, job, settings=ctx.settings, embedder=ctx.embedder, usage=ctx.usage,
                       coalesce=True)
