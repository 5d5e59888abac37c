"""Periodic sweeps run by beat: ``sweeps.outbox``, ``sweeps.heat``, ``sweeps.ttl``, ``sweeps.relink``,
``sweeps.archive``, ``sweeps.transform``, ``sweeps.propose``."""

from __future__ import annotations

import uuid

from memos.jobs import sweeps
from memos.scheduler.propose import propose_adapters
from memos.scheduler.transform import snapshot_co_used
from workers import resources
from workers.app import app, send_job


@app.task(name="sweeps.outbox")
def outbox() -> dict[str, int]:
    r = resources.get()

    def send(job_id: uuid.UUID, job_type: str) -> None:
        send_job(app, r.settings, job_id, job_type)

    return sweeps.sweep_outbox(r.sessions, r.settings, send)


@app.task(name="sweeps.heat")
def heat() -> int:
    r = resources.get()
    return sweeps.decay_heat(r.sessions, r.settings)


@app.task(name="sweeps.ttl")
def ttl() -> int:
    r = resources.get()
    return sweeps.expire_ttl(r.sessions, r.settings)


@app.task(name="sweeps.relink")
def relink() -> int:
    r = resources.get()
    return sweeps.relink(r.sessions, r.settings)


@app.task(name="sweeps.archive")
def archive() -> int:
    r = resources.get()
    return sweeps.archive_cold(r.sessions, r.settings)


@app.task(name="sweeps.transform")
def transform() -> int:
    r = resources.get()
    return snapshot_co_used(r.sessions, r.settings)


@app.task(name="sweeps.propose")
def propose() -> int:
    r = resources.get()
    return propose_adapters(r.sessions, r.settings)
