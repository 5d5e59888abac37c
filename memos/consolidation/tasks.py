"""Job handlers of the consolidation domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from memcube.models import Job
from memos.consolidation.service import consolidate
from memos.jobs.context import JobContext
from memos.jobs.registry import job_handler


@job_handler("consolidation.messages")
def consolidate_messages(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Turn the job's stored messages into memories (payload: ``message_ids``, ``session_id``)."""
    return consolidate(session, job, settings=ctx.settings, embedder=ctx.embedder, usage=ctx.usage)
