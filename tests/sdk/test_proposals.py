"""The owner's decision on adapters the scheduler proposed, through the SDK on a live server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from memcube.db import SYSTEM, Database, tenant_session
from memcube.models import Memory
from memcube.repository.memories import add_access_counts
from memcube.schemas import AdapterState
from memos.client import ConflictError, MemOSClient
from memos.config import Settings
from memos.scheduler.propose import propose_adapters
from tests.conftest import CONTEXT_KEY
from tests.sdk.live import LiveServer


def test_approve_and_reject_proposals(client: MemOSClient, live_server: LiveServer) -> None:
    settings = Settings(home=live_server.home, propose_model="tiny", propose_min_memories=2, propose_min_uses=777,
                        propose_stable_days=0)
    database = Database(live_server.database_url, context_key=CONTEXT_KEY, pool_size=2)
    try:
        proposals = []
        for _ in range(2):
            cube = client.create_cube(f"propose-{uuid.uuid4().hex[:6]}")
            added = client.add_memories(cube.id, ["Ana roasts her own coffee.", "Ana's roaster is a Gene Cafe."])
            with tenant_session(database.sessions, SYSTEM) as s:
                s.execute(update(Memory).where(Memory.id.in_([m.id for m in added]))
                          .values(updated_at=datetime.now(UTC) - timedelta(days=1)))
                add_access_counts(s, {m.id: 777 for m in added}, datetime.now(UTC))
                s.commit()
            assert propose_adapters(database.sessions, settings) == 1  # (no other cube of the server is used 777 times)
            (proposal,) = client.list_adapters(cube.id)
            assert proposal.state is AdapterState.proposed
            assert sorted(proposal.source_memory_ids) == sorted(m.id for m in added)
            proposals.append(proposal)
        accepted = client.approve_adapter(proposals[0].id, steps=2, note="fine")
        assert accepted.adapter.state is AdapterState.training
        assert accepted.job_id is not None
        rejected = client.reject_adapter(proposals[1].id, note="no")
        assert rejected.state is AdapterState.rejected
        with pytest.raises(ConflictError):
            client.reject_adapter(proposals[1].id)
    finally:
        database.dispose()
