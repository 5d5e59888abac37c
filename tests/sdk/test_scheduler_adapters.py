"""Adapters on the tier scheduler through the SDK against a live server: pinned like an activation, their moves
in the scheduler's events with kind ``parametric``, counted per tier in the status."""

from __future__ import annotations

from pathlib import Path

from memcube.schemas import Cube
from memos.activation.models import build_tiny
from memos.client import MemOSClient
from tests.parametric.conftest import peft_adapter


def test_an_adapter_is_pinned_and_its_moves_are_listed(client: MemOSClient, cube: Cube, tmp_path: Path) -> None:
    config, weights = peft_adapter(build_tiny(), tmp_path, seed=3)
    adapter = client.register_adapter(cube.id, "tiny", config=config, weights=weights)
    client.generate(cube.id, "tiny", "Alice moved to", adapter_id=adapter.id, max_new_tokens=2)  # into the model
    pinned = client.pin(adapter.id)
    assert (pinned.kind, pinned.pinned, pinned.payload) == ("parametric", True, adapter.blob_sha256)
    assert pinned.residency in {"gpu", "cpu"}
    moves = [m for m in client.scheduler_events(limit=1000) if adapter.id in m.memory_ids]
    assert moves
    assert {m.kind for m in moves} == {"parametric"}
    assert any(m.source == "disk" and m.target == "gpu" for m in moves)
    assert sum(t.adapters for t in client.scheduler_status().tiers) >= 1
    assert not client.unpin(adapter.id).pinned
