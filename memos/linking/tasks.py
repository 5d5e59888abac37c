"""Job handlers of the linking domain."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from memcube.models import Job
from memos.jobs.context import JobContext
from memos.jobs.registry import job_handler
from memos.linking.service import link_memories
from memos.llm import get_llm


@job_handler("linking.link")
def link(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Link the job's memories (payload: ``memory_ids``, optionally ``candidate_ids``) and let them evolve
    their neighbours."""
    ids = [uuid.UUID(str(m)) for m in job.payload.get("memory_ids", [])]
    candidates = job.payload.get("candidate_ids")
    return link_memories(session, ids, llm=get_llm(ctx.settings), usage=ctx.usage,
                         candidate_ids=None if candidates is None else [uuid.UUID(str(c)) for c in candidates])
