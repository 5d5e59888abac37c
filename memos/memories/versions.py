"""Versions: every change to a memory is a new row in ``memory_versions``, written set-based.

The head (``memories``) is updated in the same transaction; the previous version's ``valid_to`` is closed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from memcube.models import Job, Memory
from memcube.repository import memories as repo


@dataclass(frozen=True)
class Attribution:
    """Who caused a version, as the server knows it (never taken from a request body): the API key and
    tenant whose request caused it, and the job that wrote it (None for a direct write). A system sweep
    (TTL, re-link) has neither key nor tenant."""

    key_id: uuid.UUID | None = None
    tenant_id: uuid.UUID | None = None
    job_id: uuid.UUID | None = None

    @classmethod
    def of_job(cls, job: Job) -> Attribution:
        """A job's versions: the key and tenant that enqueued it, and the job."""
        return cls(key_id=job.key_id, tenant_id=job.tenant_id, job_id=job.id)


SYSTEM_CAUSE = Attribution()


def version_row(head: Memory, *, actor: str | None, reason: str | None, at: datetime,
                cause: Attribution = SYSTEM_CAUSE) -> dict[str, Any]:
    return {
        "memory_id": head.id,
        "tenant_id": head.tenant_id,
        "cube_id": head.cube_id,
        "version": head.version,
        "status": head.status,
        "content": head.content,
        "meta": head.meta,
        "tags": head.tags,
        "event_time": head.event_time,
        "provenance": head.provenance,
        "actor": actor,
        "reason": reason,
        "risk": head.risk,
        "guard": head.guard,
        "valid_from": at,
        "valid_to": None,
        "caused_by_key_id": cause.key_id,
        "caused_by_tenant_id": cause.tenant_id,
        "job_id": cause.job_id,
    }



class VersionBatch:
    """New versions of many heads, written set-based (the one versioning path: ``append_version`` is a batch of one).

    ``add`` takes a head its caller has just changed and snapshots it as its next version (version + 1, its
    own ``valid_from``); a head may come more than once, each time one version, in order. ``write`` then
    closes every head's open version in one UPDATE, updates the heads in one UPDATE per set of changed
    columns and inserts all versions in one multi-row INSERT."""

    def __init__(self, session: Session, *, actor: str, cause: Attribution = SYSTEM_CAUSE) -> None:
        self.session = session
        self.actor = actor
        self.cause = cause
        self._start = datetime.now(UTC)
        self._rows: list[dict[str, Any]] = []
        self._heads: dict[uuid.UUID, Memory] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, head: Memory, *, reason: str | None, actor: str | None = None,
            cause: Attribution | None = None) -> Memory:
        if sa_inspect(head).pending:
            self.session.flush()  # a head not inserted yet gets its row (and id) first
        # Distinct, ordered times: two versions of one head in a batch each keep a non-empty interval.
        at = self._start + timedelta(microseconds=len(self._rows))
        head.version += 1
        head.updated_at = at
        self._rows.append(version_row(head, actor=actor or self.actor, reason=reason, at=at,
                                      cause=cause or self.cause))
        self._heads.setdefault(head.id, head)
        return head

    def write(self) -> int:
        """Write what was added; returns the number of versions written."""
        rows, heads = self._rows, list(self._heads.values())
        self._rows, self._heads = [], {}
        if not rows:
            return 0
        opened: dict[uuid.UUID, datetime] = {}  # head -> valid_to of the version it had before the batch
        last: dict[uuid.UUID, dict[str, Any]] = {}
        for row in rows:
            previous = last.get(row["memory_id"])
            if previous is None:
                opened[row["memory_id"]] = row["valid_from"]
            else:
                previous["valid_to"] = row["valid_from"]
            last[row["memory_id"]] = row
        repo.close_current_versions(self.session, opened)
        repo.flush_heads(self.session, heads)
        self.session.flush()  # anything else the caller changed, as a single write always did
        for row in rows:  # the column default a left-out None would get, so that NULLs can be sent as such
            row["tags"] = [] if row["tags"] is None else row["tags"]
        repo.insert_versions(self.session, rows, render_nulls=True)
        # Snapshots built from a changed memory are stale now: marked, and a rebuild queued, in this
        # transaction. Imported here: the activation records import this module.
        from memos.activation.service import mark_stale

        causes = {row["memory_id"]: Attribution(row["caused_by_key_id"], row["caused_by_tenant_id"], row["job_id"])
                  for row in rows}
        mark_stale(self.session, heads, cause=self.cause, causes=causes)
        return len(rows)


def append_version(
    session: Session, head: Memory, *, actor: str, reason: str | None, batch: VersionBatch | None = None,
    cause: Attribution | None = None,
) -> Memory:
    """Write the changed head as its next version now, or add it to ``batch`` (written by ``batch.write``).
    ``cause`` defaults to the batch's (a system write without a batch)."""
    if batch is not None:
        return batch.add(head, reason=reason, actor=actor, cause=cause)
    single = VersionBatch(session, actor=actor, cause=cause or SYSTEM_CAUSE)
    single.add(head, reason=reason)
    single.write()
    return head
