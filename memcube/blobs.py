"""Content-addressed payloads on disk (KV snapshots, LoRA weights): ``root/ab/abcdef...`` by sha256.

Postgres holds what a payload is (size, dtype, model, fingerprint); this store holds its bytes. A payload's
name is the sha256 of its bytes, so writing the same payload twice stores it once, a name never changes
meaning, and readers need no lock: a file appears under its name complete (temp file + rename) or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path

_SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobNotFound(FileNotFoundError):
    """No payload with that hash in the store."""


class InvalidBlobName(ValueError):
    """Not a lowercase sha256 hex digest (so never a path outside the store)."""


class BlobStore:
    """Payloads by sha256 under ``root``; safe for concurrent writers in threads and processes."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the payload ``sha256`` lives (whether or not it exists)."""
        if not _SHA256.fullmatch(sha256):
            raise InvalidBlobName(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes) -> tuple[str, int]:
        """Store ``data``; returns its sha256 and size. Idempotent: an existing payload is not rewritten."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.is_file() and target.stat().st_size == len(data):
            return digest, len(data)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{digest[:8]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())  # the bytes are on disk before the name points at them
            os.replace(tmp, target)  # atomic; a concurrent writer of the same payload writes the same bytes
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return digest, len(data)

    def get(self, sha256: str, *, verify: bool = False) -> bytes:
        """The payload's bytes; ``verify`` re-hashes them (``BlobNotFound`` if they no longer match)."""
        try:
            data = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256}") from None
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise BlobNotFound(f"blob {sha256} is corrupt (its bytes hash differently)")
        return data

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {sha256}") from None

    def delete(self, sha256: str) -> bool:
        """Remove the payload (garbage collection, once no record names it); whether it existed."""
        try:
            self.path(sha256).unlink()
        except FileNotFoundError:
            return False
        return True
