"""The activation methods of the SDK against a live server (the build job runs here, on its database and
home, as a worker would)."""

from __future__ import annotations

import pytest

from memcube.db import Database
from memcube.schemas import ActivationState, Cube
from memos.client import ConflictError, MemOSClient, NotFoundError
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.conftest import CONTEXT_KEY
from tests.sdk.live import LiveServer


def test_create_build_extend_and_generate(client: MemOSClient, cube: Cube, live_server: LiveServer,
                                          embedder: Embedder) -> None:
    database = Database(live_server.database_url, context_key=CONTEXT_KEY, pool_size=2)
    ctx = JobContext(settings=Settings(home=live_server.home), embedder=embedder)
    try:
        assert "tiny" in [m.name for m in client.list_models()]
        alice, bob = client.add_memories(cube.id, ["Alice moved to Lyon.", "Bob plays the cello."])
        accepted = client.create_activation(cube.id, "tiny", memory_ids=[alice.id], name="people")
        assert accepted.activation.state is ActivationState.building
        with pytest.raises(ConflictError):
            client.generate(cube.id, "tiny", "hi", activation_id=accepted.activation.id)
        assert run_job(database.sessions, accepted.job_id, ctx) == "succeeded"
        ready = client.get_activation(accepted.activation.id)
        assert (ready.state, ready.version) == (ActivationState.ready, 2)
        assert [a.id for a in client.list_activations(cube.id)] == [ready.id]

        out = client.generate(cube.id, "tiny", "Where?", activation_id=ready.id, max_new_tokens=4)
        plain = client.generate(cube.id, "tiny", "Alice moved to Lyon. Where?", max_new_tokens=4)
        assert out.text == plain.text
        assert (out.used.activation_id, out.used.version, out.timings.cached_tokens) == (ready.id, 2, ready.tokens)

        # Composition: two snapshots, everything after the first recomputed, equals the joined text.
        of_bob = client.create_activation(cube.id, "tiny", memory_ids=[bob.id])
        assert run_job(database.sessions, of_bob.job_id, ctx) == "succeeded"
        composed = client.generate(cube.id, "tiny", "Where?", activation_ids=[ready.id, of_bob.activation.id],
                                   recompute_ratio=1.0, max_new_tokens=4)
        joined = client.generate(cube.id, "tiny", "Alice moved to Lyon.\nBob plays the cello. Where?",
                                 max_new_tokens=4)
        assert composed.text == joined.text
        assert [u.activation_id for u in composed.used.activations] == [ready.id, of_bob.activation.id]
        assert (composed.timings.recomputed_tokens or 0) > 0

        extended = client.extend_activation(ready.id, [bob.id])
        assert run_job(database.sessions, extended.job_id, ctx) == "succeeded"
        assert client.get_activation(ready.id).version == 3
        with pytest.raises(NotFoundError):
            client.generate(cube.id, "no-such-model", "hi")
    finally:
        database.dispose()
