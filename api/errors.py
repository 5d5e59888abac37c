"""Error handlers: ``MemOSError`` -> ``{"error", "detail"}`` with its status; validation keeps FastAPI's 422."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError

from memos.errors import MemOSError

log = logging.getLogger(__name__)


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` for the errors a route can return."""
    from memcube.schemas import ErrorBody

    return {code: {"model": ErrorBody} for code in codes}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MemOSError)
    async def _memos_error(_request: Request, exc: MemOSError) -> JSONResponse:
        body = {"error": exc.error, "detail": exc.detail if exc.detail is not None else exc.message}
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value (out-of-range time, malformed text): the input's fault.
        message = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        return JSONResponse({"error": "invalid_input", "detail": message}, status_code=422)

    @app.exception_handler(OperationalError)
    async def _db_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return JSONResponse({"error": "unavailable", "detail": "database unavailable"}, status_code=503)
