"""Error handlers: ``MemOSError`` -> ``{"error", "detail"}`` with its status; validation keeps FastAPI's 422."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from memos.errors import MemOSError

log = logging.getLogger(__name__)


def error_responses(*codes: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI ``responses=`` for the errors a route can return."""
    from memcube.schemas import ErrorBody

    return {code: {"model": ErrorBody} for code in codes}


def _echoable(value: Any) -> bool:
    """Whether a validation error may echo the offending input. Containers are not echoed: they can hold
    NaN (which strict JSON cannot encode) or nest deep enough to exhaust the encoder's recursion."""
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


def validation_detail(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's 422 ``detail`` list, with only the inputs that are safe to echo back."""
    items = [{k: v for k, v in err.items() if k != "input" or _echoable(v)} for err in errors]
    detail: list[dict[str, Any]] = jsonable_encoder(items)
    return detail


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler, except that a body holding NaN or deep nesting must not turn a 422 into a 500.
        return JSONResponse({"detail": validation_detail(exc.errors())}, status_code=422)

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

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Requests check what they refer to before writing; a violation here means another request changed
        # it in between (a cube deleted while memories were being added to it): a conflict, not a crash.
        sqlstate = getattr(exc.orig, "sqlstate", None)
        diag = getattr(exc.orig, "diag", None)
        # Logged: a violation that is not a race (a reference nobody checked) is a bug to find.
        log.warning("integrity error %s on %s: %s", sqlstate, getattr(diag, "constraint_name", None),
                    str(exc.orig).splitlines()[0] if exc.orig else exc)
        if sqlstate == "23503":  # foreign_key_violation
            detail = "something this request refers to was deleted by another request meanwhile"
        elif sqlstate == "23505":  # unique_violation
            detail = "another request created the same record meanwhile"
        else:
            raise exc  # a bug, not a race: the server error path (logged, 500)
        return JSONResponse({"error": "conflict", "detail": detail}, status_code=409)

    @app.exception_handler(OperationalError)
    async def _db_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc)
        return JSONResponse({"error": "unavailable", "detail": "database unavailable"}, status_code=503)
