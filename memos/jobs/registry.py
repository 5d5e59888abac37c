"""Job handlers by type: ``@job_handler("consolidation.messages")`` registers a function.

A handler is ``handler(session, job, ctx) -> dict`` (the dict becomes ``jobs.result``). It runs inside the
job's transaction, in the job's tenant context, and must be deterministic in effect given the database
state and safe to run again after a crash (the runner commits its writes together with the job status).

A job whose middle is slow model work (a prefill, training, loading weights) registers a ``Staged`` handler
instead (``@staged_job_handler``): ``prepare`` reads its inputs in one short transaction, ``compute`` runs
with no session and no transaction open, ``finish`` writes the outcome in another short transaction that
also marks the job succeeded (see ``memos.jobs.runner``).
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


class Staged:
    """A handler in three steps, so that slow work holds no database transaction (DESIGN: long model work
    never holds a transaction open). ``prepare(session, job, ctx)`` reads what the work needs (in the job's
    tenant, in a short transaction committed before ``compute``) and returns plain data;
    ``compute(inputs, ctx)`` does the slow part with no session; ``finish(session, job, outcome, ctx)``
    writes the outcome and returns the job's result (committed with the job's status). ``finish`` must be
    idempotent: after a crash the whole job runs again, and the database may have moved on since
    ``prepare`` (re-check what the outcome depends on)."""

    def prepare(self, session: Session, job: Job, ctx: JobContext) -> Any:
        raise NotImplementedError

    def compute(self, inputs: Any, ctx: JobContext) -> Any:
        raise NotImplementedError

    def finish(self, session: Session, job: Job, outcome: Any, ctx: JobContext) -> dict[str, Any]:
        raise NotImplementedError

    def failed(self, session: Session, job: Job, error: str) -> None:
        """The job has failed for good with ``error`` (what its tenant may see): record it where the job's
        subject shows it, in the transaction that marks the job failed. Default: nothing."""

# Every module that registers handlers; importing them fills the registry. Explicit, so a worker
# knows exactly which job types it can run (and fails loudly if one of them is broken).
HANDLER_MODULES: tuple[str, ...] = (
    "memos.jobs.builtin",
    "memos.consolidation.tasks",
    "memos.linking.tasks",
    "memos.activation.tasks",
    "memos.parametric.tasks",
)

SerialKey: TypeAlias = Callable[[Job], str | None]

_handlers: dict[str, Handler | Staged] = {}
_serial_keys: dict[str, SerialKey] = {}
_loaded = False
_lock = threading.Lock()


def job_handler(job_type: str, *, serial_key: SerialKey | None = None) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of ``job_type`` ("domain.verb").

    ``serial_key(job)``: jobs with the same key never run at the same time, whatever the number of workers
    (the runner takes a transaction-level advisory lock on it before the job's row); consolidation uses
    the cube, so two batches of one cube are compared with each other in order."""

    def register(fn: Handler) -> Handler:
        _register(job_type, fn, serial_key)
        return fn

    return register


def staged_job_handler(job_type: str, *, serial_key: SerialKey | None = None) -> Callable[[type[Staged]], type[Staged]]:
    """Register an instance of the decorated ``Staged`` subclass as the handler of ``job_type``."""

    def register(cls: type[Staged]) -> type[Staged]:
        existing = _handlers.get(job_type)
        if not (isinstance(existing, cls) and type(existing) is cls):
            _register(job_type, cls(), serial_key)
        return cls

    return register


def _register(job_type: str, fn: Handler | Staged, serial_key: SerialKey | None) -> None:
    existing = _handlers.get(job_type)
    if existing is not None and existing is not fn:
        raise ValueError(f"two handlers for job type {job_type!r}: {existing!r} and {fn!r}")
    _handlers[job_type] = fn
    if serial_key is not None:
        _serial_keys[job_type] = serial_key


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


def get_handler(job_type: str) -> Handler | Staged | None:
    load_handlers()
    return _handlers.get(job_type)


def get_serial_key(job: Job) -> str | None:
    """The key serializing ``job`` with others (None: it may run beside anything)."""
    load_handlers()
    fn = _serial_keys.get(job.type)
    return fn(job) if fn is not None else None

