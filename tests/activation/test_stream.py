"""A snapshot streamed from its blob layer by layer while the prompt is prefilled: exactly what the whole
snapshot loaded first gives; old-format blobs still read; broken files fail the request that waits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

from memcube.blobs import BlobStore
from memos.activation.backend import TransformersBackend
from memos.activation.cache import SnapshotCache
from memos.activation.errors import InvalidSnapshot
from memos.activation.kv import FORMAT_V1, METADATA_KEY, KVSnapshot, deserialize, prefill, serialize, to_cache
from memos.activation.models import LoadedModel
from memos.activation.render import prompt_ids
from memos.activation.stream import StreamedSnapshot, streamed_cache

from .test_exactness import ATOL

PREFIX = (
    "Caroline adopted a grey cat named Pixel in March. She works as a nurse at the city hospital "
    "and plays the cello on weekends.\nMelanie moved to Lisbon last year; she teaches maths."
)
PROMPT = "What is the name of Caroline's cat?"


def v1_bytes(snap: KVSnapshot, lm: LoadedModel) -> bytes:
    """The snapshot as format memos.kv/1 wrote it (k.{i}/v.{i}), for blobs stored before format 2."""
    tensors = {"token_ids": torch.tensor(snap.token_ids, dtype=torch.int64)}
    for i, (k, v) in enumerate(zip(snap.keys, snap.values, strict=True)):
        tensors[f"k.{i}"], tensors[f"v.{i}"] = k.contiguous(), v.contiguous()
    meta = {"format": FORMAT_V1, "model": lm.name, "fingerprint": lm.fingerprint, "dtype": snap.dtype,
            "n_tokens": snap.n_tokens, "n_layers": snap.n_layers}
    return bytes(save(tensors, metadata={METADATA_KEY: json.dumps(meta, sort_keys=True, separators=(",", ":"))}))


@pytest.fixture
def stored(tiny: LoadedModel, tmp_path: Path) -> tuple[BlobStore, str, KVSnapshot]:
    snap = prefill(tiny, tiny.encode(PREFIX))
    blobs = BlobStore(tmp_path)
    sha, _ = blobs.put(serialize(snap, model=tiny.name, fingerprint=tiny.fingerprint))
    return blobs, sha, snap


def test_format_2_lays_the_layers_out_in_order(stored: tuple[BlobStore, str, KVSnapshot]) -> None:
    blobs, sha, snap = stored
    data = blobs.get(sha)
    table = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    table.pop("__metadata__")
    by_offset = [name for name, _ in sorted(table.items(), key=lambda kv: kv[1]["data_offsets"][0])]
    layers = [name for i in range(snap.n_layers) for name in (f"{i:04d}.k", f"{i:04d}.v")]
    assert by_offset == ["token_ids", *layers]


def test_logits_with_a_streamed_snapshot_equal_the_whole_snapshots_bit_for_bit(
    tiny: LoadedModel, stored: tuple[BlobStore, str, KVSnapshot]
) -> None:
    blobs, sha, snap = stored
    ids = torch.tensor([prompt_ids(tiny, PROMPT)])
    stream = StreamedSnapshot(str(blobs.path(sha))).start()
    with torch.no_grad():
        streamed = tiny.model(input_ids=ids, past_key_values=streamed_cache(stream, tiny), use_cache=True).logits[0]
        loaded = tiny.model(input_ids=ids, past_key_values=to_cache(snap, tiny), use_cache=True).logits[0]
        full = tiny.model(input_ids=torch.tensor([snap.token_ids + ids[0].tolist()])).logits[0, -ids.shape[1] :]
    assert torch.equal(streamed, loaded)
    # against a full prefill: as close as a snapshot loaded whole is (test_exactness.py's allowance)
    torch.testing.assert_close(streamed, full, atol=ATOL, rtol=0)
    assert torch.equal(streamed.argmax(-1), full.argmax(-1))


@pytest.mark.parametrize("first_read", [16, 200, 64 * 1024])
def test_a_header_and_token_ids_longer_than_the_first_read_are_read_whole(
    stored: tuple[BlobStore, str, KVSnapshot], monkeypatch: pytest.MonkeyPatch, first_read: int
) -> None:
    # The first read of a file takes the header and the token ids together when they fit in it (the default
    # 64 KiB holds the ids of ~7,000 tokens); smaller first reads cut the header or the ids short.
    from memos.activation import stream as stream_module

    blobs, sha, snap = stored
    monkeypatch.setattr(stream_module, "_HEAD_READ", first_read)
    got = StreamedSnapshot(str(blobs.path(sha))).start().snapshot()
    assert got.token_ids == snap.token_ids
    assert all(torch.equal(a, b) for a, b in zip(got.keys + got.values, snap.keys + snap.values, strict=True))


@pytest.mark.parametrize("old_format", [False, True])
def test_generation_from_a_cold_snapshot_equals_a_warm_one_and_leaves_it_as_stored(
    tiny: LoadedModel, backend: TransformersBackend, tmp_path: Path, old_format: bool
) -> None:
    snap = prefill(tiny, tiny.encode(PREFIX))
    data = v1_bytes(snap, tiny) if old_format else serialize(snap, model=tiny.name, fingerprint=tiny.fingerprint)
    blobs = BlobStore(tmp_path)
    sha, _ = blobs.put(data)
    cache = SnapshotCache(blobs, max_bytes=1 << 30)
    ids = prompt_ids(tiny, PROMPT)
    cold = cache.open(sha)
    assert isinstance(cold, StreamedSnapshot)
    assert (cold.n_tokens, cold.token_ids) == (snap.n_tokens, snap.token_ids)
    streamed = backend.generate(tiny, ids, prefix=cold, max_new_tokens=8)
    held = cache.get(sha)  # the read, finished, is kept: the next request is warm
    assert cache.open(sha) is held
    warm = backend.generate(tiny, ids, prefix=held, max_new_tokens=8)
    reference = backend.generate(tiny, snap.token_ids + ids, max_new_tokens=8)
    assert streamed.token_ids == warm.token_ids == reference.token_ids
    assert streamed.cached_tokens == snap.n_tokens
    for a, b in zip((*held.keys, *held.values), (*snap.keys, *snap.values), strict=True):
        assert torch.equal(a, b)  # generation wrote nothing into the stored tensors
    restored, meta = deserialize(data)
    assert meta["format"] == (FORMAT_V1 if old_format else "memos.kv/2")
    assert restored.token_ids == snap.token_ids


def test_an_empty_prompt_continues_a_streamed_snapshot(
    tiny: LoadedModel, backend: TransformersBackend, stored: tuple[BlobStore, str, KVSnapshot]
) -> None:
    blobs, sha, snap = stored
    streamed = backend.generate(tiny, [], prefix=StreamedSnapshot(str(blobs.path(sha))).start(), max_new_tokens=4)
    assert streamed.token_ids == backend.generate(tiny, snap.token_ids, max_new_tokens=4).token_ids


def test_requests_for_a_snapshot_being_read_share_the_read(stored: tuple[BlobStore, str, KVSnapshot]) -> None:
    blobs, sha, _ = stored
    cache = SnapshotCache(blobs, max_bytes=1 << 30)
    first = cache.open(sha)
    second = cache.open(sha)
    assert isinstance(first, StreamedSnapshot)
    assert second is first or second is cache.get(sha)  # shared, or already finished and held
    assert cache.stats.misses == 1
    assert cache.get(sha).n_tokens == first.n_tokens
    assert cache.stats.bytes_loaded == first.nbytes


def test_a_truncated_blob_fails_the_waiting_request_and_is_not_kept(
    tiny: LoadedModel, backend: TransformersBackend, stored: tuple[BlobStore, str, KVSnapshot]
) -> None:
    blobs, sha, _ = stored
    path = blobs.path(sha)
    path.write_bytes(path.read_bytes()[:-100])  # the header still fits, the last layer does not
    cache = SnapshotCache(blobs, max_bytes=1 << 30)
    with pytest.raises(InvalidSnapshot):
        StreamedSnapshot(str(path))  # the header says where every tensor ends: refused before any read
    path.write_bytes(b"not a snapshot at all")
    with pytest.raises(InvalidSnapshot):
        cache.open(sha)
    assert cache.resident() == {}


def test_a_read_that_breaks_off_fails_whoever_waits(
    tiny: LoadedModel, backend: TransformersBackend, stored: tuple[BlobStore, str, KVSnapshot]
) -> None:
    blobs, sha, _ = stored
    path = blobs.path(sha)
    stream = StreamedSnapshot(str(path))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # shrunk between the header and the read
    stream.start()
    with pytest.raises(InvalidSnapshot):
        backend.generate(tiny, prompt_ids(tiny, PROMPT), prefix=stream, max_new_tokens=1)
    with pytest.raises(InvalidSnapshot):
        stream.snapshot()
