"""A session's working memory through the SDK, on a live server."""

from __future__ import annotations

import uuid

import pytest

from memos.client import MemOSClient, NotFoundError
from tests.sdk.live import working_fills
from tests.workers.background import wait_for


def test_context_with_a_working_session(client: MemOSClient) -> None:
    cube = client.create_cube(f"working-{uuid.uuid4().hex[:6]}")
    client.add_memories(cube.id, ["Priya keeps bees on her roof in Leeds.", "Priya's bees made 12 jars of honey.",
                                  "Priya teaches chemistry at a secondary school."])
    first = client.context(cube.id, "How much honey did Priya's bees make?", top_k=2, working_session="s1")
    assert first.working is not None
    assert not first.working.reused
    # The set is written right after the answer, off the request path.
    wait_for(lambda: working_fills(client, cube.id, "s1"), timeout=30, what="the working memory's fill")
    # The memories are seconds old: a reuse looks at what changed lately as well as at the set.
    again = client.context(cube.id, "How much honey did Priya's bees produce?", top_k=2, working_session="s1")
    assert again.working is not None
    assert again.working.reused
    assert any("12 jars" in m.content for m in again.memories)
    held = client.working_memory(cube.id, "s1")
    assert held.fills == 1
    assert held.reuses == 1
    assert {m.id for m in first.memories} <= set(held.memory_ids)
    assert [m.reason for m in held.moves][-1] == "search"
    client.forget_working_memory(cube.id, "s1")
    with pytest.raises(NotFoundError):
        client.working_memory(cube.id, "s1")
