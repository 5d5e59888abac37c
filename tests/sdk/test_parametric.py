"""The parametric methods of the SDK against a live server: register from a save_pretrained directory,
generate through two adapters, a new version and rollback, training (its job run here, on the server's
database and home, as a worker would), and a corrupted upload refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from memcube.db import Database
from memcube.schemas import AdapterState, Cube
from memos.activation.models import build_tiny
from memos.client import MemOSClient, ValidationError
from memos.config import Settings
from memos.embedding import Embedder
from memos.jobs.context import JobContext
from memos.jobs.runner import run_job
from tests.conftest import CONTEXT_KEY
from tests.parametric.conftest import peft_adapter
from tests.sdk.live import LiveServer


def test_adapters_through_the_sdk(client: MemOSClient, cube: Cube, live_server: LiveServer, embedder: Embedder,
                                  tmp_path: Path) -> None:
    tiny = build_tiny()
    peft_adapter(tiny, tmp_path, seed=1)
    second = peft_adapter(tiny, tmp_path, seed=2)
    a = client.register_adapter(cube.id, "tiny", tmp_path / "adapter-1-4", name="one")
    assert (a.state, a.version, a.rank) == (AdapterState.ready, 1, 4)
    b = client.register_adapter(cube.id, "tiny", config=second[0], weights=second[1])
    assert {x.id for x in client.list_adapters(cube.id)} == {a.id, b.id}
    out_a = client.generate(cube.id, "tiny", "Alice moved to", adapter_id=a.id, max_new_tokens=6)
    out_b = client.generate(cube.id, "tiny", "Alice moved to", adapter_id=b.id, max_new_tokens=6)
    assert out_a.text != out_b.text
    assert out_a.used.adapter_id == a.id

    v2 = client.upload_adapter_version(a.id, config=second[0], weights=second[1])
    assert v2.version == 2
    assert client.generate(cube.id, "tiny", "Alice moved to", adapter_id=a.id, max_new_tokens=6).text == out_b.text
    assert client.rollback_adapter(a.id, 1).version == 3
    assert client.generate(cube.id, "tiny", "Alice moved to", adapter_id=a.id, max_new_tokens=6).text == out_a.text
    with pytest.raises(ValidationError):
        client.register_adapter(cube.id, "tiny", config=second[0], weights=second[1][:64])
    assert len(client.list_adapters(cube.id)) == 2

    database = Database(live_server.database_url, context_key=CONTEXT_KEY, pool_size=2)
    ctx = JobContext(settings=Settings(home=live_server.home), embedder=embedder)
    try:
        memories = client.add_memories(cube.id, ["Alice moved to Lyon in May.", "Bob plays the cello."])
        accepted = client.train_adapter(cube.id, "tiny", memory_ids=[m.id for m in memories], steps=10, name="t")
        assert accepted.adapter.state is AdapterState.training
        assert run_job(database.sessions, accepted.job_id, ctx) == "succeeded"
        job = client.get_job(accepted.job_id)
        assert job.result is not None
        assert len(job.result["losses"]) == 10
        trained = client.get_adapter(accepted.adapter.id)
        assert (trained.state, trained.version) == (AdapterState.ready, 2)
        assert trained.source_memory_ids == [m.id for m in memories]
    finally:
        database.dispose()
