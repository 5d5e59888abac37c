"""One exception tree. The API turns any ``MemOSError`` into ``{"error": ..., "detail": ...}`` with its status."""

from __future__ import annotations

from typing import Any


class MemOSError(Exception):
    status_code = 400
    error = "bad_request"

    def __init__(self, message: str, *, detail: Any = None, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code


class Unauthorized(MemOSError):
    status_code = 401
    error = "unauthorized"


class Forbidden(MemOSError):
    status_code = 403
    error = "forbidden"


class NotFound(MemOSError):
    status_code = 404
    error = "not_found"


class Conflict(MemOSError):
    status_code = 409
    error = "conflict"


class PayloadTooLarge(MemOSError):
    status_code = 413
    error = "payload_too_large"


class InvalidInput(MemOSError):
    status_code = 422
    error = "invalid_input"
