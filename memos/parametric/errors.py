"""Errors of parametric memory, in the one ``MemOSError`` tree (the API maps them to their status)."""

from __future__ import annotations

from memos.errors import Conflict, InvalidInput, NotFound


class InvalidAdapter(InvalidInput):
    """An upload that is not a PEFT LoRA adapter this server can serve (unreadable config or weights,
    another adapter type, options mixed batches cannot serve)."""

    error = "invalid_adapter"


class AdapterMismatch(InvalidInput):
    """A readable adapter that does not fit the base model (target modules it lacks, wrong shapes)."""

    error = "adapter_mismatch"


class AdapterNotFound(NotFound):
    error = "adapter_not_found"


class AdapterNotReady(Conflict):
    """The adapter has no weights yet (its training job has not finished, or failed)."""

    error = "adapter_not_ready"
