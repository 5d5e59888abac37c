"""Errors of activation memory, in the one ``MemOSError`` tree (the API maps them to their status)."""

from __future__ import annotations

from memos.errors import Conflict, InvalidInput, MemOSError, NotFound


class UnknownModel(NotFound):
    """No model of that name in ``MEMOS_MODELS`` (nor the built-in ``tiny``)."""

    error = "unknown_model"


class ModelUnavailable(MemOSError):
    """A configured model could not be loaded (missing files, a format transformers cannot read)."""

    status_code = 503
    error = "model_unavailable"


class FingerprintMismatch(Conflict):
    """A snapshot was made by another model (weights, config or tokenizer differ): never injected."""

    error = "fingerprint_mismatch"


class SnapshotNotFound(NotFound):
    """The snapshot's blob is not in the store."""

    error = "snapshot_not_found"


class InvalidSnapshot(InvalidInput):
    """Bytes that are not a KV snapshot this version can read (wrong format, inconsistent shapes)."""

    error = "invalid_snapshot"
