"""The SDK's exception tree and how error responses map onto it (see ``memos.client``)."""

from __future__ import annotations

from typing import Any

import httpx


class MemOSClientError(Exception):
    """Base of every error the SDK raises."""


class APIConnectionError(MemOSClientError):
    """The server could not be reached (after the retries), or the connection broke mid-request."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class APIError(MemOSClientError):
    """The server answered with an error status; ``error`` and ``detail`` come from its JSON body."""

    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(f"{status} {error}: {detail}" if detail is not None else f"{status} {error}")
        self.status = status
        self.error = error
        self.detail = detail


class AuthenticationError(APIError):
    """401: missing, invalid or revoked API key."""


class PermissionDeniedError(APIError):
    """403: the key may not do this (e.g. a tenant route called with the admin key, or a read-only grant)."""


class NotFoundError(APIError):
    """404: no such resource, or one that belongs to another tenant."""


class ConflictError(APIError):
    """409: e.g. a duplicate cube name, or ``expected_version`` no longer current."""


class ValidationError(APIError):
    """422 (invalid input) or 413 (content, batch or page too large)."""


class ServerError(APIError):
    """5xx: the server failed or is unavailable."""


_STATUS_ERRORS: dict[int, type[APIError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    422: ValidationError,
}


def error_for(response: httpx.Response) -> APIError:
    """Map an error response (``{"error", "detail"}``, or FastAPI's ``{"detail"}``) to the exception tree."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = str(body.get("error") or _default_error(response.status_code))
        detail = body.get("detail")
    else:
        error, detail = _default_error(response.status_code), response.text or None
    if response.status_code >= 500:
        return ServerError(response.status_code, error, detail)
    return _STATUS_ERRORS.get(response.status_code, APIError)(response.status_code, error, detail)


def _default_error(status: int) -> str:
    """``"not_found"`` for 404 and so on: the server's error names, for bodies that carry none."""
    phrase = httpx.codes.get_reason_phrase(status) or "error"
    return "validation_error" if status == 422 else phrase.lower().replace(" ", "_")
