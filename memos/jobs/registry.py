"""Job handlers by type: ``@job_handler("consolidation.messages")`` registers a function.

A handler is ``handler(session, job, ctx) -> dict`` (the dict becomes ``jobs.result``). It runs inside the
job's transaction, in the job's tenant context, and must be deterministic in effect given the database
state and safe to run again after a crash (the runner commits its writes together with the job status).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, TypeAlias

from sqlalchemy.orm import Session

from memcube.models import Job
from memos.jobs.context import JobContext

Handler: TypeAlias = Callable[[Session, Job, JobContext], dict[str, Any]]

# Every module that registers handlers; importing them fills the registry. Explicit, so a worker
# knows exactly which job types it can run (and fails loudly if one of them is broken).
HANDLER_MODULES: tuple[str, ...] = (
    "memos.jobs.builtin",
    "memos.consolidation.tasks",
    "memos.linking.tasks",
)

_handlers: dict[str, Handler] = {}
_loaded = False
_lock = threading.Lock()


def job_handler(job_type: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``job_type`` ("domain.verb")."""

    def register(fn: Handler) -> Handler:
        existing = _handlers.get(job_type)
        if existing is not None and existing is not fn:
            raise ValueError(f"two handlers for job type {job_type!r}: {existing!r} and {fn!r}")
        _handlers[job_type] = fn
        return fn

    return register


def load_handlers() -> None:
    """Import every handler module once (lazily: the API process never needs them)."""
    global _loaded
    if _loaded:
        return
    with _lock:
        if not _loaded:
            for name in HANDLER_MODULES:
                importlib.import_module(name)
            _loaded = True


def get_handler(job_type: str) -> Handler | None:
    load_handlers()
    return _handlers.get(job_type)


def registered_types() -> list[str]:
    load_handlers()
    return sorted(_handlers)
