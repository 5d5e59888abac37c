"""The scheduler methods of the SDK against a live server (the build job runs here, as a worker would)."""

from __future__ import annotations

import pytest

from memcube.db import Database
from memcube.schemas import Cube
from memos.client import ConflictError, MemOSClient, NotFoundError
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.conftest import CONTEXT_KEY
from tests.sdk.live import LiveServer


def test_status_pin_unpin_and_events(client: MemOSClient, cube: Cube, live_server: LiveServer,
                                     embedder: Embedder) -> None:
    database = Database(live_server.database_url, context_key=CONTEXT_KEY, pool_size=2)
    ctx = JobContext(settings=Settings(home=live_server.home), embedder=embedder)
    try:
        status = client.scheduler_status()
        assert status.policy == "heat"
        assert [t.name for t in status.tiers] == ["gpu", "cpu"]
        (alice,) = client.add_memories(cube.id, ["Alice moved to Lyon."])
        accepted = client.create_activation(cube.id, "tiny", memory_ids=[alice.id])
        assert run_job(database.sessions, accepted.job_id, ctx) == "succeeded"
        pinned = client.pin(accepted.activation.id)
        assert pinned.pinned
        assert pinned.residency in {"gpu", "cpu"}  # the server read it from disk when it was pinned
        assert any(m.target == pinned.residency and accepted.activation.id in m.memory_ids
                   for m in client.scheduler_events(limit=10))
        assert not client.unpin(accepted.activation.id).pinned
        with pytest.raises(ConflictError):
            client.pin(alice.id)  # a plaintext memory has no payload
        with pytest.raises(NotFoundError):
            client.pin("00000000-0000-0000-0000-000000000000")
    finally:
        database.dispose()
