"""BlobStore: content-addressed, atomic, idempotent."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from memcube.blobs import BlobNotFound, BlobStore, InvalidBlobName


def test_put_get_round_trip_under_the_hash(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"keys and values" * 1000
    sha, size = store.put(data)
    assert sha == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert store.path(sha) == tmp_path / sha[:2] / sha
    assert store.exists(sha)
    assert store.size(sha) == size
    assert store.get(sha) == data == store.get(sha, verify=True)


def test_put_is_idempotent_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha, _ = store.put(b"same")
    mtime = store.path(sha).stat().st_mtime_ns
    assert store.put(b"same") == (sha, 4)
    assert store.path(sha).stat().st_mtime_ns == mtime  # not rewritten
    assert os.listdir(store.path(sha).parent) == [sha]


def test_missing_corrupt_and_malformed_names(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with pytest.raises(BlobNotFound):
        store.get("a" * 64)
    assert not store.exists("a" * 64)
    sha, _ = store.put(b"original")
    store.path(sha).write_bytes(b"tampered")
    with pytest.raises(BlobNotFound, match="corrupt"):
        store.get(sha, verify=True)
    for bad in ["../../etc/passwd", "A" * 64, "a" * 63]:
        with pytest.raises(InvalidBlobName):
            store.path(bad)


def test_delete(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha, _ = store.put(b"gone soon")
    assert store.delete(sha)
    assert not store.exists(sha)
    assert not store.delete(sha)
