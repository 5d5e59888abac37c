"""Chat messages: stored as received, then turned into memories by a ``consolidation.messages`` job.

The request stores the messages and writes ONE outbox row (the job) in the same transaction, so a crash
can never keep messages without their job or run a job without its messages. With an ``idempotency_key``
the same request sent again returns the first job and stores nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from memcube import schemas
from memcube.models import ChatMessage, Cube, Job
from memcube.repository import jobs as jobs_repo
from memcube.repository import messages as repo
from memos.errors import Conflict, PayloadTooLarge
from memos.memories.service import Limits, check_content, utc

USER_ROLES = {"user", "human"}
JOB_TYPE = "consolidation.messages"


def store_messages(
    session: Session, cube: Cube, req: schemas.MessagesCreate, *, limits: Limits, job_id: uuid.UUID | None = None
) -> list[ChatMessage]:
    if len(req.messages) > limits.max_batch_size:
        raise PayloadTooLarge(f"{len(req.messages)} messages; the limit is {limits.max_batch_size}")
    rows: list[dict[str, Any]] = []
    for msg in req.messages:
        check_content(msg.content, limits)
        rows.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": cube.tenant_id,
                "cube_id": cube.id,
                "session_id": req.session_id,
                "role": msg.role,
                "name": msg.name,
                "content": msg.content,
                "timestamp": utc(msg.timestamp),
                "job_id": job_id,
            }
        )
    return repo.insert_messages(session, rows)


def accept_messages(
    session: Session, cube: Cube, req: schemas.MessagesCreate, *, tenant_id: uuid.UUID, limits: Limits,
    key_id: uuid.UUID | None = None,
) -> tuple[Job, list[uuid.UUID]]:
    """Store the messages and enqueue their consolidation job; returns the job and the message ids.
    ``tenant_id`` and ``key_id`` are the caller's: the job's versions are attributed to them.
    A repeated idempotency key returns the first request's job and messages (nothing is stored again)."""
    if len(req.messages) > limits.max_batch_size:
        raise PayloadTooLarge(f"{len(req.messages)} messages; the limit is {limits.max_batch_size}")
    for msg in req.messages:
        check_content(msg.content, limits)
    # The job first: its unique (tenant, idempotency_key) decides whether this request is a repeat.
    job, created = jobs_repo.enqueue(
        session, tenant_id=tenant_id, cube_id=cube.id, type=JOB_TYPE, payload={},
        idempotency_key=req.idempotency_key, key_id=key_id,
    )
    if not created:
        if job.type != JOB_TYPE or job.cube_id != cube.id:
            raise Conflict("this idempotency key was already used for another request")
        return job, [uuid.UUID(str(m)) for m in job.payload.get("message_ids", [])]
    messages = store_messages(session, cube, req, limits=limits, job_id=job.id)
    job.payload = {"message_ids": [str(m.id) for m in messages], "session_id": req.session_id}
    return job, [m.id for m in messages]
