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
from memos.memories.versions import Attribution


@job_handler("linking.link")
def link(session: Session, job: Job, ctx: JobContext) -> dict[str, Any]:
    """Link the job's memories (payload: ``memory_ids``, optionally ``neighbours``: memory id -> [[id,
    cosine], ...] found by the job that wrote them) and let them evolve their neighbours."""
    ids = [uuid.UUID(str(m)) for m in job.payload.get("memory_ids", [])]
    raw = job.payload.get("neighbours")
    hints = None if raw is None else {
        uuid.UUID(m): [(uuid.UUID(n), float(sim)) for n, sim in near] for m, near in raw.items()}
    return link_memories(session, ids, llm=get_llm(ctx.settings), usage=ctx.usage, hints=hints,
                         cause=Attribution.of_job(job))
